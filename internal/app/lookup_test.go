package app_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/wire"
)

// notFound fails unless err is a 404 not_found.
func notFound(t *testing.T, err error, what string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusNotFound || e.Code != "not_found" {
		t.Fatalf("%s: %v, want 404 not_found", what, err)
	}
}

// TestFindUserByUsername: an exact name in any case finds its user; a
// name no one has and a hidden user's name are the same 404; a hidden
// user is still found by id and finds itself; showing it again finds it.
func TestFindUserByUsername(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")

	u, err := alice.API.FindUser(ctx, strings.ToUpper(bob.Username))
	if err != nil || u != bob.User {
		t.Fatalf("lookup in another case = %+v, %v, want %+v", u, err, bob.User)
	}
	_, err = alice.API.FindUser(ctx, "no-such-user-anywhere")
	notFound(t, err, "a name no one has")
	_, err = alice.API.FindUser(ctx, bob.Username[:len(bob.Username)-1])
	notFound(t, err, "a prefix of a name (exact match only)")
	_, err = alice.API.FindUser(ctx, "@"+bob.Username)
	notFound(t, err, "a name no account can have")
	for _, q := range []string{"/api/v1/users", "/api/v1/users?username="} {
		if err := alice.API.Do(ctx, http.MethodGet, q, nil, nil); client.ErrorCode(err) != "invalid" {
			t.Fatalf("GET %s: %v, want 400 invalid", q, err)
		}
	}
	if _, err := srv.Client().FindUser(ctx, bob.Username); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("without a token: %v, want unauthorized", err)
	}

	s, err := bob.API.Settings(ctx)
	if err != nil || s.Discoverable != wire.DiscoverableEveryone {
		t.Fatalf("default settings = %+v, %v, want discoverable everyone", s, err)
	}
	s, err = bob.API.UpdateSettings(ctx, wire.SettingsUpdate{Discoverable: wire.DiscoverableNobody})
	if err != nil || s.Discoverable != wire.DiscoverableNobody || s.LastSeenVisibility != "everyone" || s.OnlineVisibility != "everyone" {
		t.Fatalf("hide = %+v, %v", s, err)
	}
	_, err = alice.API.FindUser(ctx, bob.Username)
	notFound(t, err, "a hidden user by name")
	if u, err := alice.API.User(ctx, bob.UserID); err != nil || u != bob.User {
		t.Fatalf("a hidden user by id = %+v, %v", u, err)
	}
	if u, err := bob.API.FindUser(ctx, strings.ToUpper(bob.Username)); err != nil || u.UserID != bob.UserID {
		t.Fatalf("a hidden user finds itself = %+v, %v", u, err)
	}
	if _, err := bob.API.UpdateSettings(ctx, wire.SettingsUpdate{Discoverable: wire.DiscoverableEveryone}); err != nil {
		t.Fatal(err)
	}
	if u, err := alice.API.FindUser(ctx, bob.Username); err != nil || u.UserID != bob.UserID {
		t.Fatalf("shown again = %+v, %v", u, err)
	}
}

// TestDiscoverableSettingRefusals: a bad value is 400 invalid and changes
// nothing, not even the valid fields beside it.
func TestDiscoverableSettingRefusals(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	bob := srv.NewUser(ctx, "bob")
	for _, bad := range []map[string]string{
		{"discoverable": "contacts"},
		{"discoverable": "EVERYONE"},
		{"discoverable": "nobody", "last_seen_visibility": "friends"},
		{"discoverable": "maybe", "online_visibility": "nobody", "last_seen_visibility": "nobody"},
		{"discoverable": "nobody", "avatar_visibility": "friends"},
		{"about_visibility": "Nobody", "online_visibility": "nobody"},
	} {
		if err := bob.API.Do(ctx, http.MethodPatch, "/api/v1/users/me/settings", bad, nil); client.ErrorCode(err) != "invalid" {
			t.Fatalf("settings %v: %v, want invalid", bad, err)
		}
	}
	want := client.Settings{LastSeenVisibility: "everyone", OnlineVisibility: "everyone", Discoverable: "everyone",
		AvatarVisibility: "everyone", AboutVisibility: "everyone"}
	if s, err := bob.API.Settings(ctx); err != nil || s != want {
		t.Fatalf("after refusals = %+v, %v, want nothing changed", s, err)
	}
	// The fields are saved together and each alone leaves the others.
	s, err := bob.API.UpdateSettings(ctx, wire.SettingsUpdate{Discoverable: "nobody", OnlineVisibility: "contacts"})
	if err != nil || s != (client.Settings{LastSeenVisibility: "everyone", OnlineVisibility: "contacts", Discoverable: "nobody", AvatarVisibility: "everyone", AboutVisibility: "everyone"}) {
		t.Fatalf("both = %+v, %v", s, err)
	}
	s, err = bob.API.UpdateSettings(ctx, wire.SettingsUpdate{LastSeenVisibility: "nobody"})
	if err != nil || s != (client.Settings{LastSeenVisibility: "nobody", OnlineVisibility: "contacts", Discoverable: "nobody", AvatarVisibility: "everyone", AboutVisibility: "everyone"}) {
		t.Fatalf("last seen alone = %+v, %v", s, err)
	}
}

