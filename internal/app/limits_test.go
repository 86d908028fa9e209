package app_test

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/limits"
)

// from returns an HTTP client whose connections come from the loopback
// address src (any 127.0.0.0/8 address is this host): another client
// address, as far as the server can tell.
func from(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// refused fails unless err is a 429 rate_limited that says when to retry.
func refused(t *testing.T, err error, retry time.Duration, what string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.Code != "rate_limited" {
		t.Fatalf("%s: %v, want 429 rate_limited", what, err)
	}
	if (retry > 0 && e.RetryAfter != retry) || e.RetryAfter <= 0 {
		t.Fatalf("%s: Retry-After %s, want %s", what, e.RetryAfter, retry)
	}
}

// TestAuthAttemptsLimitedPerAddress: logins and registrations share a
// budget per client address; past it they get 429 with Retry-After,
// before any password is hashed; other addresses are not affected.
func TestAuthAttemptsLimitedPerAddress(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.Abuse.AuthRateLimit = 3 // a minute: one back every 20 s
	srv := apptest.Start(t, cfg, clk)
	c := srv.Client()
	const pass = "correct horse battery"
	if _, err := c.Register(ctx, "ann", pass, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, "ann", pass); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, "ben", pass, ""); err != nil {
		t.Fatal(err)
	}
	_, err := c.Register(ctx, "cat", pass, "")
	refused(t, err, 20*time.Second, "a fourth registration in a minute")
	_, err = c.Login(ctx, "ann", pass)
	refused(t, err, 20*time.Second, "a login after three attempts")

	other := client.New(srv.URL)
	other.HTTP = from("127.0.0.2")
	if _, err := other.Register(ctx, "cat", pass, ""); err != nil {
		t.Fatalf("another address: %v", err)
	}
	clk.Advance(20 * time.Second)
	if _, err := c.Login(ctx, "ann", pass); err != nil {
		t.Fatalf("20 s later: %v", err)
	}
	_, err = c.Login(ctx, "ann", pass)
	refused(t, err, 20*time.Second, "the next one")
	if _, err := c.Login(ctx, "cat", "wrong password!"); client.ErrorCode(err) != "rate_limited" {
		t.Fatalf("a refused attempt must not reach the password check: %v", err)
	}
	if body := metricsBody(t, srv); !strings.Contains(body, `parley_limited_total{limit="auth_per_ip"} 4`) {
		t.Fatal("the refusals were not counted as auth_per_ip")
	}
}

