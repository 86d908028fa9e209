package config

import (
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/parleychat/parley/internal/limits"
)

// AbuseConfig names every limit that keeps one client, address or account
// from taking the server for itself. Each is on by default with a value a
// real deployment wants; 0 turns it off (docs/OPERATIONS.md, "Limits and
// abuse"). Tests and `parley bench` turn off only the ones they must.
type AbuseConfig struct {
	// AuthRateLimit is password attempts (logins and registrations) per
	// client address per minute: each costs an argon2id hash.
	AuthRateLimit int
	// LoginFailureLimit is failed logins to one account before its logins
	// back off (1 min, doubling to 15 min).
	LoginFailureLimit int
	// PasswordHashQueue bounds attempts waiting for a password hash slot;
	// past it they are refused with 429 instead of queueing.
	PasswordHashQueue int
	// LookupRate is lookups by username (GET /api/v1/users?username=) per
	// user per minute, found or not, with a burst of LookupBurst: the
	// directory of names must not be scraped by trying names.
	LookupRate  int
	LookupBurst int
	// MaxBotsPerUser bounds the bot accounts one user owns at once
	// (POST /api/v1/bots): each is an account and a session that never
	// expires, so one user must not mint them by the thousand.
	MaxBotsPerUser int

	// MaxConns bounds TCP connections to the node; AutoMaxConns derives it
	// from the open-file limit.
	MaxConns        int
	MaxConnsPerIP   int
	MaxConnsPerUser int
	// UserSendRate and UserSendBurst bound message frames per user per
	// second, across all its connections to the node.
	UserSendRate  float64
	UserSendBurst int
	// UserReceiptRate and UserReceiptBurst bound receipts sent over REST
	// (POST .../read, .../delivered) per user per second; on the
	// WebSocket the frame rate bounds them.
	UserReceiptRate  float64
	UserReceiptBurst int
	// MaxPendingSends bounds the node's sends handed to the group
	// committer and not yet committed, every user together; past it a
	// send is refused with rate_limited and retry_after_ms instead of
	// queueing. Not one client's abuse but the node's overload: without it
	// sends past the committer's capacity wait without bound.
	MaxPendingSends int
	// MaxSendWait lowers MaxPendingSends adaptively, so that admitted
	// sends wait about this long for their commit on average, on any
	// machine and engine (0: the count alone). 40 ms keeps the 99th
	// percentile send→deliver at about 100 ms with twice the load the
	// server commits offered (docs/PERFORMANCE.md).
	MaxSendWait time.Duration

	// HTTP timeouts; WebSockets are not subject to them once upgraded.
	HTTPReadTimeout  time.Duration
	HTTPWriteTimeout time.Duration
	HTTPIdleTimeout  time.Duration

	// TrustedProxies may name the client in X-Forwarded-For; empty: the
	// TCP peer is the client.
	TrustedProxies limits.Proxies
}

// AutoMaxConns is the MaxConns that means "the open-file limit minus a
// reserve for the database, logs and media files".
const AutoMaxConns = -1

// DefaultAbuse returns the limits `parley serve` runs with.
func DefaultAbuse() AbuseConfig {
	return AbuseConfig{
		// One address: a login every 2 s for a whole office or carrier NAT,
		// where a guesser had hundreds a second.
		AuthRateLimit: 30,
		// Ten typos are a person; more is a guesser.
		LoginFailureLimit: 10,
		// 4 hashes run at once: 16 waiting is at most ~4 hash times of
		// queueing (0.1–1 s), past which waiting is worse than a retry.
		PasswordHashQueue: 16,
		// Starting a chat or a group takes a few lookups; 30 a minute is
		// a person adding a whole group by hand, and a scraper trying
		// names gets 43,200 a day instead of thousands a second.
		LookupRate:  30,
		LookupBurst: 30,
		// A handful of helpers and integrations per person, with room to
		// spare; a farm of accounts is not what bots are for.
		MaxBotsPerUser: 20,
		MaxConns:       AutoMaxConns,
		// A NAT of a few hundred users still connects; one address cannot
		// hold the node.
		MaxConnsPerIP: 500,
		// 5 devices with a few browser tabs each.
		MaxConnsPerUser: 32,
		// Far beyond typing or forwarding; the burst lets a client resend
		// a full window of unacknowledged sends (256) after a reconnect.
		UserSendRate:  30,
		UserSendBurst: 300,
		// A client marks a chat read once per view, a bot a few times a
		// second at most; each call is a commit job naming up to 1,000 ids.
		UserReceiptRate:  10,
		UserReceiptBurst: 100,
		// About what the group committer clears in 100 ms (8,000–12,000
		// messages/s on 2 cores, docs/PERFORMANCE.md): a send admitted at
		// the bound waits about that for its ack. It is also two full
		// batches (--max-batch 512), so the next batch is full while one
		// commits and the bound costs no throughput. Past it a client is
		// told when to come back instead of queueing. `parley bench
		// latency --rate 5000` (1,000 users sending and reading, about
		// twice the ~2,800 messages/s they can commit): p99 send→deliver
		// 1.5 s with it, 18.7 s and growing after 10 s without (55 s at
		// 10,000 offered for 20 s, docs/PERFORMANCE.md), and more acked
		// with it (2,849 vs 2,057 messages/s).
		MaxPendingSends:  1024,
		MaxSendWait:      40 * time.Millisecond,
		HTTPReadTimeout:  60 * time.Second,
		HTTPWriteTimeout: 60 * time.Second,
		HTTPIdleTimeout:  120 * time.Second,
	}
}

