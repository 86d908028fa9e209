package app_test

import (
	"bytes"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/media/mediatest"
)

func str(s string) *string { return &s }

// TestProfileUpdate: display name and about change, each alone; an about
// over 140 characters, or with a line break, or a bad display name in the
// same request, is 400 invalid and changes nothing at all; the 140 are
// counted after NFC (a decomposed é is one character).
func TestProfileUpdate(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
		u, err := alice.API.UpdateProfile(ctx, client.ProfileUpdate{DisplayName: str("Alice A."), About: str("  at the gym  ")})
		if err != nil || u.DisplayName != "Alice A." || u.About != "at the gym" {
			t.Fatalf("update = %+v, %v; want the new name and the trimmed about", u, err)
		}
		if u, err := bob.API.User(ctx, alice.UserID); err != nil || u.DisplayName != "Alice A." || u.About != "at the gym" || u.Avatar != nil {
			t.Fatalf("bob sees %+v, %v", u, err)
		}
		for _, tc := range []struct {
			name string
			upd  client.ProfileUpdate
		}{
			{"141 characters", client.ProfileUpdate{About: str(strings.Repeat("a", 141))}},
			{"a line break", client.ProfileUpdate{About: str("two\nlines")}},
			{"a NUL", client.ProfileUpdate{About: str("a\x00b")}},
			{"a bidi override", client.ProfileUpdate{About: str("evil\u202Etxt")}},
			{"a good about with a bad name", client.ProfileUpdate{About: str("changed"), DisplayName: str("bad\u200Bname")}},
			{"a good name with a bad about", client.ProfileUpdate{DisplayName: str("Changed"), About: str(strings.Repeat("é", 141))}},
		} {
			_, err := alice.API.UpdateProfile(ctx, tc.upd)
			wantStatus(t, err, http.StatusBadRequest, "invalid", tc.name)
		}
		if u, err := alice.API.User(ctx, alice.UserID); err != nil || u.DisplayName != "Alice A." || u.About != "at the gym" {
			t.Fatalf("after refused updates: %+v, %v; want nothing changed", u, err)
		}
		// 140 decomposed é (280 code points) are 140 characters in NFC.
		long := strings.Repeat("e\u0301", 140)
		if u, err := alice.API.UpdateProfile(ctx, client.ProfileUpdate{About: &long}); err != nil || u.About != strings.Repeat("é", 140) {
			t.Fatalf("140 decomposed characters = %q, %v; want accepted in NFC", u.About, err)
		}
		// An empty display name is the username, as at registration.
		if u, err := alice.API.UpdateProfile(ctx, client.ProfileUpdate{DisplayName: str("")}); err != nil || u.DisplayName != alice.Username {
			t.Fatalf("empty display name = %+v, %v; want the username", u, err)
		}
		// Not JSON, or a field of the wrong type: invalid.
		err = alice.API.Do(ctx, http.MethodPatch, "/api/v1/users/me/profile", map[string]any{"about": 7}, nil)
		wantStatus(t, err, http.StatusBadRequest, "invalid", "a number for about")
	})
}

