// Package config builds Parley's configuration from command-line flags and
// PARLEY_* environment variables, and validates it. Nothing here is global:
// Load returns a value that the app passes down.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/wire"
)

// Config is everything `parley serve` can be told.
type Config struct {
	Addr string
	// AdminAddr, when set, is the admin listener's address: /metrics,
	// /healthz, /readyz and /debug/pprof are served there and not on Addr.
	AdminAddr string
	DataDir   string
	// Store is "" for SQLite in DataDir, or a postgres:// URL.
	Store string
	// StorePoolSize bounds a node's connections to PostgreSQL.
	StorePoolSize int
	// Redis, a redis:// URL, makes this node one of a cluster: events and
	// presence go between nodes through it. RedisPrefix namespaces its
	// keys and channels; NodeID names this node (default: random).
	Redis       string
	RedisPrefix string
	NodeID      string
	// NodeLease is how long a node counts as alive without a heartbeat to
	// Redis: a dead node's users go offline within about this.
	NodeLease time.Duration

	Retention time.Duration
	// CleanupInterval is the time between retention cleanup passes;
	// CleanupBatch bounds the rows one cleanup transaction deletes.
	CleanupInterval time.Duration
	CleanupBatch    int
	// ExpireInterval is the time between the light passes that delete
	// disappearing messages past their expires_at (and messages past the
	// retention), between the full passes: how late, at most, a
	// disappearing message leaves the store (reads hide it on time).
	ExpireInterval time.Duration

	Limits           wire.Limits
	HeartbeatTimeout time.Duration
	// PresenceGrace delays the offline frame after a clean close, so a
	// quick reconnect shows peers no blip.
	PresenceGrace time.Duration
	// TypingTimeout ends a "composing" state that is not refreshed.
	TypingTimeout time.Duration
	WriteTimeout  time.Duration
	MaxQueue      int
	MaxInflight   int
	RateLimit     float64
	RateBurst     int

	SessionTTL time.Duration
	// SessionCheck is how often a node looks up whether the sessions of
	// its open connections still exist (0: never), catching a sign-out
	// whose live event was lost between nodes.
	SessionCheck time.Duration
	MaxDevices   int
	// SessionCacheEntries and PresenceCacheEntries bound the sessions (by
	// token) and users' presence settings a node holds in memory, so that
	// a connect needs no query for them (0: off, every connect asks the
	// store). CacheMaxAge bounds how long an entry is served: how long an
	// invalidation lost between nodes can leave one stale (0: no bound,
	// embedded mode only).
	SessionCacheEntries  int
	PresenceCacheEntries int
	CacheMaxAge          time.Duration
	MaxGroupSize         int
	Hash                 identity.HashParams

	Media MediaConfig
	Abuse AbuseConfig
	Push  PushConfig
	// Webhook configures bots' webhooks.
	Webhook WebhookConfig

	MaxBatch      int
	ShutdownGrace time.Duration
	LogLevel      slog.Level
	Pprof         bool
	// AccessLog writes one info line per HTTP request (internal/app,
	// httplog.go).
	AccessLog bool
	// DebugClock lets POST /debug/clock on the operator's endpoints move
	// the server's clock forward (clock.Offset), so that a fault test
	// sees retention expire messages within a short run; DebugClockOffset
	// starts the clock that far ahead. For fault testing only.
	DebugClock       bool
	DebugClockOffset time.Duration
}

// Default returns the configuration `parley serve` runs with when told
// nothing.
func Default() Config {
	return Config{
		Addr:             "127.0.0.1:8080",
		DataDir:          "./data",
		RedisPrefix:      "parley:",
		NodeLease:        15 * time.Second,
		Retention:        30 * 24 * time.Hour,
		CleanupInterval:  5 * time.Minute,
		CleanupBatch:     1000,
		ExpireInterval:   30 * time.Second,
		Limits:           wire.DefaultLimits(),
		HeartbeatTimeout: 60 * time.Second,
		PresenceGrace:    3 * time.Second,
		TypingTimeout:    6 * time.Second,
		WriteTimeout:     10 * time.Second,
		MaxQueue:         8192,
		MaxInflight:      256,
		RateLimit:        1000,
		RateBurst:        2000,
		SessionTTL:       30 * 24 * time.Hour,
		SessionCheck:     time.Minute,
		MaxDevices:       wire.DefaultMaxDevices,
		// About 300 bytes a session and 100 a user's settings: 30 MB and
		// 10 MB when full.
		SessionCacheEntries:  100_000,
		PresenceCacheEntries: 100_000,
		CacheMaxAge:          time.Minute,
		MaxGroupSize:         wire.DefaultMaxGroupSize,
		Hash:                 identity.DefaultHashParams,
		Abuse:                DefaultAbuse(),
		Webhook:              defaultWebhook(),
		MaxBatch:             512,
		StorePoolSize:        16,
		ShutdownGrace:        10 * time.Second,
		LogLevel:             slog.LevelInfo,
		AccessLog:            true,
	}
}

// MinRetention is the shortest retention the server accepts.
const MinRetention = time.Second