// registerAbuseFlags adds the abuse limits' flags to fs.
func registerAbuseFlags(fs *flag.FlagSet, a *AbuseConfig) {
	fs.IntVar(&a.AuthRateLimit, "auth-rate-limit", a.AuthRateLimit, "password logins and registrations per client address per minute (0: off)")
	fs.IntVar(&a.LoginFailureLimit, "login-failure-limit", a.LoginFailureLimit, "failed logins to one account before its logins back off, 1 min doubling to 15 min (0: off)")
	fs.IntVar(&a.PasswordHashQueue, "password-hash-queue", a.PasswordHashQueue, "logins and registrations waiting for a password hash before more are refused (0: unbounded)")
	fs.IntVar(&a.LookupRate, "lookup-rate", a.LookupRate, "lookups of users by username per user per minute, found or not (0: off)")
	fs.IntVar(&a.LookupBurst, "lookup-burst", a.LookupBurst, "burst of lookups by username above the lookup rate")
	fs.IntVar(&a.MaxBotsPerUser, "max-bots-per-user", a.MaxBotsPerUser, "bot accounts one user may own at once (0: off)")
	fs.Var((*connsFlag)(&a.MaxConns), "max-conns", `TCP connections to this node: "auto" (the open-file limit less a reserve) or a number (0: off)`)
	fs.IntVar(&a.MaxConnsPerIP, "max-conns-per-ip", a.MaxConnsPerIP, "WebSocket connections per client address on this node; TCP connections get a quarter more (0: off)")
	fs.IntVar(&a.MaxConnsPerUser, "max-conns-per-user", a.MaxConnsPerUser, "WebSocket connections per user on this node (0: off)")
	fs.Float64Var(&a.UserSendRate, "user-send-rate", a.UserSendRate, "messages per second one user may send, all its connections together (0: off)")
	fs.IntVar(&a.UserSendBurst, "user-send-burst", a.UserSendBurst, "burst of messages above the user send rate")
	fs.Float64Var(&a.UserReceiptRate, "user-receipt-rate", a.UserReceiptRate, "receipts per second one user may send over REST (0: off)")
	fs.IntVar(&a.UserReceiptBurst, "user-receipt-burst", a.UserReceiptBurst, "burst of REST receipts above the user receipt rate")
	fs.DurationVar(&a.MaxSendWait, "max-send-wait", a.MaxSendWait, "lower --max-pending-sends adaptively so that admitted sends wait about this long for their commit (0: the count alone)")
	fs.IntVar(&a.MaxPendingSends, "max-pending-sends", a.MaxPendingSends, "messages waiting for their commit on this node, all users together, before more are refused with retry_after_ms (0: unbounded)")
	fs.DurationVar(&a.HTTPReadTimeout, "http-read-timeout", a.HTTPReadTimeout, "longest read of one HTTP request, body included (0: off)")
	fs.DurationVar(&a.HTTPWriteTimeout, "http-write-timeout", a.HTTPWriteTimeout, "longest write of one HTTP response (0: off)")
	fs.DurationVar(&a.HTTPIdleTimeout, "http-idle-timeout", a.HTTPIdleTimeout, "an idle keep-alive HTTP connection is closed after this (0: off)")
	fs.Func("trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For names the client (default: none, the TCP peer is the client)", func(s string) error {
		ps, err := limits.ParseProxies(s)
		a.TrustedProxies = ps
		return err
	})
}