// decodeSquare downloads a JPEG and checks that it is side x side and
// carries no EXIF (no APP1 segment, no trace of the GPS marker).
func decodeSquare(t *testing.T, c *client.Client, url string, side int) {
	t.Helper()
	data, ct, err := c.Download(testCtx(t), url, 10<<20)
	if err != nil {
		t.Fatalf("download %s: %v", url, err)
	}
	if ct != "image/jpeg" {
		t.Fatalf("content type %q", ct)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != side || b.Dy() != side {
		t.Fatalf("avatar is %dx%d; want %d square", b.Dx(), b.Dy(), side)
	}
	if bytes.Contains(data, []byte("Exif")) || bytes.Contains(data, []byte(mediatest.GPSMarker)) || bytes.Contains(data, []byte{0xff, 0xe1}) {
		t.Fatal("the avatar keeps EXIF")
	}
}

// TestAvatarPipeline: a photo with EXIF and GPS becomes a 640 and a 96
// square JPEG without either; the avatar outlives the media retention
// that deletes the upload it was made from; replacing it deletes the old
// one's objects; a document, an image not completed and someone else's
// image are refused and change nothing.
func TestAvatarPipeline(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
		cfg.Retention = month
		cfg.CleanupInterval = time.Hour // never during the test: the fake clock does not tick it
		cfg.SessionTTL = 90 * 24 * time.Hour
		srv := apptest.Start(t, cfg, clk)
		alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")

		photo := mustUpload(t, alice, "image/jpeg", mediatest.JPEGWithEXIF(t, 800, 500, 1))
		u, err := alice.API.SetAvatar(ctx, photo.MediaID)
		if err != nil || u.Avatar == nil || u.Avatar.AvatarID == "" {
			t.Fatalf("set avatar = %+v, %v", u, err)
		}
		first := *u.Avatar
		decodeSquare(t, bob.API, first.URL640, 640)
		decodeSquare(t, bob.API, first.URL96, 96)

		// Refusals, none of which touches the avatar.
		doc := mustUpload(t, alice, "text/plain", []byte("not a picture"))
		_, err = alice.API.SetAvatar(ctx, doc.MediaID)
		wantStatus(t, err, http.StatusUnprocessableEntity, "invalid", "a document")
		up, err := alice.API.CreateMedia(ctx, "image/png", 100)
		if err != nil {
			t.Fatal(err)
		}
		_, err = alice.API.SetAvatar(ctx, up.MediaID)
		wantStatus(t, err, http.StatusUnprocessableEntity, "invalid", "an upload not completed")
		bobs := mustUpload(t, bob, "image/png", mediatest.PNG(t, 50, 50))
		_, err = alice.API.SetAvatar(ctx, bobs.MediaID)
		wantStatus(t, err, http.StatusNotFound, "not_found", "bob's image")
		_, err = alice.API.SetAvatar(ctx, "01JNOSUCHMEDIA0000000000000")
		wantStatus(t, err, http.StatusNotFound, "not_found", "no such media")
		if u, err := bob.API.User(ctx, alice.UserID); err != nil || u.Avatar == nil || u.Avatar.AvatarID != first.AvatarID {
			t.Fatalf("after refusals bob sees %+v, %v; want the first avatar", u, err)
		}

		// The media expire; the avatar does not.
		clk.Advance(month + time.Hour)
		if sum, err := srv.App.RunCleanup(ctx); err != nil || sum.Media == 0 {
			t.Fatalf("cleanup = %+v, %v; want the upload expired", sum, err)
		}
		if _, err := alice.API.GetMedia(ctx, photo.MediaID); client.ErrorCode(err) != "not_found" {
			t.Fatalf("the photo after retention: %v; want not_found", err)
		}
		u, err = bob.API.User(ctx, alice.UserID)
		if err != nil || u.Avatar == nil {
			t.Fatalf("after retention bob sees %+v, %v; want the avatar", u, err)
		}
		decodeSquare(t, bob.API, u.Avatar.URL640, 640)

		// Replaced: the old objects go.
		second := mustUpload(t, alice, "image/png", mediatest.PNG(t, 120, 300))
		u, err = alice.API.SetAvatar(ctx, second.MediaID)
		if err != nil || u.Avatar == nil || u.Avatar.AvatarID == first.AvatarID {
			t.Fatalf("replace = %+v, %v", u, err)
		}
		decodeSquare(t, bob.API, u.Avatar.URL96, 96)
		old, err := bob.API.User(ctx, alice.UserID)
		if err != nil {
			t.Fatal(err)
		}
		oldURL := strings.Replace(old.Avatar.URL640, old.Avatar.AvatarID, first.AvatarID, 1)
		if _, _, err := bob.API.Download(ctx, oldURL, 1<<20); err == nil {
			t.Fatal("the replaced avatar is still served")
		}
		// Removed: null removes it, as "" does.
		var removed client.User
		if err := alice.API.Do(ctx, http.MethodPatch, "/api/v1/users/me/profile", map[string]any{"avatar_media_id": nil}, &removed); err != nil || removed.Avatar != nil {
			t.Fatalf("remove with null = %+v, %v", removed, err)
		}
		if u, err := bob.API.User(ctx, alice.UserID); err != nil || u.Avatar != nil {
			t.Fatalf("after the removal bob sees %+v, %v", u, err)
		}
	})
}

