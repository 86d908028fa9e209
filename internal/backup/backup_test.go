package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/backup"
	"github.com/parleychat/parley/internal/media/mediatest"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// upload runs the client side of an upload: create, PUT, complete.
func upload(t *testing.T, ctx context.Context, api *client.Client, contentType string, data []byte) client.Media {
	t.Helper()
	up, err := api.CreateMedia(ctx, contentType, int64(len(data)))
	if err != nil {
		t.Fatalf("create media: %v", err)
	}
	if err := api.Upload(ctx, up, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("PUT: %v", err)
	}
	m, err := api.CompleteMedia(ctx, up.MediaID)
	if err != nil || m.Status != "ready" {
		t.Fatalf("complete = %+v, %v", m, err)
	}
	return m
}

func download(t *testing.T, ctx context.Context, api *client.Client, url string) []byte {
	t.Helper()
	b, _, err := api.Download(ctx, url, 16<<20)
	if err != nil {
		t.Fatalf("download %s: %v", url, err)
	}
	return b
}

// history is the whole of a conversation's history, ascending.
func history(t *testing.T, ctx context.Context, api *client.Client, convID string) []client.Message {
	t.Helper()
	var all []client.Message
	after := int64(0)
	for {
		page, err := api.Messages(ctx, convID, client.HistoryOptions{AfterSeq: &after, Limit: 100})
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].SequenceNumber
	}
}

// acked is what the sender was told was stored: id -> content.
type acked struct {
	mu  sync.Mutex
	ids map[string]string
	n   chan struct{} // one token per ack, for waiting on traffic
}

func (a *acked) add(id, content string) {
	a.mu.Lock()
	a.ids[id] = content
	a.mu.Unlock()
	select {
	case a.n <- struct{}{}:
	default:
	}
}

func (a *acked) copy() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.ids))
	for k, v := range a.ids {
		out[k] = v
	}
	return out
}

// waitAcks waits for n more acknowledged sends.
func (a *acked) waitAcks(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for range n {
		select {
		case <-a.n:
		case <-ctx.Done():
			t.Fatalf("waiting for traffic: %v", ctx.Err())
		}
	}
}