// validate reports abuse settings that cannot work.
func (a AbuseConfig) validate() []error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(a.AuthRateLimit >= 0, "auth-rate-limit must not be negative (0 turns it off)")
	check(a.LoginFailureLimit >= 0, "login-failure-limit must not be negative (0 turns it off)")
	check(a.PasswordHashQueue >= 0, "password-hash-queue must not be negative (0: unbounded)")
	check(a.LookupRate >= 0, "lookup-rate must not be negative (0 turns it off)")
	check(a.LookupRate == 0 || a.LookupBurst >= 1, "lookup-burst must be at least 1 while lookup-rate is on")
	check(a.MaxBotsPerUser >= 0, "max-bots-per-user must not be negative (0 turns it off)")
	check(a.MaxConns >= AutoMaxConns, `max-conns must be "auto", 0 (off) or positive`)
	check(a.MaxConnsPerIP >= 0, "max-conns-per-ip must not be negative (0 turns it off)")
	check(a.MaxConnsPerUser >= 0, "max-conns-per-user must not be negative (0 turns it off)")
	check(a.UserSendRate >= 0, "user-send-rate must not be negative (0 turns it off)")
	check(a.UserSendRate == 0 || a.UserSendBurst >= 1, "user-send-burst must be at least 1 while user-send-rate is on")
	check(a.UserReceiptRate >= 0, "user-receipt-rate must not be negative (0 turns it off)")
	check(a.UserReceiptRate == 0 || a.UserReceiptBurst >= 1, "user-receipt-burst must be at least 1 while user-receipt-rate is on")
	check(a.MaxSendWait >= 0, "max-send-wait must not be negative (0: off)")
	check(a.MaxPendingSends >= 0, "max-pending-sends must not be negative (0: unbounded)")
	check(a.HTTPReadTimeout >= 0 && a.HTTPWriteTimeout >= 0 && a.HTTPIdleTimeout >= 0,
		"http-read-timeout, http-write-timeout and http-idle-timeout must not be negative (0 turns one off)")
	return errs
}

// connsFlag is --max-conns: "auto" or a number.
type connsFlag int

func (f *connsFlag) String() string {
	if f == nil || int(*f) == AutoMaxConns {
		return "auto"
	}
	return strconv.Itoa(int(*f))
}

func (f *connsFlag) Set(s string) error {
	if s == "auto" {
		*f = AutoMaxConns
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf(`want "auto" or a number of connections, 0 for no cap`)
	}
	*f = connsFlag(n)
	return nil
}

// LogValue lists the limits as they are in force, for the start-up line
// (0: off). MaxConns is as given; "auto" is resolved by the app.
func (a AbuseConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("auth_rate_limit", a.AuthRateLimit),
		slog.Int("login_failure_limit", a.LoginFailureLimit),
		slog.Int("password_hash_queue", a.PasswordHashQueue),
		slog.Int("lookup_rate", a.LookupRate),
		slog.Int("lookup_burst", a.LookupBurst),
		slog.Int("max_bots_per_user", a.MaxBotsPerUser),
		slog.String("max_conns", (*connsFlag)(&a.MaxConns).String()),
		slog.Int("max_conns_per_ip", a.MaxConnsPerIP),
		slog.Int("max_conns_per_user", a.MaxConnsPerUser),
		slog.Float64("user_send_rate", a.UserSendRate),
		slog.Int("user_send_burst", a.UserSendBurst),
		slog.Float64("user_receipt_rate", a.UserReceiptRate),
		slog.Int("user_receipt_burst", a.UserReceiptBurst),
		slog.Int("max_pending_sends", a.MaxPendingSends),
		slog.String("max_send_wait", a.MaxSendWait.String()),
		slog.String("http_read_timeout", a.HTTPReadTimeout.String()),
		slog.String("http_write_timeout", a.HTTPWriteTimeout.String()),
		slog.String("http_idle_timeout", a.HTTPIdleTimeout.String()),
		slog.Int("trusted_proxies", len(a.TrustedProxies)),
	)
}
