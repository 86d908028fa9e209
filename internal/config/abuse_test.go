package config

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAbuseLimitsAreOnByDefault(t *testing.T) {
	c, err := Load("serve", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Abuse
	if a.AuthRateLimit <= 0 || a.LoginFailureLimit <= 0 || a.LookupRate <= 0 || a.LookupBurst <= 0 || a.MaxBotsPerUser <= 0 || a.PasswordHashQueue <= 0 || a.MaxConns != AutoMaxConns ||
		a.MaxConnsPerIP <= 0 || a.MaxConnsPerUser <= 0 || a.UserSendRate <= 0 || a.UserSendBurst <= 0 || a.MaxPendingSends <= 0 ||
		a.UserReceiptRate <= 0 || a.UserReceiptBurst <= 0 ||
		a.HTTPReadTimeout <= 0 || a.HTTPWriteTimeout <= 0 || a.HTTPIdleTimeout <= 0 || len(a.TrustedProxies) != 0 {
		t.Fatalf("a limit is off by default: %+v", a)
	}
	if !reflect.DeepEqual(c.Abuse, DefaultAbuse()) || !reflect.DeepEqual(Default().Abuse, DefaultAbuse()) {
		t.Fatalf("Load and Default disagree: %+v", c.Abuse)
	}
}

func TestAbuseFlags(t *testing.T) {
	// 0 turns each off, from a flag or from its PARLEY_* variable.
	c, err := Load("serve", []string{
		"--auth-rate-limit", "0", "--login-failure-limit", "0", "--password-hash-queue", "0", "--max-conns", "0",
		"--max-conns-per-ip", "0", "--user-send-rate", "0", "--http-read-timeout", "0", "--http-write-timeout", "0",
		"--user-receipt-rate", "0", "--user-receipt-burst", "0",
		"--trusted-proxies", "10.0.0.0/8,192.0.2.1",
	}, env(map[string]string{
		"PARLEY_MAX_CONNS_PER_USER": "0", "PARLEY_HTTP_IDLE_TIMEOUT": "0", "PARLEY_USER_SEND_BURST": "7",
		"PARLEY_MAX_PENDING_SENDS": "0", "PARLEY_MAX_SEND_WAIT": "0",
		"PARLEY_LOOKUP_RATE": "0", "PARLEY_LOOKUP_BURST": "3", "PARLEY_MAX_BOTS_PER_USER": "0",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := AbuseConfig{UserSendBurst: 7, LookupBurst: 3}
	got := c.Abuse
	if got.TrustedProxies.String() != "10.0.0.0/8,192.0.2.1/32" {
		t.Fatalf("trusted proxies = %q", got.TrustedProxies)
	}
	got.TrustedProxies = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("abuse = %+v, want every limit off: %+v", got, want)
	}
	c, err = Load("serve", []string{"--max-conns", "5000"}, env(map[string]string{"PARLEY_MAX_CONNS": "auto"}), io.Discard)
	if err != nil || c.Abuse.MaxConns != 5000 {
		t.Fatalf("max-conns 5000: %d, %v", c.Abuse.MaxConns, err)
	}
	c, err = Load("serve", []string{"--max-pending-sends", "64"}, env(map[string]string{
		"PARLEY_MAX_CONNS": "auto", "PARLEY_HTTP_READ_TIMEOUT": "5s", "PARLEY_MAX_PENDING_SENDS": "9",
	}), io.Discard)
	if err != nil || c.Abuse.MaxConns != AutoMaxConns || c.Abuse.HTTPReadTimeout != 5*time.Second || c.Abuse.MaxPendingSends != 64 {
		t.Fatalf("from the environment: %+v, %v", c.Abuse, err)
	}
}

func TestAbuseFlagsRefused(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"negative auth rate", []string{"--auth-rate-limit", "-1"}, nil, "auth-rate-limit"},
		{"negative lookup rate", []string{"--lookup-rate", "-1"}, nil, "lookup-rate"},
		{"negative bots per user", []string{"--max-bots-per-user", "-1"}, nil, "max-bots-per-user"},
		{"lookup rate without burst", nil, map[string]string{"PARLEY_LOOKUP_BURST": "0"}, "lookup-burst"},
		{"negative failure limit", []string{"--login-failure-limit", "-3"}, nil, "login-failure-limit"},
		{"negative hash queue", []string{"--password-hash-queue", "-1"}, nil, "password-hash-queue"},
		{"max-conns not a number", []string{"--max-conns", "lots"}, nil, "auto"},
		{"negative max-conns", []string{"--max-conns", "-5"}, nil, "auto"},
		{"negative per-ip", []string{"--max-conns-per-ip", "-1"}, nil, "max-conns-per-ip"},
		{"negative per-user", nil, map[string]string{"PARLEY_MAX_CONNS_PER_USER": "-1"}, "max-conns-per-user"},
		{"negative send rate", []string{"--user-send-rate", "-2"}, nil, "user-send-rate"},
		{"send rate without burst", []string{"--user-send-burst", "0"}, nil, "user-send-burst"},
		{"negative pending sends", nil, map[string]string{"PARLEY_MAX_PENDING_SENDS": "-1"}, "max-pending-sends"},
		{"pending sends not a number", []string{"--max-pending-sends", "many"}, nil, "max-pending-sends"},
		{"negative timeout", []string{"--http-idle-timeout", "-1s"}, nil, "http-idle-timeout"},
		{"bad proxy", []string{"--trusted-proxies", "10.0.0.0/8,proxy.example"}, nil, "proxy.example"},
		{"bad proxy in env", nil, map[string]string{"PARLEY_TRUSTED_PROXIES": "300.1.1.1"}, "PARLEY_TRUSTED_PROXIES"},
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
