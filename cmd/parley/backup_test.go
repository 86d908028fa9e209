package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apptest"
)

// TestBackupRestoreCommands runs parley backup and parley restore through
// run, on the data dir of a running server, and the refusals an operator
// meets at the command line.
func TestBackupRestoreCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := apptest.Start(t, apptest.Config(t), nil)
	u := srv.NewUser(ctx, "dave")

	cmd := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	out := filepath.Join(t.TempDir(), "bk")
	data := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		args   []string
		code   int
		output string // in stdout or stderr
	}{
		{[]string{"backup", "--data-dir", srv.Cfg.DataDir}, 2, "--to is required"},
		{[]string{"backup", "--data-dir", srv.Cfg.DataDir, "--to", out, "--store", "postgres://db/parley"}, 2, "pg_dump"},
		{[]string{"backup", "--data-dir", srv.Cfg.DataDir, "--to", out}, 0, "1 users"},
		{[]string{"backup", "--data-dir", srv.Cfg.DataDir, "--to", out}, 1, "not empty"},
		{[]string{"restore", "--from", out}, 2, "--data-dir is required"},
		{[]string{"restore", "--from", out, "--data-dir", srv.Cfg.DataDir}, 1, "not empty"},
		{[]string{"restore", "--from", out, "--data-dir", data}, 0, "1 users"},
		// A data dir no server runs on (no WAL beside the database).
		{[]string{"backup", "--data-dir", data, "--to", filepath.Join(t.TempDir(), "bk2")}, 0, "1 users"},
	} {
		code, stdout, stderr := cmd(tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.output) {
			t.Fatalf("parley %s = %d\nstdout: %s\nstderr: %s\nwant %d and %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.output)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "parley.db")); err != nil {
		t.Fatalf("restored data dir: %v", err)
	}
	cfg := apptest.Config(t)
	cfg.DataDir = data
	restored := apptest.Start(t, cfg, nil)
	if _, err := restored.Client().Login(ctx, u.Username, u.Password()); err != nil {
		t.Fatalf("login on the restored server: %v", err)
	}
}
