package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// parleyBinary builds cmd/parley once per test run.
func parleyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "parley-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "parley")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/parley").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// child is a `parley serve` process.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dataDir, addr string, extra ...string) *child {
	t.Helper()
	// Senders resend everything they tried at once after a restart: the
	// per-user send rate is off, as in apptest.Config.
	args := append([]string{"serve", "--addr", addr, "--data-dir", dataDir,
		"--password-memory-kib", "64", "--password-time", "1", "--user-send-rate", "0"}, extra...)
	cmd := exec.Command(parleyBinary(t), args...)
	cmd.Stderr = os.Stderr
	if !testingVerbose() {
		cmd.Stderr = nil
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, addr: addr}
	t.Cleanup(func() { c.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("child server did not become healthy: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func testingVerbose() bool { return os.Getenv("PARLEY_TEST_LOG") != "" }

// TestCrashKeepsEveryAckedMessage kills `parley serve` with SIGKILL while
// clients send, restarts it, and checks Guarantee 1 and 2: every message
// acknowledged before the kill is stored and delivered exactly once, and
// resending an unacknowledged message with its key never makes a second
// copy.
func TestCrashKeepsEveryAckedMessage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dataDir, addr := t.TempDir(), freeAddr(t)
	srv := startChild(t, dataDir, addr)
	api := client.New("http://" + addr)

	mk := func(name string) (*client.Client, string) {
		if _, err := api.Register(ctx, name, "crash test password", name); err != nil {
			t.Fatal(err)
		}
		s, err := api.Login(ctx, name, "crash test password")
		if err != nil {
			t.Fatal(err)
		}
		return api.WithToken(s.Token), s.UserID
	}
	bob, bobID := mk("bob")
	const senders = 4
	var (
		mu    sync.Mutex
		acked = map[string]client.Ack{} // client_message_id -> ack
		tried = map[string]string{}     // client_message_id -> conversation
	)
	var convs []string
	var apis []*client.Client
	for i := range senders {
		a, _ := mk(fmt.Sprintf("sender%d", i))
		conv, err := a.CreateDirect(ctx, bobID)
		if err != nil {
			t.Fatal(err)
		}
		convs = append(convs, conv.ConversationID)
		apis = append(apis, a)
	}

	// Senders send until the connection dies under them.
	var wg sync.WaitGroup
	enoughAcks := make(chan struct{})
	var once sync.Once
	for i := range senders {
		conn, err := apis[i].Dial(ctx, client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for w := range 4 { // 4 in flight per sender
			wg.Go(func() {
				for j := 0; ; j++ {
					key := fmt.Sprintf("s%d-w%d-%d", i, w, j)
					mu.Lock()
					tried[key] = convs[i]
					mu.Unlock()
					ack, err := conn.SendMessage(ctx, text(key, convs[i], key))
					if err != nil {
						return
					}
					mu.Lock()
					acked[key] = ack
					n := len(acked)
					mu.Unlock()
					if n >= 400 {
						once.Do(func() { close(enoughAcks) })
					}
				}
			})
		}
	}
	select {
	case <-enoughAcks:
	case <-ctx.Done():
		t.Fatal("senders never reached 400 acks")
	}
	srv.kill() // SIGKILL, mid-stream
	wg.Wait()
	t.Logf("killed with %d acked of %d tried", len(acked), len(tried))

	startChild(t, dataDir, addr)
	// Each sender resends every message it tried, acked or not, with the
	// same key: acked ones must come back with the same id and seq.
	for i := range senders {
		conn, err := apis[i].Dial(ctx, client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for key, conv := range tried {
			if conv != convs[i] {
				continue
			}
			ack, err := conn.SendMessage(ctx, text(key, conv, key))
			if err != nil {
				t.Fatalf("resend %s: %v", key, err)
			}
			if first, ok := acked[key]; ok && (first.MessageID != ack.MessageID || first.SequenceNumber != ack.SequenceNumber) {
				t.Fatalf("%s acked as %+v before the crash and %+v after", key, first, ack)
			}
		}
		conn.Close()
	}

	// Bob was offline throughout: he receives every message exactly once,
	// each conversation gap-free and in order.
	bc, err := bob.Dial(ctx, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	seen := map[string]bool{}
	lastSeq := map[string]int64{}
	for len(seen) < len(tried) {
		f, err := bc.Next(ctx, "message")
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(seen), len(tried), err)
		}
		if seen[f.Content] {
			t.Fatalf("%s delivered twice", f.Content)
		}
		seen[f.Content] = true
		if f.SequenceNumber != lastSeq[f.ConversationID]+1 {
			t.Fatalf("conversation %s: seq %d after %d", f.ConversationID, f.SequenceNumber, lastSeq[f.ConversationID])
		}
		lastSeq[f.ConversationID] = f.SequenceNumber
	}
	for key, ack := range acked {
		if !seen[key] {
			t.Fatalf("acked message %s (%s) was lost", key, ack.MessageID)
		}
	}
	// And nothing more: the store holds exactly one message per key.
	total := 0
	for _, conv := range convs {
		msgs, err := bob.Messages(ctx, conv, client.HistoryOptions{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		total += len(msgs)
	}
	if total != len(tried) {
		t.Fatalf("store holds %d messages for %d keys", total, len(tried))
	}
	if err := bc.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "message", "heartbeat_ack"); err != nil || f.Type != "heartbeat_ack" {
		t.Fatalf("extra frame after all messages: %+v, %v", f, err)
	}
}
