package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	c, err := Load("serve", []string{"--addr", "127.0.0.1:9"}, env(map[string]string{
		"PARLEY_ADDR": "127.0.0.1:1", "PARLEY_DATA_DIR": "/tmp/x", "PARLEY_RETENTION": "48h", "PARLEY_MAX_DEVICES": "3",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9" {
		t.Errorf("flag must win over env: addr = %s", c.Addr)
	}
	if c.DataDir != "/tmp/x" || c.Retention != 48*time.Hour || c.MaxDevices != 3 {
		t.Errorf("env not applied: %+v", c)
	}
	d, err := Load("serve", nil, env(nil), io.Discard)
	if err != nil || d.Retention != 720*time.Hour || d.Addr != "127.0.0.1:8080" || d.DataDir != "./data" {
		t.Fatalf("defaults = %+v, %v", d, err)
	}
}

func TestLoadRefuses(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"retention under 1s", []string{"--retention", "500ms"}, nil, "retention must be at least"},
		{"retention unparsable", []string{"--retention", "a month"}, nil, "invalid value"},
		{"retention env unparsable", nil, map[string]string{"PARLEY_RETENTION": "forever"}, "PARLEY_RETENTION"},
		{"heartbeat over 60s", []string{"--heartbeat-timeout", "61s"}, nil, "heartbeat-timeout"},
		{"frame smaller than content", []string{"--max-frame-bytes", "10"}, nil, "max-frame-bytes"},
		{"stray argument", []string{"extra"}, nil, "unexpected argument"},
		{"unknown flag", []string{"--nope"}, nil, "not defined"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "log-level"},
		{"negative cache entries", []string{"--session-cache-entries", "-1"}, nil, "session-cache-entries"},
		{"vapid subject not a URI", []string{"--vapid-subject", "ops@example.com"}, nil, "vapid-subject must be a mailto: or https: URI"},
		{"negative debug clock offset", []string{"--debug-clock", "--debug-clock-offset", "-1h"}, nil, "debug-clock-offset must not be negative"},
		{"debug clock offset without the debug clock", []string{"--debug-clock-offset", "1h"}, nil, "debug-clock-offset needs --debug-clock"},
		{"debug clock offset env without the debug clock", nil, map[string]string{"PARLEY_DEBUG_CLOCK_OFFSET": "1h"}, "debug-clock-offset needs --debug-clock"},
		{"unbounded cache age in a cluster", []string{"--cache-max-age", "0", "--redis", "redis://127.0.0.1:6379"}, nil, "cache-max-age must be positive with --redis"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("serve", tc.args, env(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestCacheFlags: the caches are on by default, and 0 turns each off.
func TestCacheFlags(t *testing.T) {
	d, err := Load("serve", nil, env(nil), io.Discard)
	if err != nil || d.SessionCacheEntries != 100_000 || d.PresenceCacheEntries != 100_000 || d.CacheMaxAge != time.Minute {
		t.Fatalf("defaults = %d, %d, %s, %v", d.SessionCacheEntries, d.PresenceCacheEntries, d.CacheMaxAge, err)
	}
	c, err := Load("serve", []string{"--session-cache-entries", "0", "--cache-max-age", "0"},
		env(map[string]string{"PARLEY_PRESENCE_CACHE_ENTRIES": "0"}), io.Discard)
	if err != nil || c.SessionCacheEntries != 0 || c.PresenceCacheEntries != 0 || c.CacheMaxAge != 0 {
		t.Fatalf("off = %d, %d, %s, %v", c.SessionCacheEntries, c.PresenceCacheEntries, c.CacheMaxAge, err)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("data-dir"); got != "PARLEY_DATA_DIR" {
		t.Fatal(got)
	}
}

// TestPushFlags: the VAPID key may come from the environment, and the
// insecure hosts are a comma-separated list.
func TestPushFlags(t *testing.T) {
	c, err := Load("serve", []string{"--push-allow-insecure-host", "127.0.0.1:8443, push.test", "--vapid-subject", "mailto:ops@example.com"},
		env(map[string]string{"PARLEY_VAPID_PRIVATE_KEY": "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Push.VAPIDPrivateKey != "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw" || c.Push.VAPIDSubject != "mailto:ops@example.com" ||
		len(c.Push.AllowInsecureHosts) != 2 || c.Push.AllowInsecureHosts[0] != "127.0.0.1:8443" || c.Push.AllowInsecureHosts[1] != "push.test" {
		t.Fatalf("push config = %+v", c.Push)
	}
}

// TestDebugClockFlags: off by default; on, with a starting offset, from
// flags or from the environment.
func TestDebugClockFlags(t *testing.T) {
	d, err := Load("serve", nil, env(nil), io.Discard)
	if err != nil || d.DebugClock || d.DebugClockOffset != 0 {
		t.Fatalf("defaults = %t, %s, %v", d.DebugClock, d.DebugClockOffset, err)
	}
	c, err := Load("serve", []string{"--debug-clock", "--debug-clock-offset", "2h"}, env(nil), io.Discard)
	if err != nil || !c.DebugClock || c.DebugClockOffset != 2*time.Hour {
		t.Fatalf("flags = %t, %s, %v", c.DebugClock, c.DebugClockOffset, err)
	}
	e, err := Load("serve", nil, env(map[string]string{"PARLEY_DEBUG_CLOCK": "true", "PARLEY_DEBUG_CLOCK_OFFSET": "90m"}), io.Discard)
	if err != nil || !e.DebugClock || e.DebugClockOffset != 90*time.Minute {
		t.Fatalf("environment = %t, %s, %v", e.DebugClock, e.DebugClockOffset, err)
	}
	if z, err := Load("serve", []string{"--debug-clock"}, env(nil), io.Discard); err != nil || !z.DebugClock || z.DebugClockOffset != 0 {
		t.Fatalf("--debug-clock alone = %t, %s, %v", z.DebugClock, z.DebugClockOffset, err)
	}
}
