package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestVersionNamesCommitAndDate(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"version"}, &out, &errs); code != 0 {
		t.Fatalf("parley version exited %d: %s", code, errs.String())
	}
	s := out.String()
	if !strings.HasPrefix(s, "parley ") || !strings.Contains(s, "(commit ") || !strings.Contains(s, ", built ") {
		t.Fatalf("parley version printed %q", s)
	}
}

func TestWarnUnknownEnv(t *testing.T) {
	var logs bytes.Buffer
	warnUnknownEnv(slog.New(slog.NewJSONHandler(&logs, nil)), []string{"PARLEY_DATA_DIR=/x", "PARLEY_DATADIR=/y", "PARLEY_ZZZZZZZZZZ=1"})
	got := logs.String()
	if strings.Count(got, "\n") != 2 ||
		!strings.Contains(got, `"variable":"PARLEY_DATADIR","did_you_mean":"PARLEY_DATA_DIR"`) ||
		!strings.Contains(got, `"variable":"PARLEY_ZZZZZZZZZZ"}`) {
		t.Fatalf("warnings:\n%s", got)
	}
}

// TestRedisLogRouted: go-redis's lines reach slog as JSON warnings.
func TestRedisLogRouted(t *testing.T) {
	var logs bytes.Buffer
	l := redisLogger{log: slog.New(slog.NewJSONHandler(&logs, nil))}
	l.Printf(context.Background(), "redis: connection pool: %s\n", "failed to dial")
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", logs.String())
	}
	if line["level"] != "WARN" || line["msg"] != "redis client" || line["detail"] != "redis: connection pool: failed to dial" {
		t.Errorf("line = %v", line)
	}
}
