package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// proc is a child process the run starts, kills, pauses and restarts.
type proc struct {
	name string
	bin  string
	args func() []string // read at each start: a node's clock offset changes
	env  []string
	log  string // file the process's output is appended to

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
}

// start starts the process; ready reports when it serves.
func (p *proc) start(ctx context.Context, ready func(context.Context) error) error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: already running", p.name)
	}
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	cmd := exec.Command(p.bin, p.args()...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: a Ctrl-C to the run reaches the run, which
	// then stops its children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(exited) }()
	p.cmd, p.exited, p.paused = cmd, exited, false
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		select {
		case <-exited:
			p.mu.Lock()
			p.cmd = nil
			p.mu.Unlock()
			return fmt.Errorf("%s exited at start (log: %s)", p.name, p.log)
		default:
		}
		if err := ready(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			p.kill()
			return fmt.Errorf("%s not ready in time (log: %s)", p.name, p.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// kill ends the process at once, as a crash or an OOM kill would.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	p.wait()
}

// stop asks the process to shut down and waits for it.
func (p *proc) stop() {
	p.mu.Lock()
	paused := p.paused
	p.mu.Unlock()
	if paused {
		p.resume()
	}
	p.signal(syscall.SIGTERM)
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		p.kill()
	}
	p.wait()
}

func (p *proc) wait() {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return
	}
	<-exited
	p.mu.Lock()
	p.cmd, p.exited, p.paused = nil, nil, false
	p.mu.Unlock()
}

func (p *proc) signal(s syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(s)
	}
}

// pause freezes the process (SIGSTOP): its sockets stay open and silent.
func (p *proc) pause() {
	p.signal(syscall.SIGSTOP)
	p.mu.Lock()
	p.paused = p.cmd != nil
	p.mu.Unlock()
}

func (p *proc) resume() {
	p.signal(syscall.SIGCONT)
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Node is one parley serve process.
type Node struct {
	Index int
	Addr  string // where it listens (clients reach it through a Proxy)
	proc

	offMu  sync.Mutex
	offset time.Duration // its clock's offset, given again at each start
}

// Offset is how far ahead of the wall clock the node's clock runs.
func (n *Node) Offset() time.Duration {
	n.offMu.Lock()
	defer n.offMu.Unlock()
	return n.offset
}

// URL is the node's own base URL.
func (n *Node) URL() string { return "http://" + n.Addr }

func (n *Node) ready(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz %d", resp.StatusCode)
	}
	return nil
}

// Start starts the node and waits until it is ready.
func (n *Node) Start(ctx context.Context) error { return n.start(ctx, n.ready) }

// Restart starts the node again and again until it is ready, as a
// process supervisor would (systemd's Restart=on-failure): a node that
// starts while PostgreSQL is unreachable exits at once, rightly.
func (n *Node) Restart(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		err := n.Start(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		if !sleep(ctx, time.Second) {
			return err
		}
	}
}

// Advance moves the node's clock forward by d. The node must be running;
// a start after this keeps the new offset either way.
func (n *Node) Advance(ctx context.Context, d time.Duration) error {
	n.offMu.Lock()
	n.offset += d
	n.offMu.Unlock()
	var err error
	for range 30 {
		if err = n.postAdvance(ctx, d); err == nil {
			return nil
		}
		if !sleep(ctx, time.Second) {
			break
		}
	}
	return err
}

func (n *Node) postAdvance(ctx context.Context, d time.Duration) error {
	body, _ := json.Marshal(map[string]int64{"advance_ms": d.Milliseconds()})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.URL()+"/debug/clock", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("node %d: POST /debug/clock: %d", n.Index, resp.StatusCode)
	}
	return nil
}

// freeAddr returns a loopback address nothing listens on now. A process
// started on it later could lose a race for it; starts are retried.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// redisServer is a Redis of the run's own, so that restarting it (and
// losing everything in it, as a Redis without persistence does) touches
// nothing else on the machine.
type redisServer struct {
	Addr string
	proc
}

func newRedis(dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed for a cluster run: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	r := &redisServer{Addr: addr}
	r.proc = proc{name: "redis", bin: bin, log: filepath.Join(dir, "redis.log"), args: func() []string {
		return []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--daemonize", "no"}
	}}
	return r, nil
}

func (r *redisServer) Start(ctx context.Context) error { return r.start(ctx, dialReady(r.Addr)) }

// dialReady reports ready once addr accepts a TCP connection.
func dialReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// s3Server is a versitygw serving a directory of the run's.
type s3Server struct {
	Addr, AccessKey, SecretKey string
	proc
}

func newS3(dir string) (*s3Server, error) {
	bin := os.Getenv("VERSITYGW")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("versitygw"); err != nil {
			return nil, errors.New("versitygw is needed for a cluster run (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0, or set $VERSITYGW)")
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "s3")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	s := &s3Server{Addr: addr, AccessKey: "parleychaos", SecretKey: "chaos-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	s.proc = proc{name: "versitygw", bin: bin, log: filepath.Join(dir, "versitygw.log"), args: func() []string {
		return []string{"--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.Addr, "posix", root}
	}}
	return s, nil
}

func (s *s3Server) Start(ctx context.Context) error { return s.start(ctx, dialReady(s.Addr)) }
