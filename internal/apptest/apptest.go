// Package apptest starts real Parley servers for tests: in-process on a
// random loopback port with a real SQLite file, talking real HTTP and
// WebSocket through the public client package.
package apptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/identity"
)

// Config returns a configuration for tests: a fresh data dir and a cheap
// password hash (the real cost is argon2id's default; tests register many
// users and run under -race).
func Config(t testing.TB) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	cfg.Hash = identity.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}
	cfg.ShutdownGrace = 5 * time.Second
	cfg.PresenceGrace = 0 // offline frames at once; the grace has its own test
	// Every test client comes from 127.0.0.1 and many register, connect
	// and send like machines: the limits per client address and per user's
	// sends are off. The rest stay on, as in production; their own tests
	// turn them down.
	cfg.Abuse.AuthRateLimit = 0
	cfg.Abuse.MaxConnsPerIP = 0
	cfg.Abuse.UserSendRate = 0
	return cfg
}

// Server is a running in-process server.
type Server struct {
	t     testing.TB
	Cfg   config.Config
	Clock clock.Clock
	URL   string
	// AdminURL is the admin listener's base URL with Cfg.AdminAddr set
	// (such as "127.0.0.1:0"), else "".
	AdminURL string
	App      *app.App
	// Log, if set before start (StartLogged), is the server's logger.
	Log    *slog.Logger
	cancel context.CancelFunc
	done   chan error
}

// Start starts a server with cfg (see Config) and stops it when the test
// ends. clk may be nil for the wall clock.
func Start(t testing.TB, cfg config.Config, clk clock.Clock) *Server {
	t.Helper()
	s := &Server{t: t, Cfg: cfg, Clock: clk}
	s.start()
	t.Cleanup(func() { s.Stop() })
	return s
}

// StartLogged is Start with the server logging to log: for tests of
// what it logs.
func StartLogged(t testing.TB, cfg config.Config, clk clock.Clock, log *slog.Logger) *Server {
	t.Helper()
	s := &Server{t: t, Cfg: cfg, Clock: clk, Log: log}
	s.start()
	t.Cleanup(func() { s.Stop() })
	return s
}

func (s *Server) start() {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := s.Log
	if log == nil {
		log = Logger(s.t)
	}
	a, err := app.New(ctx, s.Cfg, log, s.Clock)
	if err != nil {
		cancel()
		s.t.Fatalf("start server: %v", err)
	}
	adminAddr, err := a.ListenAdmin()
	if err != nil {
		cancel()
		s.t.Fatalf("start server: %v", err)
	}
	if adminAddr != nil {
		// Restarts reuse the port, as for the public one.
		s.Cfg.AdminAddr = adminAddr.String()
		s.AdminURL = "http://" + adminAddr.String()
	}
	addr := s.Cfg.Addr
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		cancel()
		s.t.Fatalf("listen: %v", err)
	}
	// Restarts reuse the port, so clients can reconnect to the same URL.
	s.Cfg.Addr = ln.Addr().String()
	s.URL = "http://" + ln.Addr().String()
	s.App, s.cancel, s.done = a, cancel, make(chan error, 1)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	// Started means ready: a test's first request must not find the
	// server still starting.
	select {
	case <-a.Serving():
		s.done = served
	case err := <-served:
		s.done = make(chan error, 1)
		s.done <- err
	}
}

// Stop shuts the server down gracefully; calling it twice is harmless.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	// A connection the test's HTTP client dialed but never used (its
	// transport dials ahead when requests run concurrently) is one the
	// server's Shutdown waits up to 5 s for, as for any client that
	// connects and says nothing: closed here, it does not make a busy
	// machine's shutdown outlast its grace.
	http.DefaultClient.CloseIdleConnections()
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("server stopped with: %v", err)
	}
	s.cancel = nil
}

// Restart stops the server and starts it again on the same data dir and
// port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Client returns an unauthenticated client for the server.
func (s *Server) Client() *client.Client { return client.New(s.URL) }

// User is a registered, logged-in test user.
type User struct {
	client.User
	Session client.Session
	API     *client.Client
	pass    string
	srv     *Server
}

var userSeq atomic.Int64

// NewUser registers and logs in a user with a unique name.
func (s *Server) NewUser(ctx context.Context, prefix string) *User {
	s.t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, userSeq.Add(1))
	const pass = "correct horse battery"
	c := s.Client()
	u, err := c.Register(ctx, name, pass, strings.ToUpper(prefix[:1])+prefix[1:])
	if err != nil {
		s.t.Fatalf("register %s: %v", name, err)
	}
	sess, err := c.Login(ctx, name, pass)
	if err != nil {
		s.t.Fatalf("login %s: %v", name, err)
	}
	return &User{User: u, Session: sess, API: c.WithToken(sess.Token), pass: pass, srv: s}
}

// Password is the user's password.
func (u *User) Password() string { return u.pass }

// NewDevice logs the user in again: a second device with its own token.
func (u *User) NewDevice(ctx context.Context) *client.Client {
	u.srv.t.Helper()
	return u.NewDeviceOn(ctx, u.srv)
}

// NewDeviceOn logs the user in on srv (another node of its cluster): a
// device of its own, talking to that node.
func (u *User) NewDeviceOn(ctx context.Context, srv *Server) *client.Client {
	u.srv.t.Helper()
	sess, err := srv.Client().Login(ctx, u.Username, u.pass)
	if err != nil {
		u.srv.t.Fatalf("login %s: %v", u.Username, err)
	}
	return srv.Client().WithToken(sess.Token)
}

// Dial connects the user's first device; the connection closes with the test.
func (u *User) Dial(ctx context.Context) *client.Conn {
	u.srv.t.Helper()
	return Dial(ctx, u.srv.t, u.API)
}

// Dial connects c; the connection closes with the test.
func Dial(ctx context.Context, t testing.TB, c *client.Client) *client.Conn {
	t.Helper()
	conn, err := c.Dial(ctx, client.DialOptions{})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Abort() })
	return conn
}

// Logger returns a logger that writes to the test log only when -v is
// given, so failures stay readable.
func Logger(t testing.TB) *slog.Logger {
	if !testing.Verbose() || os.Getenv("PARLEY_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
