package app_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/apptest"
)

// TestSecondProcessOnADataDirRefusesToStart: two servers on one data dir
// would split the users between them; the second one must refuse and say
// who holds the dir.
func TestSecondProcessOnADataDirRefusesToStart(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	srv := apptest.Start(t, cfg, nil)

	second := srv.Cfg
	second.Addr = "127.0.0.1:0"
	_, err := app.New(context.Background(), second, apptest.Logger(t), nil)
	if !errors.Is(err, app.ErrDataDirInUse) {
		t.Fatalf("second server on the same data dir: %v, want ErrDataDirInUse", err)
	}
	if want := fmt.Sprintf("pid %d", os.Getpid()); !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not name the holder (%s)", err, want)
	}
	// The first one is unharmed, and once it stops the dir is free again.
	u := srv.NewUser(ctx, "ivy")
	srv.Restart()
	if _, err := u.API.Conversations(ctx); err != nil {
		t.Fatalf("after a restart on the same dir: %v", err)
	}
}

// TestDataDirFilesAreOwnerOnly: the database holds every message.
func TestDataDirFilesAreOwnerOnly(t *testing.T) {
	ctx := testCtx(t)
	srv, alice, _, conv := pair(t)
	ac := alice.Dial(ctx)
	if _, err := ac.SendMessage(ctx, text("p1", conv.ConversationID, "private")); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(srv.Cfg.DataDir, "parley.*"))
	if err != nil || len(files) < 2 {
		t.Fatalf("data dir files = %v, %v", files, err)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(f), mode)
		}
	}
}