// TestLookupsLimitedPerUser: past --lookup-burst lookups (found or not) a
// user is refused 429 with Retry-After until its bucket refills; another
// user is not affected; 0 turns the limit off.
func TestLookupsLimitedPerUser(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Now())
	cfg := apptest.Config(t)
	cfg.Abuse.LookupRate, cfg.Abuse.LookupBurst = 3, 3 // a minute: one back every 20 s
	srv := apptest.Start(t, cfg, clk)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	if _, err := alice.API.FindUser(ctx, bob.Username); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"no-one-1", "no-one-2"} { // misses count too
		_, err := alice.API.FindUser(ctx, name)
		notFound(t, err, name)
	}
	_, err := alice.API.FindUser(ctx, bob.Username)
	refused(t, err, 20*time.Second, "the fourth lookup in a minute")
	if _, err := bob.API.FindUser(ctx, alice.Username); err != nil {
		t.Fatalf("another user: %v", err)
	}
	if _, err := alice.API.User(ctx, bob.UserID); err != nil {
		t.Fatalf("a lookup by id is not limited: %v", err)
	}
	clk.Advance(20 * time.Second)
	if _, err := alice.API.FindUser(ctx, bob.Username); err != nil {
		t.Fatalf("20 s later: %v", err)
	}
	_, err = alice.API.FindUser(ctx, bob.Username)
	refused(t, err, 20*time.Second, "the next one")
	if body := metricsBody(t, srv); !strings.Contains(body, `parley_limited_total{limit="user_lookups"} 2`) {
		t.Fatal("the refusals were not counted as user_lookups")
	}

	off := apptest.Config(t)
	off.Abuse.LookupRate = 0
	srv = apptest.Start(t, off, nil)
	carol, dave := srv.NewUser(ctx, "carol"), srv.NewUser(ctx, "dave")
	for i := range config.DefaultAbuse().LookupBurst + 5 {
		if _, err := carol.API.FindUser(ctx, dave.Username); err != nil {
			t.Fatalf("lookup %d with the limit off: %v", i+1, err)
		}
	}
}

// TestClusterDiscoverabilityOnEveryNode: hiding on one node hides on the
// other at once (lookups read the store, no node caches the setting).
func TestClusterDiscoverabilityOnEveryNode(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodesWith(t, func(*config.Config) {})
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	if _, err := on(nb, alice).FindUser(ctx, bob.Username); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.API.UpdateSettings(ctx, wire.SettingsUpdate{Discoverable: wire.DiscoverableNobody}); err != nil {
		t.Fatal(err)
	}
	_, err := on(nb, alice).FindUser(ctx, bob.Username)
	notFound(t, err, "hidden on A, looked up on B")
	if s, err := on(nb, bob).Settings(ctx); err != nil || s.Discoverable != wire.DiscoverableNobody {
		t.Fatalf("settings on B = %+v, %v", s, err)
	}
	if _, err := on(nb, bob).UpdateSettings(ctx, wire.SettingsUpdate{Discoverable: wire.DiscoverableEveryone}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.FindUser(ctx, bob.Username); err != nil {
		t.Fatalf("shown on B, looked up on A: %v", err)
	}
}
