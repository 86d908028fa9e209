package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
)

// bothEngines runs a test on SQLite and on PostgreSQL.
func bothEngines(t *testing.T, fn func(t *testing.T, cfg config.Config)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, apptest.Config(t)) })
	t.Run("postgres", func(t *testing.T) {
		cfg := apptest.Config(t)
		cfg.Store = apptest.Postgres(t)
		fn(t, cfg)
	})
}

// wantStatus checks that err is a server answer of status and code.
func wantStatus(t *testing.T, err error, status int, code, what string) {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) || e.Status != status || e.Code != code {
		t.Fatalf("%s: %v, want %d %s", what, err, status, code)
	}
}

func sessionIDs(ctx context.Context, t *testing.T, c *client.Client) map[string]client.SessionInfo {
	t.Helper()
	list, err := c.Sessions(ctx)
	if err != nil {
		t.Fatalf("sessions: %v", err)
	}
	out := make(map[string]client.SessionInfo, len(list))
	for _, s := range list {
		out[s.SessionID] = s
	}
	return out
}

func TestDevicesListed(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		clk := clock.NewFake(time.Now())
		srv := apptest.Start(t, cfg, clk)
		u := srv.NewUser(ctx, "ines")
		clk.Advance(time.Second)
		phone, err := srv.Client().LoginDevice(ctx, u.Username, u.Password(), "Ines's phone")
		if err != nil {
			t.Fatal(err)
		}
		second := srv.Client().WithToken(phone.Token)

		list, err := u.API.Sessions(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("sessions = %+v, %v; want two", list, err)
		}
		// The phone logged in last: it is the most recently active.
		if list[0].SessionID != phone.DeviceID || list[0].Current || list[0].DeviceName != "Ines's phone" {
			t.Fatalf("first = %+v; want the phone, not current, named", list[0])
		}
		if list[1].SessionID != u.Session.DeviceID || !list[1].Current || list[1].DeviceName != "Go-http-client/1.1" {
			t.Fatalf("second = %+v; want the caller's own, named by its User-Agent", list[1])
		}
		if list[1].CreatedAt != u.Session.ExpiresAt-cfg.SessionTTL.Milliseconds() {
			t.Fatalf("created_at = %d, want the login time", list[1].CreatedAt)
		}
		if got := sessionIDs(ctx, t, second); !got[phone.DeviceID].Current || got[u.Session.DeviceID].Current {
			t.Fatalf("the phone's view: %+v", got)
		}

		// Use within a minute is not written; after it, it is.
		before := list[1].LastActiveAt
		clk.Advance(30 * time.Second)
		if got := sessionIDs(ctx, t, u.API)[u.Session.DeviceID].LastActiveAt; got != before {
			t.Fatalf("last_active_at moved within a minute: %d -> %d", before, got)
		}
		clk.Advance(time.Minute)
		list, err = u.API.Sessions(ctx)
		if err != nil || list[0].SessionID != u.Session.DeviceID || list[0].LastActiveAt != clk.Now().UnixMilli() {
			t.Fatalf("after a minute: %+v, %v; want the caller first, active now (%d)", list, err, clk.Now().UnixMilli())
		}
	})
}

func TestDeviceNameRefused(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	u := srv.NewUser(ctx, "jon")
	_, err := srv.Client().LoginDevice(ctx, u.Username, u.Password(), strings.Repeat("x", 65))
	wantStatus(t, err, 400, "invalid", "a 65-character device name")
	_, err = srv.Client().LoginDevice(ctx, u.Username, u.Password(), "evil\u202egnp.exe")
	wantStatus(t, err, 400, "invalid", "a device name with a bidi override")
	if n := len(sessionIDs(ctx, t, u.API)); n != 1 {
		t.Fatalf("%d sessions after refused logins, want 1", n)
	}
	s, err := srv.Client().LoginDevice(ctx, u.Username, u.Password(), strings.Repeat("é", 64))
	if err != nil || sessionIDs(ctx, t, u.API)[s.DeviceID].DeviceName != strings.Repeat("é", 64) {
		t.Fatalf("64 characters: %v", err)
	}
}

func TestEndSession(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		u, stranger := srv.NewUser(ctx, "kai"), srv.NewUser(ctx, "lea")
		other := u.NewDevice(ctx)
		mine, theirs := served(t, u.Dial(ctx)), served(t, apptest.Dial(ctx, t, other))
		strangers := served(t, stranger.Dial(ctx))
		otherID := ""
		for id, s := range sessionIDs(ctx, t, u.API) {
			if !s.Current {
				otherID = id
			}
		}

		// A stranger's session, or none: not found, and nothing ends.
		wantStatus(t, u.API.EndSession(ctx, stranger.Session.DeviceID), 404, "not_found", "a stranger's session")
		wantStatus(t, stranger.API.EndSession(ctx, otherID), 404, "not_found", "another user's session")
		wantStatus(t, u.API.EndSession(ctx, "nope"), 404, "not_found", "no such session")
		served(t, strangers)
		served(t, theirs)
		if _, err := stranger.API.Conversations(ctx); err != nil {
			t.Fatalf("the stranger after the refusals: %v", err)
		}

		if err := u.API.EndSession(ctx, otherID); err != nil {
			t.Fatal(err)
		}
		closedWith(ctx, t, theirs, 4001, "the ended session's socket")
		wantStatus(t, func() error { _, err := other.Conversations(ctx); return err }(), 401, "unauthorized", "the ended session's token")
		served(t, mine)
		if got := sessionIDs(ctx, t, u.API); len(got) != 1 || !got[u.Session.DeviceID].Current {
			t.Fatalf("sessions after ending one: %+v", got)
		}
		wantStatus(t, u.API.EndSession(ctx, otherID), 404, "not_found", "a session already ended")
	})
}

