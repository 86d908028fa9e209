package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parleychat/parley/client"
)

// password of every bench user; the child server hashes it cheaply.
const password = "bench password 1234"

// user is a registered, logged-in user.
type user struct {
	client.User
	api *client.Client
}

// newUsers registers and logs in n users, SetupConcurrency at a time.
// Setup is not measured.
func (e *env) newUsers(ctx context.Context, n int) ([]*user, error) {
	users := make([]*user, n)
	var done atomic.Int64
	start := time.Now()
	nodes := append([]string{e.url}, e.opt.Nodes...)
	err := parallel(ctx, n, e.opt.SetupConcurrency, func(ctx context.Context, i int) error {
		c := &client.Client{BaseURL: strings.TrimRight(nodes[i%len(nodes)], "/"), HTTP: e.http}
		name := fmt.Sprintf("%s%d", e.prefix, i)
		u, err := c.Register(ctx, name, password, name)
		if err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
		s, err := c.Login(ctx, name, password)
		if err != nil {
			return fmt.Errorf("login %s: %w", name, err)
		}
		users[i] = &user{User: u, api: c.WithToken(s.Token)}
		if k := done.Add(1); n >= 2000 && k%(int64(n)/10) == 0 {
			e.logf("setup: %d/%d users registered and logged in (%s)", k, n, time.Since(start).Round(time.Second))
		}
		return nil
	})
	return users, err
}

// pair is a sender and a recipient sharing a 1:1 conversation.
type pair struct {
	from, to *user
	conv     string
}

// newPairs creates n pairs of fresh users.
func (e *env) newPairs(ctx context.Context, n int) ([]pair, error) {
	users, err := e.newUsers(ctx, 2*n)
	if err != nil {
		return nil, err
	}
	pairs := make([]pair, n)
	err = parallel(ctx, n, e.opt.SetupConcurrency, func(ctx context.Context, i int) error {
		from, to := users[2*i], users[2*i+1]
		c, err := from.api.CreateDirect(ctx, to.UserID)
		if err != nil {
			return fmt.Errorf("create conversation: %w", err)
		}
		pairs[i] = pair{from: from, to: to, conv: c.ConversationID}
		return nil
	})
	return pairs, err
}

// parallel runs fn(0..n-1), at most limit at a time, and returns the first
// error (which cancels the rest).
func parallel(ctx context.Context, n, limit int, fn func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i := range n {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}

// dialer opens WebSocket connections, spread over several loopback
// source addresses when the server is on loopback: one source address
// and one server address offer only the ~28,000 ports of the ephemeral
// range.
type dialer struct {
	clients []*http.Client
	// nets dial the same source addresses for the lean generator, which
	// writes its handshake itself.
	nets []*net.Dialer
	next atomic.Uint64
}

func (e *env) newDialer(conns int) (*dialer, error) {
	n := e.opt.SourceAddrs
	if n <= 0 {
		n = (conns + 19_999) / 20_000
	}
	u, err := url.Parse(e.url)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	ip := net.ParseIP(u.Hostname())
	loop4 := ip != nil && ip.IsLoopback() && ip.To4() != nil
	if !loop4 || n < 1 {
		n = 1
	}
	if n > 250 {
		return nil, fmt.Errorf("at most 250 source addresses, got %d", n)
	}
	d := &dialer{}
	for i := range n {
		nd := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}
		if loop4 && n > 1 {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		d.nets = append(d.nets, nd)
		d.clients = append(d.clients, &http.Client{Transport: &http.Transport{
			DialContext: nd.DialContext,
			// An upgraded connection never returns to the pool.
			MaxIdleConnsPerHost: -1,
		}})
	}
	return d, nil
}

// dial connects u, round-robin over the source addresses.
func (d *dialer) dial(ctx context.Context, u *user, opt client.DialOptions) (*client.Conn, error) {
	opt.HTTPClient = d.clients[d.next.Add(1)%uint64(len(d.clients))]
	return u.api.Dial(ctx, opt)
}
