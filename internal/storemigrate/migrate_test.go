package storemigrate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/app"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/blob"
	"github.com/parleychat/parley/internal/blob/local"
	"github.com/parleychat/parley/internal/blob/s3"
	"github.com/parleychat/parley/internal/blob/s3/s3test"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/wire"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// history is what an embedded deployment held before its migration, as
// its users saw it.
type history struct {
	alice, bob, carol *apptest.User
	direct, group     string
	// messages is each conversation's history as alice reads it.
	messages map[string][]client.Message
	read     string // a message of alice's that bob has read
	mediaID  string
	media    []byte
}

// buildHistory runs traffic on an embedded server: users, a 1:1 and a
// group with messages, a read receipt, a reaction, an edit, a media
// upload.
func buildHistory(ctx context.Context, t *testing.T, srv *apptest.Server) history {
	t.Helper()
	h := history{alice: srv.NewUser(ctx, "alice"), bob: srv.NewUser(ctx, "bob"), carol: srv.NewUser(ctx, "carol"),
		messages: map[string][]client.Message{}, media: bytes.Repeat([]byte("parley media\n"), 300)}
	direct, err := h.alice.API.CreateDirect(ctx, h.bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	group, err := h.alice.API.CreateGroup(ctx, "trio", []string{h.bob.UserID, h.carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	h.direct, h.group = direct.ConversationID, group.ConversationID
	post := func(u *apptest.User, conv, key, text string) string {
		t.Helper()
		m, err := u.API.PostMessage(ctx, conv, key, client.OutgoingMessage{MessageType: "text", Content: text})
		if err != nil {
			t.Fatal(err)
		}
		return m.MessageID
	}
	first := post(h.alice, h.direct, "d1", "hello bob")
	post(h.bob, h.direct, "d2", "hi alice")
	h.read = post(h.alice, h.direct, "d3", "lunch?")
	for i, u := range []*apptest.User{h.alice, h.bob, h.carol, h.alice} {
		post(u, h.group, "g"+string(rune('0'+i)), "group message")
	}
	if err := h.bob.API.MarkRead(ctx, h.direct, h.read); err != nil {
		t.Fatal(err)
	}
	ac, bc := h.alice.Dial(ctx), h.bob.Dial(ctx)
	if err := bc.React(ctx, first, "👍"); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Next(ctx, wire.TypeReaction); err != nil {
		t.Fatal(err)
	}
	if err := ac.Edit(ctx, first, "hello, bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Next(ctx, wire.TypeMessageEdited); err != nil {
		t.Fatal(err)
	}
	up, err := h.alice.API.CreateMedia(ctx, "text/plain", int64(len(h.media)))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.alice.API.Upload(ctx, up, bytes.NewReader(h.media), int64(len(h.media))); err != nil {
		t.Fatal(err)
	}
	if _, err := h.alice.API.CompleteMedia(ctx, up.MediaID); err != nil {
		t.Fatal(err)
	}
	h.mediaID = up.MediaID
	if _, err := h.alice.API.PostMessage(ctx, h.group, "g-media", client.OutgoingMessage{MessageType: "document", MediaID: up.MediaID, Content: "notes.txt"}); err != nil {
		t.Fatal(err)
	}
	for _, conv := range []string{h.direct, h.group} {
		h.messages[conv] = messages(ctx, t, h.alice.API, conv)
	}
	return h
}

func messages(ctx context.Context, t *testing.T, c *client.Client, conv string) []client.Message {
	t.Helper()
	ms, err := c.Messages(ctx, conv, client.HistoryOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// mediaTarget is the bucket media moves to: a real S3 server (versitygw)
// when installed, else a local store in a directory that node A then uses
// as its data dir (so it serves the migrated files as its own).
func mediaTarget(t *testing.T) (_ blob.Store, shared bool, tune func(cfg *config.Config, node int)) {
	t.Helper()
	if s3test.Binary() != "" {
		srv := s3test.Start(t)
		c := srv.Config(t)
		st, err := s3.New(c)
		if err != nil {
			t.Fatal(err)
		}
		return st, true, func(cfg *config.Config, _ int) {
			cfg.Media.Blob, cfg.Media.S3AccessKey, cfg.Media.S3SecretKey = s3test.URL(c), c.AccessKey, c.SecretKey
		}
	}
	t.Log("versitygw not installed: media migrated into a local store, served by node A only")
	dir := t.TempDir()
	st, err := local.Open(dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return st, false, func(cfg *config.Config, node int) {
		if node == 0 {
			cfg.DataDir = dir
		}
	}
}

func count(ctx context.Context, t *testing.T, dsn, q string) int64 {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateEmbeddedToCluster(t *testing.T) {
	ctx := testCtx(t)
	pg := apptest.Postgres(t)
	redisURL, prefix := apptest.Redis(t)
	blobs, sharedMedia, tune := mediaTarget(t)

	srv := apptest.Start(t, apptest.Config(t), nil)
	h := buildHistory(ctx, t, srv)
	dataDir := srv.Cfg.DataDir

	// A server still running on the data dir: refused, naming it.
	if _, err := Run(ctx, Options{From: dataDir, To: pg}); !errors.Is(err, app.ErrDataDirInUse) {
		t.Fatalf("migrate beside a running server: %v, want ErrDataDirInUse", err)
	}
	srv.Stop()

	// Interrupted in batches of two rows, after the first batch of the
	// messages table; the second run resumes and finishes.
	if _, err := Run(ctx, Options{From: dataDir, To: pg, Blobs: blobs, BatchRows: 2, stopInTable: "messages"}); !errors.Is(err, errStopped) {
		t.Fatalf("interrupted run: %v", err)
	}
	if n := count(ctx, t, pg, "SELECT count(*) FROM messages"); n != 2 {
		t.Fatalf("the interrupted run left %d messages, want its first batch of 2", n)
	}
	rep, err := Run(ctx, Options{From: dataDir, To: pg, Blobs: blobs, BatchRows: 2})
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if !rep.Resumed || rep.MediaFiles == 0 || rep.MediaSkipped {
		t.Fatalf("resumed run reported %+v", rep)
	}
	rows := map[string]int64{}
	for _, c := range rep.Tables {
		rows[c.Table] = c.Rows
	}
	if rows["users"] != 3 || rows["messages"] != 8 {
		t.Fatalf("copied %v", rows)
	}
	// A third run finds everything done and verifies again.
	if _, err := Run(ctx, Options{From: dataDir, To: pg, Blobs: blobs}); err != nil {
		t.Fatalf("run after completion: %v", err)
	}

	// Another deployment into the same database: refused.
	other := apptest.Start(t, apptest.Config(t), nil)
	other.NewUser(ctx, "dave")
	other.Stop()
	if _, err := Run(ctx, Options{From: other.Cfg.DataDir, To: pg}); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("a second source into the same target: %v, want ErrTargetNotEmpty", err)
	}

	var nodes [2]*apptest.Server
	for i, id := range []string{"node-a", "node-b"} {
		cfg := apptest.Config(t)
		cfg.Store, cfg.Redis, cfg.RedisPrefix, cfg.NodeID = pg, redisURL, prefix, id
		cfg.NodeLease = 2 * time.Second
		tune(&cfg, i)
		nodes[i] = apptest.Start(t, cfg, nil)
	}
	na, nb := nodes[0], nodes[1]

	// Passwords and sessions carried over.
	for _, u := range []*apptest.User{h.alice, h.bob, h.carol} {
		for _, n := range nodes {
			if _, err := n.Client().Login(ctx, u.Username, u.Password()); err != nil {
				t.Fatalf("%s logs in on %s: %v", u.Username, n.Cfg.NodeID, err)
			}
		}
	}
	onA := client.New(na.URL).WithToken(h.alice.Session.Token)
	onB := client.New(nb.URL).WithToken(h.alice.Session.Token)
	for conv, want := range h.messages {
		for _, c := range []*client.Client{onA, onB} {
			if got := messages(ctx, t, c, conv); !reflect.DeepEqual(got, want) {
				t.Fatalf("history of %s after the migration:\n got %+v\nwant %+v", conv, got, want)
			}
		}
	}
	st, err := onB.MessageStatus(ctx, h.read)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "read" {
		t.Fatalf("status of a message bob read, after the migration: %+v", st)
	}
	mediaFrom := []*client.Client{onA, onB}
	if !sharedMedia {
		mediaFrom = mediaFrom[:1]
	}
	for _, c := range mediaFrom {
		m, err := c.GetMedia(ctx, h.mediaID)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := c.Download(ctx, m.URL, 1<<20); err != nil || !bytes.Equal(got, h.media) {
			t.Fatalf("migrated media: %d bytes, %v", len(got), err)
		}
	}

	// A new message across nodes is delivered, and the sequence goes on.
	ac := apptest.Dial(ctx, t, onA)
	bc := apptest.Dial(ctx, t, client.New(nb.URL).WithToken(h.bob.Session.Token))
	want := h.messages[h.direct][len(h.messages[h.direct])-1].SequenceNumber + 1
	ack, err := ac.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "after", ConversationID: h.direct, MessageType: "text", Content: "in the cluster now"})
	if err != nil {
		t.Fatal(err)
	}
	if ack.SequenceNumber != want {
		t.Fatalf("first seq after the migration = %d, want %d", ack.SequenceNumber, want)
	}
	for {
		f, err := bc.Next(ctx, wire.TypeMessage)
		if err != nil {
			t.Fatalf("bob on node B waiting for alice's message: %v", err)
		}
		if f.MessageID == ack.MessageID {
			break
		}
	}
}

// TestMigrateRefuses: a database a server has used, a source at another
// schema version and a data dir without a database are refused before
// anything is copied.
func TestMigrateRefuses(t *testing.T) {
	ctx := testCtx(t)
	src := apptest.Start(t, apptest.Config(t), nil)
	src.NewUser(ctx, "erin")
	src.Stop()

	t.Run("a database a node has served", func(t *testing.T) {
		pg := apptest.Postgres(t)
		cfg := apptest.Config(t)
		cfg.Store = pg
		node := apptest.Start(t, cfg, nil)
		node.NewUser(ctx, "frank")
		node.Stop()
		_, err := Run(ctx, Options{From: src.Cfg.DataDir, To: pg})
		if !errors.Is(err, ErrTargetNotEmpty) {
			t.Fatalf("got %v, want ErrTargetNotEmpty", err)
		}
		if n := count(ctx, t, pg, "SELECT count(*) FROM users"); n != 1 {
			t.Fatalf("the refused target has %d users, want its own 1", n)
		}
	})
	t.Run("a source at an older schema", func(t *testing.T) {
		dir := t.TempDir()
		old := apptest.Config(t)
		old.DataDir = dir
		s := apptest.Start(t, old, nil)
		s.Stop()
		db, err := openSource(ctx, dir+"/parley.db")
		if err != nil {
			t.Fatal(err)
		}
		// query_only: writable again for the test's own change.
		if _, err := db.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = Run(ctx, Options{From: dir, To: apptest.Postgres(t)})
		if !errors.Is(err, ErrSchemaMismatch) {
			t.Fatalf("got %v, want ErrSchemaMismatch", err)
		}
	})
	t.Run("a dir without a database", func(t *testing.T) {
		if _, err := Run(ctx, Options{From: t.TempDir(), To: "postgres://127.0.0.1:1/x"}); err == nil {
			t.Fatal("an empty data dir was migrated")
		}
	})
}