func TestEndOtherSessions(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		u, stranger := srv.NewUser(ctx, "max"), srv.NewUser(ctx, "nia")
		a, b := u.NewDevice(ctx), u.NewDevice(ctx)
		mine := served(t, u.Dial(ctx))
		ca, cb := served(t, apptest.Dial(ctx, t, a)), served(t, apptest.Dial(ctx, t, b))
		strangers := served(t, stranger.Dial(ctx))

		if err := u.API.EndOtherSessions(ctx); err != nil {
			t.Fatal(err)
		}
		closedWith(ctx, t, ca, 4001, "another device's socket")
		closedWith(ctx, t, cb, 4001, "a third device's socket")
		for _, c := range []*client.Client{a, b} {
			wantStatus(t, func() error { _, err := c.Conversations(ctx); return err }(), 401, "unauthorized", "an ended token")
		}
		served(t, mine)
		served(t, strangers)
		if got := sessionIDs(ctx, t, u.API); len(got) != 1 || !got[u.Session.DeviceID].Current {
			t.Fatalf("sessions after ending the others: %+v", got)
		}
		if got := sessionIDs(ctx, t, stranger.API); len(got) != 1 {
			t.Fatalf("the stranger's sessions: %+v", got)
		}
	})
}

func TestChangePassword(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		u := srv.NewUser(ctx, "ola")
		other := u.NewDevice(ctx)
		mine, theirs := served(t, u.Dial(ctx)), served(t, apptest.Dial(ctx, t, other))
		const next = "battery staple horse"

		wantStatus(t, u.API.ChangePassword(ctx, "wrong horse", next), 401, "unauthorized", "a wrong current password")
		wantStatus(t, u.API.ChangePassword(ctx, u.Password(), "short"), 400, "invalid", "a new password too short")
		served(t, theirs)
		if _, err := srv.Client().Login(ctx, u.Username, next); client.ErrorCode(err) != "unauthorized" {
			t.Fatalf("the new password before the change: %v", err)
		}
		if len(sessionIDs(ctx, t, u.API)) != 3-1 { // the failed login opened none
			t.Fatal("a refused change ended sessions")
		}

		if err := u.API.ChangePassword(ctx, u.Password(), next); err != nil {
			t.Fatal(err)
		}
		closedWith(ctx, t, theirs, 4001, "another device after the password change")
		wantStatus(t, func() error { _, err := other.Conversations(ctx); return err }(), 401, "unauthorized", "another device's token")
		served(t, mine)
		if _, err := u.API.Conversations(ctx); err != nil {
			t.Fatalf("the current session after the change: %v", err)
		}
		if _, err := srv.Client().Login(ctx, u.Username, u.Password()); client.ErrorCode(err) != "unauthorized" {
			t.Fatalf("the old password: %v", err)
		}
		if _, err := srv.Client().Login(ctx, u.Username, next); err != nil {
			t.Fatalf("the new password: %v", err)
		}
	})
}

// TestChangePasswordCountsAsALogin: wrong current passwords back the
// account off like failed logins.
func TestChangePasswordCountsAsALogin(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.Abuse.LoginFailureLimit = 2
	srv := apptest.Start(t, cfg, nil)
	u := srv.NewUser(ctx, "pia")
	for range 2 {
		wantStatus(t, u.API.ChangePassword(ctx, "wrong horse", "battery staple horse"), 401, "unauthorized", "a wrong current password")
	}
	wantStatus(t, u.API.ChangePassword(ctx, u.Password(), "battery staple horse"), 429, "rate_limited", "after the failures")
	_, err := srv.Client().Login(ctx, u.Username, u.Password())
	wantStatus(t, err, 429, "rate_limited", "a login after the failures")
}

// TestEndSessionReachesOtherNodes: a session ended through one node
// closes its socket on the node that holds it.
func TestEndSessionReachesOtherNodes(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodes(t)
	u := na.NewUser(ctx, "quinn")
	other := u.NewDeviceOn(ctx, nb)
	third := u.NewDeviceOn(ctx, nb)
	co, ct := served(t, apptest.Dial(ctx, t, other)), served(t, apptest.Dial(ctx, t, third))
	var otherID string
	for id, s := range sessionIDs(ctx, t, other) {
		if s.Current {
			otherID = id
		}
	}
	if err := u.API.EndSession(ctx, otherID); err != nil { // through node A
		t.Fatal(err)
	}
	closedWith(ctx, t, co, 4001, "a session ended on another node")
	served(t, ct)
	if err := u.API.EndOtherSessions(ctx); err != nil {
		t.Fatal(err)
	}
	closedWith(ctx, t, ct, 4001, "the others ended on another node")
}
