package limits

import (
	"container/list"
	"io"
	"net"
	"net/http"
	"sync"
)

// ListenerConfig caps the TCP connections a Listener holds. A zero cap is
// off.
type ListenerConfig struct {
	// MaxConns bounds all connections: it keeps the process below its
	// open-file limit, with room for the database, logs and media files.
	MaxConns int
	// MaxConnsPerIP bounds the connections of one client address (IPKey
	// of the TCP peer).
	MaxConnsPerIP int
	// Exempt peers are not capped per address: they are trusted reverse
	// proxies, which carry many clients' connections.
	Exempt Proxies
	// Limited, if set, is told each time a cap refuses a connection or
	// closes an idle one: "conns_total", "conns_per_ip" or "conns_idle_closed".
	Limited func(limit string)
}

// Listener wraps a net.Listener with connection caps counted at accept
// time, before a connection costs more than its descriptor: one past a
// cap is closed at once. At the total cap a new connection first takes the
// place of the longest-idle HTTP connection (connected but not in a
// request, as http.Server reports through ConnState), so a flood of idle
// sockets cannot keep /healthz or a login out; only when every connection
// is busy is the new one refused.
//
// Give its ConnState method to the http.Server that serves it.
type Listener struct {
	net.Listener
	cfg ListenerConfig

	mu   sync.Mutex
	n    int
	byIP map[string]int
	idle list.List // of *conn: open and not in a request, longest idle at the front
}

// NewListener wraps ln.
func NewListener(ln net.Listener, cfg ListenerConfig) *Listener {
	return &Listener{Listener: ln, cfg: cfg, byIP: map[string]int{}}
}

// Conns is how many connections are open.
func (l *Listener) Conns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Accept returns the next connection within the caps; connections past a
// cap are closed here and never reach the server.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, victim, refused := l.admit(nc)
		if victim != nil {
			_ = victim.Conn.Close()
			l.limited("conns_idle_closed")
		}
		if c != nil {
			return c, nil
		}
		_ = nc.Close()
		l.limited(refused)
	}
}

func (l *Listener) limited(name string) {
	if l.cfg.Limited != nil {
		l.cfg.Limited(name)
	}
}

// admit counts nc in, or says which cap refuses it. At the total cap it
// picks an idle connection to close instead (the caller closes it).
func (l *Listener) admit(nc net.Conn) (c, victim *conn, refused string) {
	addr := nc.RemoteAddr().String()
	key := ""
	if l.cfg.MaxConnsPerIP > 0 && !l.cfg.Exempt.ContainsAddr(addr) {
		key = IPKey(addr)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if key != "" && l.byIP[key] >= l.cfg.MaxConnsPerIP {
		return nil, nil, "conns_per_ip"
	}
	if l.cfg.MaxConns > 0 && l.n >= l.cfg.MaxConns {
		front := l.idle.Front()
		if front == nil {
			return nil, nil, "conns_total"
		}
		victim = front.Value.(*conn)
		l.releaseLocked(victim)
	}
	l.n++
	if key != "" {
		l.byIP[key]++
	}
	c = &conn{Conn: nc, l: l, key: key}
	// Until the server reports a request on it, a new connection is idle.
	c.elem = l.idle.PushBack(c)
	return c, victim, ""
}

// ConnState is the http.Server hook that tells the listener which
// connections are idle.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released {
		return
	}
	switch state {
	case http.StateIdle:
		if c.elem == nil {
			c.elem = l.idle.PushBack(c)
		}
	case http.StateActive, http.StateHijacked:
		// In a request, or a WebSocket now: not for the taking.
		if c.elem != nil {
			l.idle.Remove(c.elem)
			c.elem = nil
		}
	}
}

func (l *Listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked(c)
}

func (l *Listener) releaseLocked(c *conn) {
	if c.released {
		return
	}
	c.released = true
	l.n--
	if c.key != "" {
		decr(l.byIP, c.key)
	}
	if c.elem != nil {
		l.idle.Remove(c.elem)
		c.elem = nil
	}
}

// conn is an admitted connection; closing it gives its place back.
type conn struct {
	net.Conn
	l   *Listener
	key string // "" when not counted per address

	// Guarded by l.mu.
	released bool
	elem     *list.Element // in l.idle while idle
}

func (c *conn) Close() error {
	c.l.release(c)
	return c.Conn.Close()
}

// CloseWrite keeps http.Server's graceful close of a TCP connection (it
// half-closes before closing when the connection can).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the sendfile path of http.ServeContent (media downloads).
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}