// MaxHeartbeatTimeout is the contract's bound: a user whose heartbeats stop
// is offline within 60 s.
const MaxHeartbeatTimeout = 60 * time.Second

// Load parses args (without the subcommand) and the environment (getenv,
// usually os.Getenv) over the defaults. A flag given on the command line
// wins over its PARLEY_* variable.
func Load(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := Default()
	fs, finish := flags(name, &c, stderr)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		key := EnvName(f.Name)
		if v := getenv(key); v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %w", key, v, err))
			}
		}
	})
	if envErr != nil {
		return Config{}, envErr
	}
	if err := finish(); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// flags registers every setting's flag on a new flag set, over c; finish
// copies the values parsed into flags of other types into c.
func flags(name string, c *Config, stderr io.Writer) (fs *flag.FlagSet, finish func() error) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "address of the admin listener serving /metrics, /healthz, /readyz and /debug/pprof instead of --addr (default: off, they stay on --addr)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the database and media")
	fs.StringVar(&c.Store, "store", c.Store, `where state lives: "" for SQLite in --data-dir, or postgres://user@host/db`)
	fs.IntVar(&c.StorePoolSize, "store-pool-size", c.StorePoolSize, "connections a node keeps to PostgreSQL (its application_name is \"parley <node-id>\" unless the URL names one)")
	fs.StringVar(&c.Redis, "redis", c.Redis, "redis://host:port/db: run as one node of a cluster (presence and events through Redis)")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", c.RedisPrefix, "prefix of every Redis key and channel")
	fs.StringVar(&c.NodeID, "node-id", c.NodeID, "this node's name in the cluster (default: random at start)")
	fs.DurationVar(&c.NodeLease, "node-lease", c.NodeLease, "a node silent this long in Redis is dead and its users offline")
	fs.DurationVar(&c.Retention, "retention", c.Retention, "how long undelivered messages, history and media are kept")
	fs.DurationVar(&c.CleanupInterval, "cleanup-interval", c.CleanupInterval, "time between retention cleanup passes")
	fs.IntVar(&c.CleanupBatch, "cleanup-batch", c.CleanupBatch, "rows deleted per cleanup transaction")
	fs.DurationVar(&c.ExpireInterval, "expire-interval", c.ExpireInterval, "time between sweeps of disappearing messages past their expiry")
	fs.IntVar(&c.Limits.MaxContentBytes, "max-content-bytes", c.Limits.MaxContentBytes, "largest message content, in bytes")
	fs.IntVar(&c.Limits.MaxFrameBytes, "max-frame-bytes", c.Limits.MaxFrameBytes, "largest WebSocket frame answered with too_large instead of a disconnect")
	fs.DurationVar(&c.HeartbeatTimeout, "heartbeat-timeout", c.HeartbeatTimeout, "close a connection silent for this long (at most 60s)")
	fs.DurationVar(&c.PresenceGrace, "presence-grace", c.PresenceGrace, "delay before peers hear a cleanly closed user went offline (a reconnect within it shows nothing)")
	fs.DurationVar(&c.TypingTimeout, "typing-timeout", c.TypingTimeout, "a composing state not refreshed for this long turns to paused")
	fs.IntVar(&c.MaxQueue, "max-queue", c.MaxQueue, "frames queued for one connection before it is dropped as too slow")
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "frames per second one connection may send")
	fs.IntVar(&c.RateBurst, "rate-burst", c.RateBurst, "burst of frames above the rate limit")
	fs.DurationVar(&c.SessionTTL, "session-ttl", c.SessionTTL, "how long a login token stays valid")
	fs.DurationVar(&c.SessionCheck, "session-check-interval", c.SessionCheck, "how often open connections' sessions are looked up, closing those signed out (0: off)")
	fs.IntVar(&c.MaxDevices, "max-devices", c.MaxDevices, "sessions (devices) per user; a login past it signs out the oldest")
	fs.IntVar(&c.SessionCacheEntries, "session-cache-entries", c.SessionCacheEntries, "sessions a node keeps in memory so that a connect needs no token query (0: off)")
	fs.IntVar(&c.PresenceCacheEntries, "presence-cache-entries", c.PresenceCacheEntries, "users' presence settings, and apart their contacts, a node keeps in memory for connects (0: off)")
	fs.DurationVar(&c.CacheMaxAge, "cache-max-age", c.CacheMaxAge, "longest a cached session or setting is served without reading it again, bounding a lost invalidation (0: no bound, without --redis only)")
	fs.IntVar(&c.MaxGroupSize, "max-group-size", c.MaxGroupSize, "most members of a group, its creator counted")
	fs.IntVar(&c.MaxBatch, "max-batch", c.MaxBatch, "most messages committed in one transaction")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", c.ShutdownGrace, "time allowed to finish in-flight sends on shutdown")
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, "serve /debug/pprof (for profiling; keep off in production)")
	fs.BoolVar(&c.AccessLog, "access-log", c.AccessLog, "log one line per HTTP request at info (method, route, status, duration, bytes, client address; never query strings or headers; not /metrics, /healthz, /readyz)")
	fs.BoolVar(&c.DebugClock, "debug-clock", c.DebugClock, "let POST /debug/clock move this server's clock forward; for fault testing only, never in production")
	fs.DurationVar(&c.DebugClockOffset, "debug-clock-offset", c.DebugClockOffset, "start with the clock this far ahead of the wall clock; needs --debug-clock")
	var hashMem, hashTime uint
	fs.UintVar(&hashMem, "password-memory-kib", uint(c.Hash.MemoryKiB), "argon2id memory per password hash, KiB")
	fs.UintVar(&hashTime, "password-time", uint(c.Hash.Time), "argon2id passes per password hash")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	registerMediaFlags(fs, &c.Media)
	registerPushFlags(fs, &c.Push)
	registerWebhookFlags(fs, &c.Webhook)
	registerAbuseFlags(fs, &c.Abuse)
	return fs, func() error {
		c.Hash.MemoryKiB, c.Hash.Time = uint32(hashMem), uint32(hashTime)
		if err := c.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
			return fmt.Errorf("log-level: %w", err)
		}
		return nil
	}
}