// TestProfileVisibility: avatar and about for everyone, contacts or
// nobody, as a contact (bob: alice opened a chat with him) and a stranger
// (carol) see them, by id and by username; alice always sees her own. A
// bad visibility changes no setting, not even a good one beside it.
func TestProfileVisibility(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		if _, err := alice.API.CreateDirect(ctx, bob.UserID); err != nil { // alice chose bob
			t.Fatal(err)
		}
		pic := mustUpload(t, alice, "image/png", mediatest.PNG(t, 64, 64))
		if _, err := alice.API.UpdateProfile(ctx, client.ProfileUpdate{About: str("hi"), AvatarMediaID: &pic.MediaID}); err != nil {
			t.Fatal(err)
		}
		sees := func(viewer *apptest.User) string {
			t.Helper()
			u, err := viewer.API.User(ctx, alice.UserID)
			if err != nil {
				t.Fatal(err)
			}
			f, err := viewer.API.FindUser(ctx, alice.Username)
			if err != nil {
				t.Fatal(err)
			}
			if (u.Avatar == nil) != (f.Avatar == nil) || u.About != f.About {
				t.Fatalf("by id %+v, by name %+v: not the same", u, f)
			}
			out := "about=" + u.About
			if u.Avatar != nil {
				out += " avatar"
			}
			return out
		}
		for _, tc := range []struct {
			avatar, about     string
			contact, stranger string
		}{
			{"everyone", "everyone", "about=hi avatar", "about=hi avatar"},
			{"contacts", "contacts", "about=hi avatar", "about="},
			{"contacts", "nobody", "about= avatar", "about="},
			{"nobody", "everyone", "about=hi", "about=hi"},
			{"nobody", "nobody", "about=", "about="},
		} {
			setPrivacy(t, alice, map[string]string{"avatar_visibility": tc.avatar, "about_visibility": tc.about})
			if g := sees(bob); g != tc.contact {
				t.Errorf("%s/%s: contact bob sees %q; want %q", tc.avatar, tc.about, g, tc.contact)
			}
			if g := sees(carol); g != tc.stranger {
				t.Errorf("%s/%s: stranger carol sees %q; want %q", tc.avatar, tc.about, g, tc.stranger)
			}
			if g := sees(alice); g != "about=hi avatar" {
				t.Errorf("%s/%s: alice sees her own as %q", tc.avatar, tc.about, g)
			}
		}
		// bob writing to alice does not make him see more: contacts are
		// the users alice chose, and she did not remove him.
		s, err := alice.API.Settings(ctx)
		if err != nil || s.AvatarVisibility != "nobody" || s.AboutVisibility != "nobody" {
			t.Fatalf("settings = %+v, %v", s, err)
		}
		err = alice.API.Do(ctx, http.MethodPatch, "/api/v1/users/me/settings",
			map[string]string{"last_seen_visibility": "contacts", "avatar_visibility": "friends"}, nil)
		wantStatus(t, err, http.StatusBadRequest, "invalid", "a bad avatar_visibility")
		if s, err := alice.API.Settings(ctx); err != nil || s.LastSeenVisibility != "everyone" || s.AvatarVisibility != "nobody" {
			t.Fatalf("after a refused change: %+v, %v; want nothing changed", s, err)
		}
	})
}

// TestProfileChangeReachesContactsLive: alice's contact bob and her
// other device hear of each change at once, by a profile frame with her
// id and name; carol, a stranger, hears nothing.
func TestProfileChangeReachesContactsLive(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	if _, err := bob.API.CreateDirect(ctx, alice.UserID); err != nil { // bob chose alice: she is in his list
		t.Fatal(err)
	}
	bc := served(t, bob.Dial(ctx))
	cc := served(t, carol.Dial(ctx))
	other := served(t, apptest.Dial(ctx, t, alice.NewDevice(ctx)))

	if _, err := alice.API.UpdateProfile(ctx, client.ProfileUpdate{DisplayName: str("Alice Liddell")}); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client.Conn{"bob": bc, "alice's other device": other} {
		f, err := c.Next(ctx, "profile")
		if err != nil || f.UserID != alice.UserID || f.DisplayName != "Alice Liddell" {
			t.Fatalf("%s got %+v, %v; want alice's profile frame", name, f, err)
		}
	}
	pic := mustUpload(t, alice, "image/png", mediatest.PNG(t, 64, 64))
	if _, err := alice.API.SetAvatar(ctx, pic.MediaID); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "profile"); err != nil || f.UserID != alice.UserID {
		t.Fatalf("the avatar change: %+v, %v", f, err)
	}
	// What the frame tells, the user object answers.
	if u, err := bob.API.User(ctx, alice.UserID); err != nil || u.Avatar == nil || u.DisplayName != "Alice Liddell" {
		t.Fatalf("bob fetches %+v, %v", u, err)
	}
	quiet(t, cc, "profile")
}

