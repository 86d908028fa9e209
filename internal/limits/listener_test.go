package limits

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

// testServer is an http.Server on a Listener: /ok answers at once, /hold
// waits until the test ends, /hijack takes the connection over and holds
// it.
type testServer struct {
	ln      *Listener
	addr    string
	holding chan struct{} // a /hold request has started
	closed  chan struct{} // the server closed a connection
}

func serve(t *testing.T, cfg ListenerConfig) *testServer {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, cfg)
	ts := &testServer{ln: ln, addr: inner.Addr().String(), holding: make(chan struct{}, 10), closed: make(chan struct{}, 100)}
	stop := make(chan struct{})
	var (
		mu       sync.Mutex
		hijacked []net.Conn
	)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
		ts.holding <- struct{}{}
		<-stop
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		mu.Lock()
		hijacked = append(hijacked, c)
		mu.Unlock()
	})
	srv := &http.Server{Handler: mux, ConnState: func(c net.Conn, s http.ConnState) {
		ln.ConnState(c, s)
		if s == http.StateClosed {
			ts.closed <- struct{}{}
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		close(stop)
		_ = srv.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range hijacked {
			c.Close()
		}
	})
	return ts
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get makes a request on c and fails unless it is answered with 200.
func get(t *testing.T, c net.Conn, path string) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
}

// send writes a request on c without reading the answer.
func send(t *testing.T, c net.Conn, path string) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
}

// closedByServer fails unless the server closes c. The deadline only
// bounds a failing test: a connection the listener refuses is closed at
// accept time.
func closedByServer(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		t.Fatalf("%s: still open (%v), want it closed by the server", what, err)
	}
}

func TestListenerCapsPerAddress(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	ts := serve(t, ListenerConfig{MaxConnsPerIP: 2, Exempt: Proxies{mustPrefix("127.0.0.3/32")}, Limited: func(l string) {
		mu.Lock()
		hits[l]++
		mu.Unlock()
	}})
	addr := ts.addr
	a := dialFrom(t, "127.0.0.2", addr)
	b := dialFrom(t, "127.0.0.2", addr)
	over := dialFrom(t, "127.0.0.2", addr)
	closedByServer(t, over, "a third connection from one address")
	// The address's first two, and other addresses, are served.
	get(t, a, "/ok")
	get(t, b, "/ok")
	get(t, dialFrom(t, "127.0.0.1", addr), "/ok")
	// An exempt peer (a trusted proxy) is not capped per address.
	for range 3 {
		get(t, dialFrom(t, "127.0.0.3", addr), "/ok")
	}
	// Closing one gives its place back.
	a.Close()
	<-ts.closed
	get(t, dialFrom(t, "127.0.0.2", addr), "/ok")
	mu.Lock()
	defer mu.Unlock()
	if hits["conns_per_ip"] != 1 {
		t.Fatalf("limit hits %v, want conns_per_ip once", hits)
	}
}

func TestListenerAtTotalCapClosesTheLongestIdle(t *testing.T) {
	addr := serve(t, ListenerConfig{MaxConns: 3}).addr
	idle := []net.Conn{dialFrom(t, "127.0.0.2", addr), dialFrom(t, "127.0.0.3", addr), dialFrom(t, "127.0.0.4", addr)}
	// At the cap, a new connection still gets in (the server accepts in
	// the order the connections arrived): the oldest idle one makes room.
	get(t, dialFrom(t, "127.0.0.1", addr), "/ok")
	closedByServer(t, idle[0], "the longest idle connection")
	get(t, idle[1], "/ok")
	get(t, idle[2], "/ok")
}

func TestListenerNeverClosesBusyConnections(t *testing.T) {
	ts := serve(t, ListenerConfig{MaxConns: 2})
	addr := ts.addr
	ws := dialFrom(t, "127.0.0.1", addr)
	get(t, ws, "/hijack") // a WebSocket, as far as the listener knows
	busy := dialFrom(t, "127.0.0.1", addr)
	send(t, busy, "/hold")
	<-ts.holding
	closedByServer(t, dialFrom(t, "127.0.0.1", addr), "a connection past the cap with none idle")
	// The busy ones were left alone.
	if _, err := io.WriteString(ws, "still here"); err != nil {
		t.Fatalf("the hijacked connection was closed: %v", err)
	}
	if n := ts.ln.Conns(); n != 2 {
		t.Fatalf("%d connections counted, want 2", n)
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