// TestBackupWhileServing: a backup taken while messages flow, restored
// into a fresh dir, serves the same users, every message acknowledged
// before the backup began, and the same media; its history is exactly a
// prefix of the live one, so no message is half in it.
func TestBackupWhileServing(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatalf("create direct: %v", err)
	}

	picture := mediatest.JPEG(t, 64, 48, 90)
	media := upload(t, ctx, alice.API, "image/jpeg", picture)
	if _, err := alice.API.SetAvatar(ctx, upload(t, ctx, alice.API, "image/jpeg", mediatest.JPEG(t, 80, 80, 90)).MediaID); err != nil {
		t.Fatalf("set avatar: %v", err)
	}
	sent := &acked{ids: map[string]string{}, n: make(chan struct{}, 1024)}
	withMedia, err := alice.API.PostMessage(ctx, conv.ConversationID, "media-1", client.OutgoingMessage{MessageType: "image", MediaID: media.MediaID, Content: "a picture"})
	if err != nil {
		t.Fatalf("send media: %v", err)
	}
	sent.add(withMedia.MessageID, "a picture")

	// Traffic from both sides until the backup is done and some more.
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, u := range []*apptest.User{alice, bob} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; trafficCtx.Err() == nil; i++ {
				content := fmt.Sprintf("%s says %d", u.Username, i)
				m, err := u.API.PostMessage(trafficCtx, conv.ConversationID, fmt.Sprintf("live-%d", i), client.OutgoingMessage{MessageType: "text", Content: content})
				if err != nil {
					if trafficCtx.Err() == nil {
						t.Errorf("send: %v", err)
					}
					return
				}
				sent.add(m.MessageID, content)
			}
		}()
	}
	t.Cleanup(func() { stopTraffic(); wg.Wait() })

	sent.waitAcks(t, ctx, 20)
	before := sent.copy()
	out := filepath.Join(t.TempDir(), "backup")
	m, err := backup.Create(ctx, backup.Options{DataDir: srv.Cfg.DataDir, To: out, Version: "test"})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	// The server kept taking traffic through the backup and after it.
	sent.waitAcks(t, ctx, 20)
	stopTraffic()
	wg.Wait()

	if len(m.Warnings) != 0 {
		t.Errorf("warnings: %q", m.Warnings)
	}
	if schema, err := sqlstore.SQLiteSchemaVersion(); err != nil || m.SchemaVersion != schema {
		t.Errorf("manifest schema %d, the binary's %d (%v)", m.SchemaVersion, schema, err)
	}
	if m.Rows["users"] != 2 || m.Rows["messages"] < int64(len(before)) {
		t.Errorf("manifest rows %v; want 2 users and at least %d messages", m.Rows, len(before))
	}
	paths := map[string]bool{}
	for _, f := range m.Files {
		paths[f.Path] = true
	}
	for _, p := range []string{"parley.db", "vapid.key", "media.key", "media/" + media.MediaID + "/original"} {
		if !paths[p] {
			t.Errorf("backup lacks %s; has %v", p, paths)
		}
	}

	// The backup holds the manifest's files and nothing else (no SQLite
	// -wal or -shm beside the snapshot).
	err = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		if rel = filepath.ToSlash(rel); !paths[rel] && rel != backup.ManifestName {
			t.Errorf("backup holds %s, not in its manifest", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, out, restored); err != nil {
		t.Fatalf("restore: %v", err)
	}
	cfg := apptest.Config(t)
	cfg.DataDir = restored
	srv2 := apptest.Start(t, cfg, nil)

	for _, u := range []*apptest.User{alice, bob} {
		if _, err := srv2.Client().Login(ctx, u.Username, u.Password()); err != nil {
			t.Fatalf("login %s on the restored server: %v", u.Username, err)
		}
	}
	api2 := alice.NewDeviceOn(ctx, srv2)

	live := history(t, ctx, alice.API, conv.ConversationID)
	got := history(t, ctx, api2, conv.ConversationID)
	if len(got) > len(live) {
		t.Fatalf("restored history has %d messages, the live one %d", len(got), len(live))
	}
	// The snapshot is one transaction: its history is a prefix of the
	// live one, message for message, with no gap and nothing altered.
	for i, g := range got {
		l := live[i]
		if g.MessageID != l.MessageID || g.SequenceNumber != l.SequenceNumber || g.Content != l.Content || g.SenderID != l.SenderID || g.MediaID != l.MediaID {
			t.Fatalf("restored message %d = %+v, live = %+v", i, g, l)
		}
	}
	inRestore := map[string]string{}
	for _, g := range got {
		inRestore[g.MessageID] = g.Content
	}
	for id, content := range before {
		if c, ok := inRestore[id]; !ok || c != content {
			t.Errorf("message %s (%q), acknowledged before the backup, restored as %q (present %v)", id, content, c, ok)
		}
	}
	t.Logf("%d messages acknowledged before the backup, %d in it, %d in the live history after it", len(before), len(got), len(live))
	if int64(len(got)) != m.Rows["messages"] {
		t.Errorf("restored history has %d messages, the manifest counts %d", len(got), m.Rows["messages"])
	}

	// The media: the same bytes from both servers, through fresh URLs
	// signed with the restored key.
	m1, err := alice.API.GetMedia(ctx, media.MediaID)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := api2.GetMedia(ctx, media.MediaID)
	if err != nil {
		t.Fatalf("media on the restored server: %v", err)
	}
	if !bytes.Equal(download(t, ctx, api2, m2.URL), download(t, ctx, alice.API, m1.URL)) {
		t.Error("restored media differ from the original")
	}
	if !bytes.Equal(download(t, ctx, api2, m2.ThumbnailURL), download(t, ctx, alice.API, m1.ThumbnailURL)) {
		t.Error("restored thumbnail differs from the original")
	}
	me, err := api2.User(ctx, alice.UserID)
	if err != nil || me.Avatar == nil {
		t.Fatalf("alice on the restored server = %+v, %v; want an avatar", me, err)
	}
	if len(download(t, ctx, api2, me.Avatar.URL96)) == 0 {
		t.Error("restored avatar is empty")
	}
}

