package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/apptest"
)

func TestMigrateFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--from DATA_DIR is required"},
		{[]string{"--from", "x", "--to", "mysql://x"}, "--to must be a postgres:// URL"},
		{[]string{"--from", "x", "--to", "postgres://h/db", "--blob", "local"}, "--blob must be an s3:// URL"},
		{[]string{"--from", "x", "--to", "postgres://h/db", "--blob", "s3://b"}, "needs a bucket and ?endpoint"},
		{[]string{"--from", "x", "--to", "postgres://h/db", "--batch-rows", "0"}, "--batch-rows must be positive"},
	} {
		t.Setenv("PARLEY_S3_ACCESS_KEY", "")
		t.Setenv("PARLEY_S3_SECRET_KEY", "")
		var out, errs bytes.Buffer
		if code := run(append([]string{"migrate"}, tc.args...), &out, &errs); code != 2 || !strings.Contains(errs.String(), tc.want) {
			t.Errorf("parley migrate %v: exit %d, %q; want 2 and %q", tc.args, code, errs.String(), tc.want)
		}
	}
}

func TestMigrateCommandWithoutBlob(t *testing.T) {
	ctx := context.Background()
	pg := apptest.Postgres(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	srv.NewUser(ctx, "gina")
	srv.Stop()
	var out, errs bytes.Buffer
	if code := run([]string{"migrate", "--from", srv.Cfg.DataDir, "--to", pg}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "media NOT copied (no --blob)") || !strings.Contains(errs.String(), "media files are not copied") {
		t.Fatalf("stdout %q, stderr %q: want media skipped said clearly", out.String(), errs.String())
	}
	if !strings.Contains(out.String(), "PARLEY_VAPID_PRIVATE_KEY") {
		t.Fatalf("stdout %q: want the VAPID key's move named", out.String())
	}
}
