package sqlstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/retention"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

var t0 = time.UnixMilli(1_790_000_000_000)

// seed opens a store in dir with two users, a 1:1 and n messages of size
// bytes created at t0, appended in batches of 1000 like the group commit.
func seed(t testing.TB, dir string, n, size int) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"a", "b"} {
		if err := s.CreateUser(ctx, identity.User{ID: u, Username: u + "-user", DisplayName: u, CreatedAt: t0}, "h"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateDevice(ctx, identity.Device{ID: "b1", UserID: "b", CreatedAt: t0, ExpiresAt: t0.Add(1000 * time.Hour)}, []byte("b1"), 5); err != nil {
		t.Fatal(err)
	}
	c := conversations.Conversation{ID: "ab", Type: conversations.TypeDirect, CreatedBy: "a", CreatedAt: t0, LastActivityAt: t0,
		Members: []conversations.Member{{UserID: "a", Role: "member"}, {UserID: "b", Role: "member"}}}
	if _, _, err := s.CreateDirect(ctx, c, "a:b"); err != nil {
		t.Fatal(err)
	}
	content := strings.Repeat("x", size)
	for start := 0; start < n; start += 1000 {
		batch := make([]messaging.Message, 0, 1000)
		for i := start; i < min(n, start+1000); i++ {
			batch = append(batch, messaging.Message{ID: fmt.Sprint("m", i), ConversationID: "ab", SenderID: "a", SenderDevice: "a1",
				ClientMessageID: fmt.Sprint(i), Type: "text", Content: content, CreatedAt: t0})
		}
		if _, err := s.AppendMessages(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func fileSize(t testing.TB, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, sqlstore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// storeLog expires through the store directly, as a committer would in
// its cycles.
type storeLog struct{ s *sqlstore.Store }

func (l storeLog) Expire(ctx context.Context, cutoff, now time.Time, limit int) (int, int64, int, error) {
	n, bytes, changes, err := l.s.ExpireMessages(ctx, cutoff, now, limit)
	return n, bytes, len(changes), err
}

func newCleanup(s *sqlstore.Store, now time.Time, batch int) *retention.Service {
	return retention.New(s, storeLog{s}, nil, clock.NewFake(now), retention.Config{Retention: time.Hour, Interval: time.Hour, Batch: batch},
		slog.New(slog.DiscardHandler), nil)
}

// TestCleanupResumesAfterRestart stops a pass after one batch (as a crash
// would), reopens the database, and finishes: every message gone, each
// expiry recorded exactly once, and the file shrinks.
func TestCleanupResumesAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := seed(t, dir, 3000, 1000)
	before := fileSize(t, dir)
	now := t0.Add(2 * time.Hour)
	n, _, changes, err := s.ExpireMessages(ctx, now.Add(-time.Hour), now, 500)
	if err != nil || n != 500 || len(changes) != 500 {
		t.Fatalf("first batch: %d, %d changes, %v", n, len(changes), err)
	}
	s.Close()

	s, err = sqlstore.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sum, err := newCleanup(s, now, 500).RunOnce(ctx)
	if err != nil || sum.ExpiredMessages != 2500 || sum.ExpiredStatuses != 2500 {
		t.Fatalf("resumed pass = %+v, %v", sum, err)
	}
	all, err := s.StatusesSince(ctx, "a", 0, 10000)
	if err != nil || len(all) != 3000 {
		t.Fatalf("%d expiry events, %v; want exactly 3000", len(all), err)
	}
	after := fileSize(t, dir)
	if after >= before/2 {
		t.Fatalf("file is %d bytes after expiring everything, %d before: space not reclaimed", after, before)
	}
}

// BenchmarkCleanupMillion measures a cleanup pass over 1,000,000 expired
// messages (rows/s is reported). Run with -benchtime 1x: the seeding takes
// longer than the pass.
func BenchmarkCleanupMillion(b *testing.B) {
	if b.N > 1 {
		// Seeding a million rows takes a minute: a `-bench .` run must
		// not repeat it b.N times.
		b.Skip("run it alone with -benchtime 1x")
	}
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		s := seed(b, dir, 1_000_000, 100)
		svc := newCleanup(s, t0.Add(2*time.Hour), 1000)
		b.StartTimer()
		sum, err := svc.RunOnce(context.Background())
		if err != nil || sum.ExpiredMessages != 1_000_000 {
			b.Fatal(sum, err)
		}
		b.ReportMetric(float64(sum.ExpiredMessages)/sum.Duration.Seconds(), "rows/s")
		s.Close()
	}
}
