package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/internal/store"
)

func mustMedia(t *testing.T, s Store, id, uploader string, status media.Status, created time.Time) media.Media {
	t.Helper()
	m := media.Media{ID: id, UploaderID: uploader, Kind: media.KindImage, ContentType: "image/png",
		DeclaredSize: 100, Status: status, CreatedAt: created}
	if err := s.CreateMedia(ctx(t), m); err != nil {
		t.Fatalf("create media %s: %v", id, err)
	}
	return m
}

func testMediaLifecycle(t *testing.T, s Store) {
	mustUser(t, s, "a")
	m := mustMedia(t, s, "m1", "a", media.StatusPending, t0)
	if err := s.CreateMedia(ctx(t), m); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate media id: %v, want ErrConflict", err)
	}
	if _, err := s.MediaByID(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("MediaByID(nope) = %v", err)
	}
	got, err := s.MediaByID(ctx(t), "m1")
	if err != nil || got.UploaderID != "a" || got.Status != media.StatusPending || got.DeclaredSize != 100 ||
		got.Kind != media.KindImage || !got.CreatedAt.Equal(t0) || !got.CompletedAt.IsZero() {
		t.Fatalf("MediaByID = %+v, %v", got, err)
	}

	// The status is a compare-and-set: of two completions, one claims it.
	m.Status = media.StatusProcessing
	if err := s.UpdateMedia(ctx(t), m, media.StatusPending); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if err := s.UpdateMedia(ctx(t), m, media.StatusPending); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second claim: %v, want ErrConflict", err)
	}
	ghost := m
	ghost.ID = "ghost"
	if err := s.UpdateMedia(ctx(t), ghost, media.StatusPending); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing row: %v, want ErrNotFound", err)
	}

	m.Status, m.Size, m.Width, m.Height, m.DurationMS, m.Codec = media.StatusReady, 90, 640, 480, 2000, "h264"
	m.Waveform, m.ThumbSize, m.VariantSize, m.CompletedAt = []byte{0, 128, 255}, 10, 20, t0.Add(time.Second)
	if err := s.UpdateMedia(ctx(t), m, media.StatusProcessing); err != nil {
		t.Fatalf("ready: %v", err)
	}
	got, err = s.MediaByID(ctx(t), "m1")
	if err != nil || got.Status != media.StatusReady || got.Size != 90 || got.Width != 640 || got.Height != 480 ||
		got.DurationMS != 2000 || got.Codec != "h264" || !bytes.Equal(got.Waveform, []byte{0, 128, 255}) ||
		got.ThumbSize != 10 || got.VariantSize != 20 || !got.CompletedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("after ready = %+v, %v", got, err)
	}
}

func testMediaVisibility(t *testing.T, s Store) {
	for _, u := range []string{"a", "b", "c", "d"} {
		mustUser(t, s, u)
	}
	mustDevice(t, s, "a", "a1")
	mustMedia(t, s, "m1", "a", media.StatusReady, t0)
	mustMedia(t, s, "m2", "a", media.StatusReady, t0)
	mustGroup(t, s, "g", 100, "a", "b", "c")
	visible := func(id, user string) bool {
		t.Helper()
		ok, err := s.MediaVisible(ctx(t), id, user)
		if err != nil {
			t.Fatalf("MediaVisible(%s, %s): %v", id, user, err)
		}
		return ok
	}
	if visible("m1", "b") {
		t.Fatalf("media no message carries is visible")
	}
	with := msg("g", "a", "a1", "1")
	with.MediaID = "m1"
	mustAppend(t, s, with)
	if !visible("m1", "b") || !visible("m1", "c") || !visible("m1", "a") {
		t.Fatalf("members do not see the media their message carries")
	}
	if visible("m1", "d") || visible("m2", "b") || visible("nope", "b") {
		t.Fatalf("visibility leaks to a non-member or to another media")
	}

	// c is removed: it keeps what it was sent before, not what follows.
	err := s.Update(ctx(t), func(tx conversations.Tx) error {
		seq, err := tx.AppendSystem(ctx(t), conversations.SystemMessage{ID: "rm", ConversationID: "g", SenderID: "a", SenderDevice: "a1", Content: "{}", CreatedAt: t0})
		if err != nil {
			return err
		}
		return tx.RemoveMember(ctx(t), "g", "c", seq)
	})
	if err != nil {
		t.Fatal(err)
	}
	later := msg("g", "a", "a1", "3")
	later.MediaID = "m2"
	mustAppend(t, s, later)
	if !visible("m1", "c") || visible("m2", "c") || !visible("m2", "b") {
		t.Fatalf("removed member's window: m1 %v, m2 %v", visible("m1", "c"), visible("m2", "c"))
	}

	// d joins after m1 was sent: it does not see it.
	err = s.Update(ctx(t), func(tx conversations.Tx) error {
		seq, err := tx.AppendSystem(ctx(t), conversations.SystemMessage{ID: "add", ConversationID: "g", SenderID: "a", SenderDevice: "a1", Content: "{}", CreatedAt: t0})
		if err != nil {
			return err
		}
		return tx.AddMember(ctx(t), "g", conversations.Member{UserID: "d", Role: "member", JoinedAt: t0, JoinedSeq: seq}, 100)
	})
	if err != nil {
		t.Fatal(err)
	}
	if visible("m1", "d") || visible("m2", "d") {
		t.Fatalf("a member who joined later sees earlier media")
	}
}

func testMediaSweepAndExpiry(t *testing.T, s Store) {
	mustUser(t, s, "a")
	hour := time.Hour
	mustMedia(t, s, "p-old", "a", media.StatusPending, t0)
	mustMedia(t, s, "f-old", "a", media.StatusFailed, t0.Add(time.Millisecond))
	mustMedia(t, s, "x-old", "a", media.StatusProcessing, t0.Add(2*time.Millisecond))
	mustMedia(t, s, "r-old", "a", media.StatusReady, t0.Add(3*time.Millisecond))
	mustMedia(t, s, "p-new", "a", media.StatusPending, t0.Add(2*hour))

	ab, err := s.AbandonedMedia(ctx(t), t0.Add(hour), 10)
	if err != nil || len(ab) != 3 || ab[0].ID != "p-old" || ab[1].ID != "f-old" || ab[2].ID != "x-old" {
		t.Fatalf("AbandonedMedia = %v, %v", ids(ab), err)
	}
	if ab, _ := s.AbandonedMedia(ctx(t), t0.Add(hour), 2); len(ab) != 2 {
		t.Fatalf("AbandonedMedia ignores its limit: %d", len(ab))
	}
	old, err := s.MediaCreatedBefore(ctx(t), t0.Add(hour), 10)
	if err != nil || len(old) != 4 || old[3].ID != "r-old" {
		t.Fatalf("MediaCreatedBefore = %v, %v", ids(old), err)
	}
	if err := s.DeleteMedia(ctx(t), []string{"p-old", "r-old", "unknown"}); err != nil {
		t.Fatalf("DeleteMedia: %v", err)
	}
	if err := s.DeleteMedia(ctx(t), nil); err != nil {
		t.Fatalf("DeleteMedia(nil): %v", err)
	}
	if _, err := s.MediaByID(ctx(t), "r-old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted media still there: %v", err)
	}
	old, _ = s.MediaCreatedBefore(ctx(t), t0.Add(3*hour), 10)
	if len(old) != 3 {
		t.Fatalf("after delete = %v", ids(old))
	}
}

func ids(ms []media.Media) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
