package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ChildArgs are the flags the harness gives the server it starts, after
// --addr and --data-dir. The cheap password hash only speeds up setup,
// where thousands of users register and log in; no measured path hashes a
// password. The rate limit and queue bound are raised so the harness
// measures the server's capacity, not its per-connection abuse limits.
// Of the other abuse limits, off are only those the harness must pass:
// setup registers and logs in thousands of users from one address, 64 at
// a time (past the password hash queue); every connection comes from
// loopback; a sender sends as fast as its window allows. The caps on
// total connections (from the file limit) and per user stay on.
var ChildArgs = []string{
	"--password-memory-kib", "64", "--password-time", "1",
	"--rate-limit", "1000000", "--rate-burst", "1000000",
	"--max-queue", "65536",
	"--auth-rate-limit", "0", "--password-hash-queue", "0",
	"--max-conns-per-ip", "0", "--user-send-rate", "0",
}

// child is a server the harness started and owns.
type child struct {
	cmd  *exec.Cmd
	dir  string
	url  string
	logs *tail
	done chan struct{}
	err  error // set before done is closed
}

// startChild runs `exe serve` on a free loopback port with a fresh data
// directory and waits until /healthz answers.
func startChild(ctx context.Context, exe string, extra []string, pprof bool) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "parley-bench-")
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := append([]string{"serve", "--addr", addr, "--data-dir", dir}, ChildArgs...)
	if pprof {
		args = append(args, "--pprof")
	}
	args = append(args, extra...)
	// Not CommandContext: the harness stops the child itself, gracefully.
	cmd := exec.Command(exe, args...)
	logs := &tail{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s serve: %w", exe, err)
	}
	c := &child{cmd: cmd, dir: dir, url: "http://" + addr, logs: logs, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	if err := c.waitHealthy(ctx, 30*time.Second); err != nil {
		_ = c.stop()
		return nil, err
	}
	return c, nil
}

func (c *child) waitHealthy(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/healthz", nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("server exited before it was healthy (%v); its output:\n%s", c.err, c.logs)
		case <-ctx.Done():
			return fmt.Errorf("server not healthy at %s: %w; its output:\n%s", c.url, ctx.Err(), c.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop asks the server to shut down (SIGTERM), kills it if it takes too
// long, and removes its data directory.
func (c *child) stop() error {
	var errs []error
	select {
	case <-c.done:
	default:
		if c.cmd.Process.Signal(syscall.SIGTERM) != nil {
			_ = c.cmd.Process.Kill()
		}
		select {
		case <-c.done:
		case <-time.After(20 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
			errs = append(errs, errors.New("server did not stop within 20s of SIGTERM: killed"))
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove data dir: %w", err))
	}
	return errors.Join(errs...)
}

// exited reports whether the server is gone, with its output if so.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("server exited during the run (%v); its output:\n%s", c.err, c.logs)
	default:
		return nil
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last max bytes written to it: the child's log, shown
// only when something goes wrong.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

var _ io.Writer = (*tail)(nil)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ is
// 100 on every Linux architecture Go supports.
const userHZ = 100

// procWrites returns how many write system calls (write, writev, pwrite:
// to sockets and to files alike) a process has made, from /proc.
func procWrites(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	v := procField(string(b), "syscw", ":")
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/io: syscw: %w", pid, err)
	}
	return n, nil
}

// procCPU returns a process's user+system CPU time from /proc.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'. utime and stime are fields 14 and 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return float64(ut+st) / userHZ, nil
}

// machineBusy returns the CPU time all processes have used, from the
// aggregate line of /proc/stat (user, nice, system, irq, softirq, steal).
func machineBusy() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: unexpected format")
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += v
	}
	return float64(busy) / userHZ, nil
}

// procMem returns a process's resident set and its high-water mark.
func procMem(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	rk, ok1 := parseKB(procField(string(b), "VmRSS", ":"))
	hk, ok2 := parseKB(procField(string(b), "VmHWM", ":"))
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
	}
	return rk << 10, hk << 10, nil
}

// procFileLimit returns a process's soft RLIMIT_NOFILE from /proc.
func procFileLimit(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if f[0] == "unlimited" {
					return 1 << 62, nil
				}
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/limits: no open files line", pid)
}

// procField returns the value of the first "key<sep> value" line.
func procField(text, key, sep string) string {
	for line := range strings.Lines(text) {
		k, v, ok := strings.Cut(line, sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parseKB parses "1234 kB".
func parseKB(s string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(s, "kB")), 10, 64)
	return n, err == nil
}