// TestGroupAvatar: a member sets the group's avatar and every member sees
// it in the conversation; a non-member is refused; a 1:1 has none; the
// member removes it.
func TestGroupAvatar(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		g, err := alice.API.CreateGroup(ctx, "club", []string{bob.UserID})
		if err != nil {
			t.Fatal(err)
		}
		ac := served(t, alice.Dial(ctx))
		pic := mustUpload(t, bob, "image/png", mediatest.PNG(t, 200, 100))
		c, err := bob.API.SetGroupAvatar(ctx, g.ConversationID, pic.MediaID)
		if err != nil || c.Avatar == nil || c.ConversationID != g.ConversationID {
			t.Fatalf("member bob sets the avatar: %+v, %v", c, err)
		}
		// The members hear of it live, in order with the group.
		if f, err := ac.Next(ctx, "message"); err != nil || f.MessageType != "system" || f.SenderID != bob.UserID ||
			!strings.Contains(f.Content, `"avatar_changed"`) || !strings.Contains(f.Content, `"set"`) {
			t.Fatalf("alice got %+v, %v; want bob's avatar_changed", f, err)
		}
		got, err := alice.API.Conversation(ctx, g.ConversationID)
		if err != nil || got.Avatar == nil || got.Avatar.AvatarID != c.Avatar.AvatarID {
			t.Fatalf("alice sees %+v, %v", got, err)
		}
		decodeSquare(t, alice.API, got.Avatar.URL640, 640)
		decodeSquare(t, alice.API, got.Avatar.URL96, 96)
		list, err := alice.API.Conversations(ctx)
		if err != nil || len(list) != 1 || list[0].Avatar == nil {
			t.Fatalf("alice's list = %+v, %v; want the group with its avatar", list, err)
		}

		carols := mustUpload(t, carol, "image/png", mediatest.PNG(t, 20, 20))
		_, err = carol.API.SetGroupAvatar(ctx, g.ConversationID, carols.MediaID)
		wantStatus(t, err, http.StatusForbidden, "forbidden", "a non-member sets the avatar")
		err = carol.API.RemoveGroupAvatar(ctx, g.ConversationID)
		wantStatus(t, err, http.StatusForbidden, "forbidden", "a non-member removes the avatar")
		_, err = bob.API.SetGroupAvatar(ctx, g.ConversationID, carols.MediaID)
		wantStatus(t, err, http.StatusNotFound, "not_found", "carol's image")
		_, err = bob.API.SetGroupAvatar(ctx, g.ConversationID, "")
		wantStatus(t, err, http.StatusBadRequest, "invalid", "no media_id")

		direct, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = bob.API.SetGroupAvatar(ctx, direct.ConversationID, pic.MediaID)
		wantStatus(t, err, http.StatusUnprocessableEntity, "invalid", "a 1:1")

		if err := bob.API.RemoveGroupAvatar(ctx, g.ConversationID); err != nil {
			t.Fatal(err)
		}
		if got, err := alice.API.Conversation(ctx, g.ConversationID); err != nil || got.Avatar != nil {
			t.Fatalf("after the removal: %+v, %v", got, err)
		}

		// "Only admins edit info": member bob may no longer, admin alice may;
		// the invite preview shows the picture.
		on := true
		if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{OnlyAdminsEditInfo: &on}); err != nil {
			t.Fatal(err)
		}
		_, err = bob.API.SetGroupAvatar(ctx, g.ConversationID, pic.MediaID)
		wantStatus(t, err, http.StatusForbidden, "forbidden", "a member sets the avatar of an only-admins group")
		alicePic := mustUpload(t, alice, "image/png", mediatest.PNG(t, 40, 40))
		if _, err := alice.API.SetGroupAvatar(ctx, g.ConversationID, alicePic.MediaID); err != nil {
			t.Fatalf("the admin sets it: %v", err)
		}
		inv, err := alice.API.CreateInvite(ctx, g.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := carol.API.PreviewInvite(ctx, inv.Code); err != nil || p.Avatar == nil || p.MemberCount != 2 {
			t.Fatalf("the invite preview = %+v, %v; want the group's picture and its size", p, err)
		}
	})
}

// TestClusterProfileAcrossNodes: a change made on node A reaches a
// contact connected to node B, through Redis, and B answers the new
// profile.
func TestClusterProfileAcrossNodes(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodes(t)
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	if _, err := alice.API.CreateDirect(ctx, bob.UserID); err != nil {
		t.Fatal(err)
	}
	bc := served(t, apptest.Dial(ctx, t, on(nb, bob))) // node B
	if _, err := alice.API.UpdateProfile(ctx, client.ProfileUpdate{DisplayName: str("Alice on A"), About: str("hello from A")}); err != nil {
		t.Fatal(err)
	}
	if f, err := bc.Next(ctx, "profile"); err != nil || f.UserID != alice.UserID || f.DisplayName != "Alice on A" {
		t.Fatalf("bob on node B got %+v, %v", f, err)
	}
	if u, err := on(nb, bob).User(ctx, alice.UserID); err != nil || u.About != "hello from A" {
		t.Fatalf("node B answers %+v, %v", u, err)
	}
}