// EnvName is the environment variable of a flag: PARLEY_ and the flag's
// name in upper case with dashes as underscores.
func EnvName(flagName string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	check(c.Addr != "", "addr must not be empty")
	errs = append(errs, c.validateAdminAddr()...)
	check(c.DataDir != "", "data-dir must not be empty")
	check(c.StorePoolSize >= 1, "store-pool-size must be at least 1")
	check(c.Store == "" || strings.HasPrefix(c.Store, "postgres://") || strings.HasPrefix(c.Store, "postgresql://"),
		"store must be empty (SQLite) or a postgres:// URL")
	check(c.NodeLease >= time.Second && c.NodeLease <= 45*time.Second, "node-lease must be in [1s, 45s]")
	check(c.Redis == "" || strings.HasPrefix(c.Redis, "redis://") || strings.HasPrefix(c.Redis, "rediss://"),
		"redis must be a redis:// URL")
	check(c.Retention >= MinRetention, "retention must be at least %s, got %s", MinRetention, c.Retention)
	check(c.CleanupInterval >= 100*time.Millisecond, "cleanup-interval must be at least 100ms, got %s", c.CleanupInterval)
	check(c.CleanupBatch >= 1, "cleanup-batch must be at least 1")
	check(c.ExpireInterval >= 100*time.Millisecond, "expire-interval must be at least 100ms, got %s", c.ExpireInterval)
	check(c.Limits.MaxContentBytes > 0, "max-content-bytes must be positive")
	check(c.Limits.MaxFrameBytes >= c.Limits.MaxContentBytes, "max-frame-bytes must be at least max-content-bytes")
	check(c.Limits.HardFrameBytes >= c.Limits.MaxFrameBytes, "the hard frame limit must be at least max-frame-bytes")
	check(c.HeartbeatTimeout > 0 && c.HeartbeatTimeout <= MaxHeartbeatTimeout, "heartbeat-timeout must be in (0, 60s], got %s", c.HeartbeatTimeout)
	check(c.PresenceGrace >= 0 && c.PresenceGrace <= 10*time.Second, "presence-grace must be in [0, 10s], got %s", c.PresenceGrace)
	check(c.TypingTimeout >= 100*time.Millisecond, "typing-timeout must be at least 100ms")
	check(c.MaxQueue >= 16, "max-queue must be at least 16")
	check(c.MaxInflight >= 1, "max-inflight must be at least 1")
	check(c.RateLimit > 0 && c.RateBurst >= 1, "rate-limit and rate-burst must be positive")
	check(c.SessionTTL >= time.Minute, "session-ttl must be at least 1m")
	check(c.SessionCheck == 0 || c.SessionCheck >= time.Second, "session-check-interval must be 0 (off) or at least 1s")
	check(c.MaxDevices >= 1, "max-devices must be at least 1")
	check(c.SessionCacheEntries >= 0 && c.PresenceCacheEntries >= 0, "session-cache-entries and presence-cache-entries must be 0 (off) or positive")
	check(c.CacheMaxAge >= 0, "cache-max-age must not be negative")
	check(c.CacheMaxAge > 0 || c.Redis == "", "cache-max-age must be positive with --redis: an invalidation lost between nodes would leave an entry stale for good")
	check(c.MaxGroupSize >= 1, "max-group-size must be at least 1")
	check(c.MaxBatch >= 1, "max-batch must be at least 1")
	check(c.Hash.Time >= 1 && c.Hash.MemoryKiB >= 8, "password-time must be >= 1 and password-memory-kib >= 8")
	check(c.DebugClockOffset >= 0, "debug-clock-offset must not be negative, got %s", c.DebugClockOffset)
	check(c.DebugClockOffset == 0 || c.DebugClock, "debug-clock-offset needs --debug-clock")
	errs = append(errs, c.Media.validate()...)
	errs = append(errs, c.Push.validate()...)
	errs = append(errs, c.Webhook.validate()...)
	errs = append(errs, c.Abuse.validate()...)
	return errors.Join(errs...)
}
