package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// TestSendBatchRetriedAfterDeadlock: a commit cycle whose lock on a
// conversation PostgreSQL breaks as a deadlock runs again, whole, and its
// sends are stored. The deadlock surfaces while the locked rows are read,
// and a cycle that did not look then went on into an aborted transaction
// and failed every send of it (parley chaos lost a cycle of 27 sends and
// 45 receipts so).
func TestSendBatchRetriedAfterDeadlock(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := apptest.Postgres(t)
	s, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.PostgresOptions{AppName: "parley-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Unix(1_790_000_000, 0)
	for _, u := range []string{"a", "b", "c"} {
		if err := s.CreateUser(ctx, identity.User{ID: u, Username: "user-" + u, DisplayName: u, CreatedAt: t0}, "h"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateDevice(ctx, identity.Device{ID: "a1", UserID: "a", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), LastUsedAt: t0}, []byte("t"), 5); err != nil {
		t.Fatal(err)
	}
	for _, other := range []string{"b", "c"} {
		c := conversations.Conversation{ID: "a" + other, Type: conversations.TypeDirect, CreatedBy: "a", CreatedAt: t0, LastActivityAt: t0,
			Members: []conversations.Member{{UserID: "a", Role: conversations.RoleMember, JoinedAt: t0}, {UserID: other, Role: conversations.RoleMember, JoinedAt: t0}}}
		if _, _, err := s.CreateDirect(ctx, c, "a:"+other); err != nil {
			t.Fatal(err)
		}
	}

	// Another writer holds "ac"; the cycle takes "ab", then waits for
	// "ac"; the writer then asks for "ab": a deadlock, which PostgreSQL
	// breaks by aborting the cycle.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	// The cycle's backend looks for the deadlock after the default second;
	// this one not before the test ends, whatever the scheduling: the
	// cycle is the victim.
	if _, err := other.ExecContext(ctx, `SET LOCAL deadlock_timeout = '60s'`); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(ctx, `SELECT 1 FROM conversations WHERE id = 'ac' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	send := func(conv, cmid string) messaging.Message {
		return messaging.Message{ID: "m-" + cmid, ConversationID: conv, SenderID: "a", SenderDevice: "a1",
			ClientMessageID: cmid, Type: "text", Content: "x", CreatedAt: t0}
	}
	done := make(chan error, 1)
	var res messaging.Committed
	go func() {
		var err error
		res, err = s.Commit(ctx, messaging.Batch{Sends: []messaging.Message{send("ab", "1"), send("ac", "2")}})
		done <- err
	}()
	// Wait for the cycle to wait on the lock.
	for {
		var waiting bool
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'parley-test')`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the cycle ended before waiting for the lock: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, err := other.ExecContext(ctx, `SELECT 1 FROM conversations WHERE id = 'ab' FOR UPDATE`); err != nil {
		t.Fatalf("the other writer was the deadlock's victim (%v): the test needs the cycle to be", err)
	}
	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the cycle failed after a deadlock: %v", err)
	}
	for i, r := range res.Sends {
		if r.Err != nil || r.Message.Seq != 1 {
			t.Fatalf("send %d = %+v; want stored as seq 1", i, r)
		}
	}
}