// TestFailedLoginsBackOff: past the failure limit an account's logins
// get 429 with a growing Retry-After, the right password included; the
// wait ends (a backoff, not a lock), a success clears it, other accounts
// and unknown names are treated alike.
func TestFailedLoginsBackOff(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.Abuse.LoginFailureLimit = 3
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	c := srv.Client()
	const right = "correct horse battery" // apptest's password
	wrong := func(name string, n int) {
		t.Helper()
		for i := range n {
			if _, err := c.Login(ctx, name, "not the password"); client.ErrorCode(err) != "unauthorized" {
				t.Fatalf("wrong password %d for %s: %v, want unauthorized", i+1, name, err)
			}
		}
	}
	wrong(alice.Username, 3)
	_, err := c.Login(ctx, alice.Username, right)
	refused(t, err, time.Minute, "the right password after 3 failures")
	// The same for a name no account has: a 429 tells nothing a 401 hides.
	wrong("nobody-here", 3)
	_, err = c.Login(ctx, "nobody-here", "not the password")
	refused(t, err, time.Minute, "an unknown name after 3 failures")
	if _, err := c.Login(ctx, bob.Username, right); err != nil {
		t.Fatalf("another account: %v", err)
	}
	// Each failure past the limit doubles the wait.
	clk.Advance(time.Minute)
	wrong(alice.Username, 1)
	_, err = c.Login(ctx, strings.ToUpper(alice.Username), right) // names compare case-insensitively
	refused(t, err, 2*time.Minute, "after a fourth failure")
	// Once the wait is over the right password works, and clears the count.
	clk.Advance(2 * time.Minute)
	if _, err := c.Login(ctx, alice.Username, right); err != nil {
		t.Fatalf("the right password after the wait: %v", err)
	}
	wrong(alice.Username, 2)
	if _, err := c.Login(ctx, alice.Username, right); err != nil {
		t.Fatalf("two failures after a success: %v", err)
	}
	body := metricsBody(t, srv)
	for _, want := range []string{"parley_login_failures_total 9", `parley_limited_total{limit="login_failures"} 3`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestWebSocketsCappedPerUserAndAddress: the upgrade past a user's or an
// address's cap is refused with 429 before upgrading; closing one makes
// room; other addresses are not affected.
func TestWebSocketsCappedPerUserAndAddress(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.Abuse.MaxConnsPerUser, cfg.Abuse.MaxConnsPerIP = 2, 3
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	first := alice.Dial(ctx)
	alice.Dial(ctx)
	_, err := alice.API.Dial(ctx, client.DialOptions{})
	refused(t, err, 0, "a user's third WebSocket")
	// A refused dial left nothing open: bob still has the address's third.
	bob.Dial(ctx)
	_, err = bob.API.Dial(ctx, client.DialOptions{})
	refused(t, err, 0, "an address's fourth WebSocket")
	if _, err := bob.API.Dial(ctx, client.DialOptions{HTTPClient: from("127.0.0.2")}); err != nil {
		t.Fatalf("from another address: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// The server gives the place back once it has closed its side.
	for {
		c, err := alice.API.Dial(ctx, client.DialOptions{})
		if err == nil {
			c.Abort()
			break
		}
		if client.ErrorCode(err) != "rate_limited" || ctx.Err() != nil {
			t.Fatalf("after closing one: %v", err)
		}
	}
	body := metricsBody(t, srv)
	for _, want := range []string{`parley_limited_total{limit="ws_per_user"}`, `parley_limited_total{limit="ws_per_ip"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestUserSendRateAcrossConnections: a user's message frames share one
// budget across its connections; past it each is refused with an error
// frame rate_limited carrying its client_message_id and the wait until
// the bucket has a message again, nothing is stored, and the connection
// stays open; resent later, it is stored once.
func TestUserSendRateAcrossConnections(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.Abuse.UserSendRate, cfg.Abuse.UserSendBurst = 1, 3
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	// The SDK would resend after the hint, on a clock the test does not
	// move: these connections return the refusal instead.
	noRetry := func(c *client.Client) *client.Conn {
		conn, err := c.Dial(ctx, client.DialOptions{SendRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(conn.Abort)
		return conn
	}
	c1, c2 := noRetry(alice.API), noRetry(alice.NewDevice(ctx))
	for i, c := range []*client.Conn{c1, c1, c2} {
		if _, err := c.SendMessage(ctx, text(string(rune('a'+i)), conv.ConversationID, "hi")); err != nil {
			t.Fatalf("message %d of the burst: %v", i+1, err)
		}
	}
	for _, c := range []*client.Conn{c2, c1} {
		_, err := c.SendMessage(ctx, text("d", conv.ConversationID, "one too many"))
		var e *client.Error
		if !errors.As(err, &e) || e.Code != "rate_limited" || e.RetryAfter != time.Second {
			t.Fatalf("past the burst: %v, want rate_limited with retry_after_ms 1000", err)
		}
	}
	// SendMessage matched the error to its client_message_id; the
	// connection is still open.
	if err := c1.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Next(ctx, "heartbeat_ack"); err != nil {
		t.Fatalf("connection closed after rate_limited: %v", err)
	}
	clk.Advance(time.Second)
	ack, err := c2.SendMessage(ctx, text("d", conv.ConversationID, "one too many"))
	if err != nil || ack.SequenceNumber != 4 {
		t.Fatalf("resent a second later: %+v, %v; want sequence 4", ack, err)
	}
	hist, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
	if err != nil || len(hist) != 4 {
		t.Fatalf("history has %d messages, %v; want 4", len(hist), err)
	}
}

// headerTransport adds X-Forwarded-For to every request, as a reverse
// proxy would.
type headerTransport struct{ xff string }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", h.xff)
	return http.DefaultTransport.RoundTrip(r)
}

// TestTrustedProxiesNameTheClient: behind a trusted proxy the limits
// count the address X-Forwarded-For names; from any other peer the header
// is ignored, so a client cannot pick its own address.
func TestTrustedProxiesNameTheClient(t *testing.T) {
	ctx := testCtx(t)
	viaProxy := func(base, xff string) *client.Client {
		c := client.New(base)
		c.HTTP = &http.Client{Transport: headerTransport{xff}}
		return c
	}
	const pass = "correct horse battery"
	for _, trusted := range []bool{true, false} {
		cfg := apptest.Config(t)
		cfg.Abuse.AuthRateLimit, cfg.Abuse.MaxConnsPerIP = 1, 1
		if trusted {
			ps, err := limits.ParseProxies("127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Abuse.TrustedProxies = ps
		}
		srv := apptest.Start(t, cfg, nil)
		a, b := viaProxy(srv.URL, "198.51.100.1"), viaProxy(srv.URL, "198.51.100.2")
		if _, err := a.Register(ctx, "ann", pass, ""); err != nil {
			t.Fatal(err)
		}
		_, err := b.Register(ctx, "ben", pass, "")
		if trusted && err != nil {
			t.Fatalf("behind a trusted proxy, another client's registration: %v", err)
		}
		if !trusted {
			refused(t, err, 0, "an untrusted peer naming another client")
			continue
		}
		_, err = a.Login(ctx, "ann", pass)
		refused(t, err, 0, "the first client's second attempt")
		sa, err := viaProxy(srv.URL, "198.51.100.3").Login(ctx, "ann", pass)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := viaProxy(srv.URL, "198.51.100.4").Login(ctx, "ben", pass)
		if err != nil {
			t.Fatal(err)
		}
		// WebSockets are counted per named client too.
		apptest.Dial(ctx, t, a.WithToken(sa.Token))
		_, err = a.WithToken(sb.Token).Dial(ctx, client.DialOptions{})
		refused(t, err, 0, "a second WebSocket of one client address")
		apptest.Dial(ctx, t, b.WithToken(sb.Token))
	}
}