// TestRefusals: a backup into a non-empty dir, a restore into a non-empty
// dir, a tampered backup and one from a newer schema are each refused,
// and the refused restores write nothing.
func TestRefusals(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	u := srv.NewUser(ctx, "carol")
	media := upload(t, ctx, u.API, "image/jpeg", mediatest.JPEG(t, 32, 32, 90))

	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "something"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Create(ctx, backup.Options{DataDir: srv.Cfg.DataDir, To: full}); !errors.Is(err, backup.ErrNotEmpty) {
		t.Errorf("backup into a non-empty dir: %v, want ErrNotEmpty", err)
	}
	if _, err := backup.Create(ctx, backup.Options{DataDir: srv.Cfg.DataDir, To: filepath.Join(srv.Cfg.DataDir, "bk")}); err == nil {
		t.Error("backup into the data dir itself was taken")
	}
	if _, err := backup.Create(ctx, backup.Options{DataDir: t.TempDir(), To: filepath.Join(t.TempDir(), "bk")}); err == nil {
		t.Error("backup of a dir without a database was taken")
	}

	// A backup that stops half-way (here: canceled) leaves nothing behind.
	parent := t.TempDir()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := backup.Create(canceled, backup.Options{DataDir: srv.Cfg.DataDir, To: filepath.Join(parent, "bk")}); err == nil {
		t.Error("a canceled backup succeeded")
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("a failed backup left %v", entries)
	}

	// An empty dir is a fine target.
	good := t.TempDir()
	if _, err := backup.Create(ctx, backup.Options{DataDir: srv.Cfg.DataDir, To: good}); err != nil {
		t.Fatalf("backup into an empty dir: %v", err)
	}
	if _, err := backup.Restore(ctx, good, full); !errors.Is(err, backup.ErrNotEmpty) {
		t.Errorf("restore into a non-empty dir: %v, want ErrNotEmpty", err)
	}

	// copyBackup makes a private copy of the good backup to spoil.
	copyBackup := func(t *testing.T) string {
		dir := t.TempDir()
		err := filepath.WalkDir(good, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(good, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dir, rel), 0o700)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, rel), b, 0o600)
		})
		if err != nil {
			t.Fatal(err)
		}
		return dir
	}
	flipByte := func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 1
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  error
	}{
		{"database byte", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, "parley.db")) }, backup.ErrCorrupt},
		{"media byte", func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, "media", media.MediaID, "original"))
		}, backup.ErrCorrupt},
		{"key missing", func(t *testing.T, dir string) { _ = os.Remove(filepath.Join(dir, "media.key")) }, backup.ErrCorrupt},
		{"newer schema", func(t *testing.T, dir string) {
			p := filepath.Join(dir, backup.ManifestName)
			b, _ := os.ReadFile(p)
			b = bytes.Replace(b, []byte(`"schema_version": `), []byte(`"schema_version": 9`), 1)
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, backup.ErrNewerSchema},
		{"no manifest", func(t *testing.T, dir string) { _ = os.Remove(filepath.Join(dir, backup.ManifestName)) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bk := copyBackup(t)
			tc.spoil(t, bk)
			parent := t.TempDir()
			target := filepath.Join(parent, "data")
			_, err := backup.Restore(ctx, bk, target)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("restore = %v, want %v", err, tc.want)
			}
			t.Logf("refused: %v", err)
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("a refused restore wrote %v", entries)
			}
		})
	}
}
