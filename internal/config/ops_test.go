package config

import (
	"io"
	"strings"
	"testing"
)

func TestAdminAddr(t *testing.T) {
	c, err := Load("serve", nil, env(map[string]string{"PARLEY_ADMIN_ADDR": "127.0.0.1:9090"}), io.Discard)
	if err != nil || c.AdminAddr != "127.0.0.1:9090" {
		t.Fatalf("admin-addr from the environment: %q, %v", c.AdminAddr, err)
	}
	if d, err := Load("serve", nil, env(nil), io.Discard); err != nil || d.AdminAddr != "" {
		t.Fatalf("admin-addr must be off by default: %q, %v", d.AdminAddr, err)
	}
	for _, ok := range [][]string{
		{"--admin-addr", "127.0.0.1:0", "--addr", "127.0.0.1:0"},       // two fresh ports
		{"--admin-addr", "127.0.0.2:8080", "--addr", "127.0.0.1:8080"}, // same port, other address
		{"--admin-addr", ":9090", "--addr", "127.0.0.1:8080"},          // every interface, other port
		{"--admin-addr", "[::1]:9090", "--addr", "[::1]:8080"},         // IPv6
		{"--admin-addr", "localhost:9090", "--addr", "localhost:8080"}, // names
	} {
		if _, err := Load("serve", ok, env(nil), io.Discard); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin-addr", "9090"}, `admin-addr "9090" must be host:port`},
		{[]string{"--admin-addr", "127.0.0.1"}, `admin-addr "127.0.0.1" must be host:port`},
		{[]string{"--admin-addr", "127.0.0.1:http"}, `port "http" is not a number`},
		{[]string{"--admin-addr", "127.0.0.1:70000"}, `port "70000" is not a number`},
		{[]string{"--admin-addr", "127.0.0.1:8080"}, "admin-addr 127.0.0.1:8080 would share addr 127.0.0.1:8080"},
		{[]string{"--admin-addr", ":8080"}, "would share addr"},
		{[]string{"--admin-addr", "127.0.0.1:9000", "--addr", "0.0.0.0:9000"}, "would share addr"},
	} {
		_, err := Load("serve", tc.args, env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{
		"PARLEY_ADDR=127.0.0.1:1",        // a setting
		"PARLEY_RETENSION=48h",           // misspelt
		"PARLEY_MAX_CONN_PER_USER=4",     // a letter short
		"PARLEY_ADMIN_ADR=:9090",         // misspelt
		"PARLEY_FROBNICATE=yes",          // nothing like it
		"PARLEY_TEST_POSTGRES=postgres:", // the tests'
		"PARLEY_BOT_KEY=x",               // the echobot's
		"PATH=/bin",                      // not ours
		"PARLEY_RETENSION=again",         // once each
	})
	want := []UnknownVariable{
		{"PARLEY_ADMIN_ADR", "PARLEY_ADMIN_ADDR"},
		{"PARLEY_FROBNICATE", ""},
		{"PARLEY_MAX_CONN_PER_USER", "PARLEY_MAX_CONNS_PER_USER"},
		{"PARLEY_RETENSION", "PARLEY_RETENTION"},
	}
	if len(got) != len(want) {
		t.Fatalf("unknown = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("unknown[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	known := KnownEnv()
	for _, v := range []string{"PARLEY_ADDR", "PARLEY_ADMIN_ADDR", "PARLEY_S3_ACCESS_KEY", "PARLEY_VAPID_PRIVATE_KEY", "PARLEY_LOG_LEVEL", "PARLEY_MAX_CONNS", "PARLEY_DEBUG_CLOCK", "PARLEY_DEBUG_CLOCK_OFFSET"} {
		if !known[v] {
			t.Errorf("%s is a setting's variable", v)
		}
	}
}
