package app_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
)

// rawConn opens a TCP connection to srv from the loopback address src.
func rawConn(t *testing.T, srv *apptest.Server, src string) net.Conn {
	t.Helper()
	return dialFrom(t, strings.TrimPrefix(srv.URL, "http://"), src)
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, addr, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawRequest writes a request on c and reads its answer.
func rawRequest(t *testing.T, c net.Conn, req string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("write request: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second)) // bounds a failing test only
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return resp
}

// healthy fails unless /healthz answers on a fresh connection from src.
func healthy(t *testing.T, srv *apptest.Server, src, when string) {
	t.Helper()
	resp := rawRequest(t, rawConn(t, srv, src), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz %s: %s", when, resp.Status)
	}
}

// closedByServer waits until the server closes c; the deadline only
// bounds a failing test.
func closedByServer(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(25 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: still open, want it closed by the server", what)
	}
}

// TestIdleConnectionFloodLeavesRoomForHealthz: idle TCP connections (the
// 1,050 that once exhausted the file limit) are capped per client address
// at accept time, and at the node's total cap a new connection takes the
// place of the longest idle one, so /healthz and logins still work.
func TestIdleConnectionFloodLeavesRoomForHealthz(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.Abuse.MaxConnsPerIP = 4 // WebSockets; TCP connections get 4+8
	cfg.Abuse.MaxConns = 30
	srv := apptest.Start(t, cfg, nil)
	alice := srv.NewUser(ctx, "alice")

	const perIP = 12
	flood := make([]net.Conn, perIP)
	for i := range flood {
		flood[i] = rawConn(t, srv, "127.0.0.2")
	}
	closedByServer(t, rawConn(t, srv, "127.0.0.2"), "a connection past the address's cap")
	// Closed at accept, not by a timeout: the address's first connection,
	// opened before it, is still served.
	resp := rawRequest(t, flood[0], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp.Body.Close()
	healthy(t, srv, "127.0.0.1", "during a flood from one address")

	// Floods from more addresses reach the node's cap of 30; each new
	// connection closes the longest idle one instead of being refused.
	for _, src := range []string{"127.0.0.3", "127.0.0.4"} {
		for range perIP {
			rawConn(t, srv, src)
		}
	}
	healthy(t, srv, "127.0.0.1", "at the node's connection cap")
	// A login on a connection of its own: the shared client's pooled
	// connections were idle, so the cap may have closed them, and a POST
	// on one the client has not yet seen closed fails without a retry —
	// a flake that says nothing about the server.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	fresh := srv.Client()
	fresh.HTTP = &http.Client{Transport: tr}
	if _, err := fresh.Login(ctx, alice.Username, "correct horse battery"); err != nil {
		t.Fatalf("login at the node's connection cap: %v", err)
	}
	closedByServer(t, flood[1], "the longest idle connection at the node's cap")
	body := metricsBody(t, srv)
	for _, want := range []string{`parley_limited_total{limit="conns_per_ip"} 1`, `parley_limited_total{limit="conns_idle_closed"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestWebSocketsLeaveRoomForHTTP: WebSockets are capped below the node's
// connection cap, so HTTP still has room when they are all taken.
func TestWebSocketsLeaveRoomForHTTP(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.Abuse.MaxConns = 12 // half of it for WebSockets at this size
	srv := apptest.Start(t, cfg, nil)
	alice := srv.NewUser(ctx, "alice")
	for range 6 {
		alice.Dial(ctx)
	}
	_, err := alice.API.Dial(ctx, client.DialOptions{})
	refused(t, err, 0, "a WebSocket past the node's WebSocket cap")
	healthy(t, srv, "127.0.0.1", "with every WebSocket taken")
	if _, err := alice.API.Conversations(ctx); err != nil {
		t.Fatalf("an API call with every WebSocket taken: %v", err)
	}
	if _, err := srv.Client().Login(ctx, alice.Username, "correct horse battery"); err != nil {
		t.Fatalf("a login with every WebSocket taken: %v", err)
	}
}

// TestHTTPTimeoutsSpareWebSockets: an idle keep-alive connection and a
// request whose body stalls are closed by the HTTP timeouts (they were
// kept forever), while a WebSocket upgraded before them and an upload to
// a signed URL that began before them both outlive them.
func TestHTTPTimeoutsSpareWebSockets(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.Abuse.HTTPReadTimeout, cfg.Abuse.HTTPWriteTimeout, cfg.Abuse.HTTPIdleTimeout = time.Second, time.Second, time.Second
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ws := alice.Dial(ctx)

	// An upload that sends half its bytes now and the rest after the
	// timeouts have passed.
	const size = 4096
	up, err := alice.API.CreateMedia(ctx, "text/plain", size)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	uploaded := make(chan error, 1)
	go func() { uploaded <- alice.API.Upload(ctx, up, pr, size) }()
	if _, err := pw.Write([]byte(strings.Repeat("a", size/2))); err != nil {
		t.Fatal(err)
	}

	idle := rawConn(t, srv, "127.0.0.1")
	resp := rawRequest(t, idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp.Body.Close()
	closedByServer(t, idle, "an idle keep-alive connection")
	stalled := rawConn(t, srv, "127.0.0.1")
	if _, err := io.WriteString(stalled, "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"user"); err != nil {
		t.Fatal(err)
	}
	closedByServer(t, stalled, "a request whose body stalls")

	// Both timeouts have fired since the WebSocket was upgraded: it reads
	// and writes as before.
	if _, err := ws.SendMessage(ctx, text("after", conv.ConversationID, "still here")); err != nil {
		t.Fatalf("the WebSocket after the HTTP timeouts: %v", err)
	}
	if _, err := pw.Write([]byte(strings.Repeat("b", size/2))); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-uploaded; err != nil {
		t.Fatalf("an upload slower than the HTTP timeouts: %v", err)
	}
}

// TestUnauthenticatedUpgradeIsRefusedBeforeUpgrading: a WebSocket
// handshake without a valid token is answered 401 with the JSON error
// body; the server never upgrades a socket it has not authenticated.
func TestUnauthenticatedUpgradeIsRefusedBeforeUpgrading(t *testing.T) {
	srv := apptest.Start(t, apptest.Config(t), nil)
	for name, query := range map[string]string{"no token": "", "bad token": "?token=nope"} {
		resp := rawRequest(t, rawConn(t, srv, "127.0.0.1"), fmt.Sprintf("GET /ws%s HTTP/1.1\r\nHost: x\r\n"+
			"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", query))
		var eb struct {
			Error struct{ Code string } `json:"error"`
		}
		err := json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || err != nil || eb.Error.Code != "unauthorized" {
			t.Fatalf("%s: %s, code %q (%v); want 401 unauthorized and no upgrade", name, resp.Status, eb.Error.Code, err)
		}
	}
}

// TestIdleFloodUnderTheFileLimitWithDefaults replays the incident with
// the defaults: `parley serve` with 256 open files and 300 idle
// connections from one address. It used to fail accept4 with "too many
// open files" and stop answering /healthz; with --max-conns auto it caps
// connections below the file limit and closes idle ones to make room.
func TestIdleFloodUnderTheFileLimitWithDefaults(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command("sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, parleyBinary(t),
		"serve", "--addr", addr, "--data-dir", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// Wait for the server to say it serves, and with which cap.
	var serving struct {
		Msg      string `json:"msg"`
		MaxConns int    `json:"max_conns"`
	}
	lines := bufio.NewScanner(stderr)
	for serving.Msg != "serving" {
		if !lines.Scan() {
			t.Fatalf("the server exited before serving: %v", lines.Err())
		}
		_ = json.Unmarshal(lines.Bytes(), &serving)
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	// The test's deadline starts now: building the binary took its own
	// time, long on a loaded machine.
	ctx := testCtx(t)
	if serving.MaxConns != 256-64 {
		t.Fatalf("max_conns %d with 256 open files, want 192", serving.MaxConns)
	}
	for range 300 {
		dialFrom(t, addr, "127.0.0.2")
	}
	hc := &http.Client{Timeout: 10 * time.Second} // bounds a failing test only
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("/healthz during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz during the flood: %s", resp.Status)
	}
	if _, err := client.New("http://"+addr).Register(ctx, "alice", "correct horse battery", ""); err != nil {
		t.Fatalf("a registration during the flood: %v", err)
	}
}
