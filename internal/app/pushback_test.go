package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// metric reads one sample of the server's /metrics; a series not exported
// yet reads as 0.
func metric(t *testing.T, srv *apptest.Server, series string) float64 {
	t.Helper()
	for line := range strings.Lines(metricsBody(t, srv)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	return 0
}

// waitMetric waits until the series reads want (false: ctx ended first).
func waitMetric(ctx context.Context, t *testing.T, srv *apptest.Server, series string, want float64) bool {
	t.Helper()
	for metric(t, srv, series) != want {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond): // between looks at /metrics
		}
	}
	return true
}

// storeLock holds SQLite's write lock on srv's database from outside the
// server, as a long checkpoint or a stalled disk would: the group
// committer's next transaction waits for it (up to the store's
// busy_timeout, 10 s, far more than the few frames exchanged meanwhile).
type storeLock struct {
	t    *testing.T
	conn *sql.Conn
}

func lockStore(ctx context.Context, t *testing.T, srv *apptest.Server) *storeLock {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.Cfg.DataDir, sqlstore.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("take the write lock: %v", err)
	}
	l := &storeLock{t: t, conn: conn}
	t.Cleanup(l.release)
	return l
}

func (l *storeLock) release() {
	if l.conn == nil {
		return
	}
	if _, err := l.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		l.t.Errorf("release the write lock: %v", err)
	}
	_ = l.conn.Close()
	l.conn = nil
}

func messageFrame(cmid, conv string) map[string]any {
	return map[string]any{"type": "message", "client_message_id": cmid, "conversation_id": conv, "message_type": "text", "content": "content of " + cmid}
}

// TestPendingSendsBoundPushesBack: with the committer stalled, the node
// admits --max-pending-sends messages and refuses the rest at once with
// rate_limited and retry_after_ms, storing nothing for them; once the
// committer moves, exactly the admitted ones are acked and delivered, and
// a refused one resent with its key is stored. The Go SDK resends after
// the hint by itself.
func TestPendingSendsBoundPushesBack(t *testing.T) {
	ctx := testCtx(t)
	const bound, sends = 4, 7
	cfg := apptest.Config(t)
	cfg.Abuse.MaxPendingSends = bound
	srv := apptest.Start(t, cfg, nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	// Raw frames on ac: its answers come to Frames, one by one.
	ac, bc := alice.Dial(ctx), bob.Dial(ctx)
	cmid := func(i int) string { return fmt.Sprintf("m%d", i) }

	lock := lockStore(ctx, t, srv)
	for i := range sends {
		if err := ac.Send(ctx, messageFrame(cmid(i), conv.ConversationID)); err != nil {
			t.Fatal(err)
		}
	}
	// The reader handles frames in order and nothing commits: the first
	// `bound` are admitted and wait, each later one is refused at once.
	for i := bound; i < sends; i++ {
		f, err := ac.Next(ctx, "error", "message_ack")
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != "error" || f.Code != "rate_limited" || f.ClientMessageID != cmid(i) ||
			f.Message != "server busy: resend after retry_after_ms" || f.RetryAfterMS <= 0 {
			t.Fatalf("answer to %s while %d sends wait: %s; want rate_limited with retry_after_ms", cmid(i), bound, f.Raw)
		}
		t.Logf("%s refused: retry_after_ms %d", cmid(i), f.RetryAfterMS)
	}
	if v := metric(t, srv, "parley_sends_pending"); v != bound {
		t.Fatalf("parley_sends_pending = %v, want %d", v, bound)
	}
	if v := metric(t, srv, `parley_limited_total{limit="pending_sends"}`); v != sends-bound {
		t.Fatalf(`parley_limited_total{limit="pending_sends"} = %v, want %d`, v, sends-bound)
	}

	lock.release()
	for i := range bound {
		f, err := ac.Next(ctx, "error", "message_ack")
		if err != nil {
			t.Fatal(err)
		}
		if f.Type != "message_ack" || f.ClientMessageID != cmid(i) || f.SequenceNumber != int64(i+1) {
			t.Fatalf("after the commit: %s; want the ack of %s, sequence %d", f.Raw, cmid(i), i+1)
		}
		m, err := bc.Next(ctx, "message")
		if err != nil {
			t.Fatal(err)
		}
		if m.SequenceNumber != int64(i+1) || m.Content != "content of "+cmid(i) {
			t.Fatalf("bob received %s; want %s as sequence %d", m.Raw, cmid(i), i+1)
		}
	}
	// A refused message resent with its key is stored, after the others.
	ack, err := ac.SendMessage(ctx, text(cmid(bound), conv.ConversationID, "content of "+cmid(bound)))
	if err != nil || ack.SequenceNumber != bound+1 {
		t.Fatalf("resent %s: %+v, %v; want sequence %d", cmid(bound), ack, err, bound+1)
	}
	if m, err := bc.Next(ctx, "message"); err != nil || m.Content != "content of "+cmid(bound) {
		t.Fatalf("bob's next message: %s, %v; want the resent %s", m.Raw, err, cmid(bound))
	}
	hist, err := bob.API.Messages(ctx, conv.ConversationID, client.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range hist {
		got = append(got, strings.TrimPrefix(m.Content, "content of "))
	}
	if want := "m0 m1 m2 m3 m4"; strings.Join(got, " ") != want {
		t.Fatalf("history %v, want %s: the refused m5 and m6 must not be stored", got, want)
	}
	if v := metric(t, srv, "parley_sends_pending"); v != 0 {
		t.Fatalf("parley_sends_pending = %v after every ack, want 0", v)
	}

	// The SDK: a send refused while the committer stalls is resent after
	// each hint until it is stored; its caller sees one ack.
	sdk, err := alice.API.Dial(ctx, client.DialOptions{SendRetries: 1 << 20}) // until ctx ends
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sdk.Abort)
	lock = lockStore(ctx, t, srv)
	for i := range bound {
		if err := ac.Send(ctx, messageFrame(fmt.Sprintf("fill%d", i), conv.ConversationID)); err != nil {
			t.Fatal(err)
		}
	}
	// The fillers are admitted (on their own connection, so the SDK's
	// send must wait for that to be refused in their place).
	if !waitMetric(ctx, t, srv, "parley_sends_pending", bound) {
		t.Fatalf("parley_sends_pending never reached %d", bound)
	}
	type result struct {
		ack client.Ack
		err error
	}
	res := make(chan result, 1)
	refusedBefore := metric(t, srv, `parley_limited_total{limit="pending_sends"}`)
	go func() {
		a, err := sdk.SendMessage(ctx, text("sdk", conv.ConversationID, "content of sdk"))
		res <- result{a, err}
	}()
	// Wait until the server has refused the SDK's send at least once.
	for metric(t, srv, `parley_limited_total{limit="pending_sends"}`) == refusedBefore {
		select {
		case r := <-res:
			t.Fatalf("SendMessage returned while the store was locked: %+v, %v", r.ack, r.err)
		case <-ctx.Done():
			t.Fatal("the SDK's send was never refused")
		case <-time.After(5 * time.Millisecond): // between looks at /metrics
		}
	}
	lock.release()
	r := <-res
	if r.err != nil || r.ack.SequenceNumber != bound+1+bound+1 {
		t.Fatalf("SDK send: %+v, %v; want its ack, after the %d fillers", r.ack, r.err, bound)
	}
	for i := range bound {
		if f, err := ac.Next(ctx, "error", "message_ack"); err != nil || f.Type != "message_ack" {
			t.Fatalf("filler %d: %s, %v", i, f.Raw, err)
		}
	}
}
