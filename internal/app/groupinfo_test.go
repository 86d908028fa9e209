package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// groupEvent is a system message's content, the fields group info adds
// included.
type groupEvent struct {
	Event              string `json:"event"`
	ActorID            string `json:"actor_id"`
	UserID             string `json:"user_id"`
	Name               string `json:"name"`
	Description        string `json:"description"`
	OnlyAdminsSend     *bool  `json:"only_admins_send"`
	OnlyAdminsEditInfo *bool  `json:"only_admins_edit_info"`
}

func nextGroupEvent(t *testing.T, ctx context.Context, c *client.Conn) (client.Frame, groupEvent) {
	t.Helper()
	f, err := c.Next(ctx, "message")
	if err != nil {
		t.Fatal(err)
	}
	var ev groupEvent
	if f.MessageType != "system" || json.Unmarshal([]byte(f.Content), &ev) != nil {
		t.Fatalf("want a system message, got %+v", f)
	}
	return f, ev
}

func TestGroupDescription(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob")
	// Decomposed é is stored composed (NFC); a line break is allowed.
	g, err := alice.API.CreateGroupWithDescription(ctx, "Climbing", "Cafe\u0301 meets\nSundays", []string{bob.UserID})
	if err != nil {
		t.Fatal(err)
	}
	if g.Description != "Café meets\nSundays" {
		t.Fatalf("description = %q", g.Description)
	}
	ac := alice.Dial(ctx)
	// A member may change it while the group is open (the default).
	g, err = bob.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{Description: ptr("  new rules  ")})
	if err != nil || g.Description != "new rules" {
		t.Fatalf("update = %q, %v", g.Description, err)
	}
	f, ev := nextGroupEvent(t, ctx, ac)
	if ev.Event != "description_changed" || ev.Description != "new rules" || ev.ActorID != bob.UserID || f.SenderID != bob.UserID {
		t.Fatalf("event = %+v", ev)
	}
	// The same description again changes nothing and writes nothing.
	if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{Description: ptr("new rules")}); err != nil {
		t.Fatal(err)
	}
	list, err := alice.API.Conversations(ctx)
	if err != nil || len(list) != 1 || list[0].Description != "new rules" || list[0].LastSequenceNumber != 1 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	// The longest allowed, counted in characters.
	long := strings.Repeat("é", 512)
	if g, err = alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{Description: &long}); err != nil || g.Description != long {
		t.Fatalf("512 characters: %v", err)
	}
	for name, d := range map[string]string{
		"too long":      strings.Repeat("a", 513),
		"bell":          "ring\a",
		"carriage ret.": "a\r\nb",
		"NUL":           "a\x00b",
		"RTL override":  "evil\u202Etxt",
	} {
		if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{Description: &d}); client.ErrorCode(err) != "invalid" {
			t.Errorf("%s: %v, want invalid", name, err)
		}
		if _, err := alice.API.CreateGroupWithDescription(ctx, "g", d, nil); client.ErrorCode(err) != "invalid" {
			t.Errorf("create, %s: %v, want invalid", name, err)
		}
	}
	if c, _ := alice.API.Conversation(ctx, g.ConversationID); c.Description != long {
		t.Fatalf("a refused change changed the description to %q", c.Description)
	}
	// A PATCH that names nothing, and one on a 1:1, are refused.
	if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{}); client.ErrorCode(err) != "invalid" {
		t.Fatalf("empty update: %v", err)
	}
	direct, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.UpdateGroup(ctx, direct.ConversationID, client.GroupUpdate{Description: ptr("x")}); client.ErrorCode(err) != "invalid" {
		t.Fatalf("1:1 description: %v", err)
	}
}

func TestGroupSettings(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, eve := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "eve")
	g, err := alice.API.CreateGroup(ctx, "trip", []string{bob.UserID})
	if err != nil {
		t.Fatal(err)
	}
	if g.OnlyAdminsSend || g.OnlyAdminsEditInfo {
		t.Fatalf("settings default on: %+v", g)
	}
	ac, bc := alice.Dial(ctx), bob.Dial(ctx)
	// Members may rename an open group, never change its settings.
	if _, err := bob.API.Rename(ctx, g.ConversationID, "bob's trip"); err != nil {
		t.Fatalf("member renames an open group: %v", err)
	}
	if _, ev := nextGroupEvent(t, ctx, ac); ev.Event != "renamed" || ev.ActorID != bob.UserID {
		t.Fatalf("rename event = %+v", ev)
	}
	for _, u := range []client.GroupUpdate{
		{OnlyAdminsSend: ptr(true)},
		{OnlyAdminsEditInfo: ptr(true)},
		{Name: ptr("x"), OnlyAdminsSend: ptr(false)},
	} {
		if _, err := bob.API.UpdateGroup(ctx, g.ConversationID, u); client.ErrorCode(err) != "forbidden" {
			t.Fatalf("member sets %+v: %v", u, err)
		}
		if _, err := eve.API.UpdateGroup(ctx, g.ConversationID, u); client.ErrorCode(err) != "forbidden" {
			t.Fatalf("stranger sets %+v: %v", u, err)
		}
	}
	if c, _ := alice.API.Conversation(ctx, g.ConversationID); c.Name != "bob's trip" || c.LastSequenceNumber != 1 {
		t.Fatalf("a refused change changed the group: %+v", c)
	}
	// The admin turns both on in one call: two system messages, in order.
	g, err = alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{OnlyAdminsSend: ptr(true), OnlyAdminsEditInfo: ptr(true)})
	if err != nil || !g.OnlyAdminsSend || !g.OnlyAdminsEditInfo {
		t.Fatalf("admin sets: %+v, %v", g, err)
	}
	if _, ev := nextGroupEvent(t, ctx, bc); ev.Event != "settings_changed" || ev.OnlyAdminsSend == nil || !*ev.OnlyAdminsSend || ev.OnlyAdminsEditInfo != nil {
		t.Fatalf("first event = %+v", ev)
	}
	if _, ev := nextGroupEvent(t, ctx, bc); ev.Event != "settings_changed" || ev.OnlyAdminsEditInfo == nil || !*ev.OnlyAdminsEditInfo {
		t.Fatalf("second event = %+v", ev)
	}
	if c, _ := bob.API.Conversation(ctx, g.ConversationID); !c.OnlyAdminsSend || !c.OnlyAdminsEditInfo {
		t.Fatalf("member reads %+v", c)
	}
	// Now only admins edit the info.
	if _, err := bob.API.Rename(ctx, g.ConversationID, "mine"); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("member renames: %v", err)
	}
	if _, err := bob.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{Description: ptr("mine")}); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("member describes: %v", err)
	}
	if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{Name: ptr("ours"), Description: ptr("d")}); err != nil {
		t.Fatal(err)
	}
	if _, ev := nextGroupEvent(t, ctx, bc); ev.Event != "renamed" || ev.Name != "ours" {
		t.Fatalf("rename event = %+v", ev)
	}
	if _, ev := nextGroupEvent(t, ctx, bc); ev.Event != "description_changed" || ev.Description != "d" {
		t.Fatalf("description event = %+v", ev)
	}
	// An admin-made member is an admin for the settings too.
	if _, err := alice.API.SetRole(ctx, g.ConversationID, bob.UserID, "admin"); err != nil {
		t.Fatal(err)
	}
	if g, err = bob.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{OnlyAdminsEditInfo: ptr(false)}); err != nil || g.OnlyAdminsEditInfo {
		t.Fatalf("new admin opens the group: %+v, %v", g, err)
	}
}

func TestOnlyAdminsSend(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	g, err := alice.API.CreateGroup(ctx, "announcements", []string{bob.UserID, carol.UserID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{OnlyAdminsSend: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	ac, bc, cc := alice.Dial(ctx), bob.Dial(ctx), carol.Dial(ctx)
	before, err := alice.API.Messages(ctx, g.ConversationID, client.HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A member's message is refused with an error frame naming its key.
	_, err = bc.SendMessage(ctx, text("b1", g.ConversationID, "may I?"))
	var e *client.Error
	if client.ErrorCode(err) != "forbidden" {
		t.Fatalf("member sends: %v", err)
	}
	if ok := asError(err, &e); !ok || !strings.Contains(e.Message, "admins") {
		t.Fatalf("refusal = %v", err)
	}
	// An admin's goes through and reaches the members.
	ack, err := ac.SendMessage(ctx, text("a1", g.ConversationID, "hello all"))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := nextUserMessage(ctx, cc); err != nil || f.MessageID != ack.MessageID {
		t.Fatalf("carol got %+v, %v (bob's refused message must not come first)", f, err)
	}
	after, err := alice.API.Messages(ctx, g.ConversationID, client.HistoryOptions{})
	if err != nil || len(after) != len(before)+1 || after[len(after)-1].MessageID != ack.MessageID {
		t.Fatalf("history %d → %d messages, %v: only the admin's is stored", len(before), len(after), err)
	}
	// Promoted, bob sends; demoted, refused again.
	if _, err := alice.API.SetRole(ctx, g.ConversationID, bob.UserID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.SendMessage(ctx, text("b2", g.ConversationID, "now I may")); err != nil {
		t.Fatalf("promoted member sends: %v", err)
	}
	if _, err := alice.API.SetRole(ctx, g.ConversationID, bob.UserID, "member"); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.SendMessage(ctx, text("b3", g.ConversationID, "again?")); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("demoted member sends: %v", err)
	}
	// Turned off, everyone sends.
	if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{OnlyAdminsSend: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.SendMessage(ctx, text("b4", g.ConversationID, "free again")); err != nil {
		t.Fatalf("member sends to an open group: %v", err)
	}
}

// nextUserMessage is the next message frame that is not a system message.
func nextUserMessage(ctx context.Context, c *client.Conn) (client.Frame, error) {
	for {
		f, err := c.Next(ctx, "message")
		if err != nil || f.MessageType != "system" {
			return f, err
		}
	}
}

func asError(err error, target **client.Error) bool {
	e, ok := err.(*client.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestInviteLinks(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, eve := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "eve")
	g, err := alice.API.CreateGroupWithDescription(ctx, "Book club", "one a month", []string{bob.UserID})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := alice.API.CreateInvite(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	// 128 random bits, base64url without padding: 22 characters.
	if len(inv.Code) < 22 || strings.ContainsAny(inv.Code, "+/=") || inv.CreatedBy != alice.UserID || inv.ConversationID != g.ConversationID || inv.CreatedAt == 0 {
		t.Fatalf("invite = %+v", inv)
	}
	other, err := alice.API.CreateInvite(ctx, g.ConversationID)
	if err != nil || other.Code == inv.Code {
		t.Fatalf("second invite = %+v, %v", other, err)
	}
	list, err := alice.API.Invites(ctx, g.ConversationID)
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	// A stranger sees the name, description and size, nothing else.
	p, err := eve.API.PreviewInvite(ctx, inv.Code)
	if err != nil || p != (client.InvitePreview{Name: "Book club", Description: "one a month", MemberCount: 2}) {
		t.Fatalf("preview = %+v, %v", p, err)
	}
	bc := bob.Dial(ctx)
	joined, err := eve.API.JoinByInvite(ctx, inv.Code)
	if err != nil || len(joined.Participants) != 3 || roles(joined)[eve.UserID] != "member" {
		t.Fatalf("join = %+v, %v", joined, err)
	}
	if _, ev := nextGroupEvent(t, ctx, bc); ev.Event != "member_joined" || ev.UserID != eve.UserID || ev.ActorID != eve.UserID {
		t.Fatalf("join event = %+v", ev)
	}
	// Joining again changes nothing.
	again, err := eve.API.JoinByInvite(ctx, other.Code)
	if err != nil || again.LastSequenceNumber != joined.LastSequenceNumber || len(again.Participants) != 3 {
		t.Fatalf("join again = %+v, %v", again, err)
	}
	// Eve receives what follows her joining.
	ec := eve.Dial(ctx)
	ack, err := bc.SendMessage(ctx, text("b1", g.ConversationID, "welcome"))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := nextUserMessage(ctx, ec); err != nil || f.MessageID != ack.MessageID {
		t.Fatalf("eve got %+v, %v", f, err)
	}
	// Revoked, the link is not found, for preview and join alike.
	if err := alice.API.RevokeInvite(ctx, g.ConversationID, inv.Code); err != nil {
		t.Fatal(err)
	}
	if _, err := eve.API.PreviewInvite(ctx, inv.Code); client.ErrorCode(err) != "not_found" {
		t.Fatalf("preview revoked: %v", err)
	}
	if err := alice.API.RevokeInvite(ctx, g.ConversationID, inv.Code); client.ErrorCode(err) != "not_found" {
		t.Fatalf("revoke again: %v", err)
	}
	if _, err := eve.API.PreviewInvite(ctx, "AAAAAAAAAAAAAAAAAAAAAA"); client.ErrorCode(err) != "not_found" {
		t.Fatalf("preview unknown: %v", err)
	}
	// A removed member may come back by a valid link, not a revoked one.
	if err := alice.API.RemoveParticipant(ctx, g.ConversationID, eve.UserID); err != nil {
		t.Fatal(err)
	}
	_, err = eve.API.JoinByInvite(ctx, inv.Code)
	if e, ok := err.(*client.Error); !ok || e.Code != "not_found" || e.Status != 404 {
		t.Fatalf("join by a revoked link: %v", err)
	}
	if _, err := eve.API.Conversation(ctx, g.ConversationID); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("removed member reads: %v", err)
	}
	if back, err := eve.API.JoinByInvite(ctx, other.Code); err != nil || len(back.Participants) != 3 {
		t.Fatalf("rejoin = %+v, %v", back, err)
	}
	if list, _ := alice.API.Invites(ctx, g.ConversationID); len(list) != 1 || list[0].Code != other.Code {
		t.Fatalf("after revoke, list = %+v", list)
	}
}

func TestInviteJoinFullGroup(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.MaxGroupSize = 3
	srv := apptest.Start(t, cfg, nil)
	alice := srv.NewUser(ctx, "alice")
	members := users(ctx, srv, "m", 2)
	eve := srv.NewUser(ctx, "eve")
	g, err := alice.API.CreateGroup(ctx, "full", ids(members))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := alice.API.CreateInvite(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = eve.API.JoinByInvite(ctx, inv.Code)
	if e, ok := err.(*client.Error); !ok || e.Code != "group_full" || e.Status != 422 {
		t.Fatalf("join a full group: %v", err)
	}
	c, err := alice.API.Conversation(ctx, g.ConversationID)
	if err != nil || len(c.Participants) != 3 || c.LastSequenceNumber != g.LastSequenceNumber {
		t.Fatalf("after a refused join: %+v, %v", c, err)
	}
	// A member of the full group joining by its link is no change.
	if _, err := members[0].API.JoinByInvite(ctx, inv.Code); err != nil {
		t.Fatalf("member joins its full group: %v", err)
	}
}

// TestInviteJoinRaceForLastSeat: ten users join by link at once for the
// last seat; exactly one wins.
func TestInviteJoinRaceForLastSeat(t *testing.T) {
	ctx := testCtx(t)
	cfg := apptest.Config(t)
	cfg.MaxGroupSize = 5
	srv := apptest.Start(t, cfg, nil)
	alice := srv.NewUser(ctx, "alice")
	g, err := alice.API.CreateGroup(ctx, "one seat left", ids(users(ctx, srv, "m", 3)))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := alice.API.CreateInvite(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	ok, full := raceJoins(t, users(ctx, srv, "j", 10), func(_ int, u *apptest.User) error {
		_, err := u.API.JoinByInvite(ctx, inv.Code)
		return err
	})
	c, err := alice.API.Conversation(ctx, g.ConversationID)
	if err != nil || ok != 1 || full != 9 || len(c.Participants) != 5 || c.LastSequenceNumber != 1 {
		t.Fatalf("%d joined, %d group_full, %d members, seq %d (%v); want 1, 9, 5, 1", ok, full, len(c.Participants), c.LastSequenceNumber, err)
	}
}

// TestGroupInfoAuthz is every new call as anonymous, stranger, member and
// admin.
func TestGroupInfoAuthz(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	admin, member, stranger := srv.NewUser(ctx, "admin"), srv.NewUser(ctx, "member"), srv.NewUser(ctx, "stranger")
	anon := srv.Client()
	g, err := admin.API.CreateGroup(ctx, "g", []string{member.UserID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{OnlyAdminsEditInfo: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	inv, err := admin.API.CreateInvite(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	id := g.ConversationID
	type call func(c *client.Client) error
	calls := map[string]call{
		"settings": func(c *client.Client) error {
			_, err := c.UpdateGroup(ctx, id, client.GroupUpdate{OnlyAdminsSend: ptr(false)})
			return err
		},
		"description": func(c *client.Client) error {
			_, err := c.UpdateGroup(ctx, id, client.GroupUpdate{Description: ptr("d")})
			return err
		},
		"create link": func(c *client.Client) error { _, err := c.CreateInvite(ctx, id); return err },
		"list links":  func(c *client.Client) error { _, err := c.Invites(ctx, id); return err },
		"revoke link": func(c *client.Client) error { return c.RevokeInvite(ctx, id, "unknown-code") },
		"preview":     func(c *client.Client) error { _, err := c.PreviewInvite(ctx, inv.Code); return err },
	}
	want := map[string]map[string]string{ // caller → call → code ("" ok)
		"anonymous": {"settings": "unauthorized", "description": "unauthorized", "create link": "unauthorized", "list links": "unauthorized", "revoke link": "unauthorized", "preview": "unauthorized"},
		"stranger":  {"settings": "forbidden", "description": "forbidden", "create link": "forbidden", "list links": "forbidden", "revoke link": "forbidden", "preview": ""},
		"member":    {"settings": "forbidden", "description": "forbidden", "create link": "forbidden", "list links": "forbidden", "revoke link": "forbidden", "preview": ""},
		"admin":     {"settings": "", "description": "", "create link": "", "list links": "", "revoke link": "not_found", "preview": ""},
	}
	callers := map[string]*client.Client{"anonymous": anon, "stranger": stranger.API, "member": member.API, "admin": admin.API}
	for who, codes := range want {
		for name, code := range codes {
			t.Run(who+"/"+name, func(t *testing.T) {
				if err := calls[name](callers[who]); client.ErrorCode(err) != code {
					t.Fatalf("err = %v, want %q", err, code)
				}
			})
		}
	}
	// Joining: anonymous 401, anyone signed in may.
	if _, err := anon.JoinByInvite(ctx, inv.Code); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("anonymous joins: %v", err)
	}
	if _, err := stranger.API.JoinByInvite(ctx, inv.Code); err != nil {
		t.Fatalf("stranger joins: %v", err)
	}
	// Invite links are a group's: a 1:1 has none.
	direct, err := admin.API.CreateDirect(ctx, member.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.API.CreateInvite(ctx, direct.ConversationID); client.ErrorCode(err) != "invalid" {
		t.Fatalf("link to a 1:1: %v", err)
	}
	if _, err := admin.API.CreateInvite(ctx, "nope"); client.ErrorCode(err) != "not_found" {
		t.Fatalf("link to no group: %v", err)
	}
}

// TestClusterInviteJoinRacedFromBothNodes: joins by link from two nodes
// on PostgreSQL, for the last two seats: exactly two win.
func TestClusterInviteJoinRacedFromBothNodes(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodesWith(t, func(c *config.Config) { c.MaxGroupSize = 6 })
	alice := na.NewUser(ctx, "alice")
	g, err := alice.API.CreateGroup(ctx, "two seats left", ids(users(ctx, na, "m", 3)))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := alice.API.CreateInvite(ctx, g.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	ok, full := raceJoins(t, users(ctx, na, "j", 12), func(i int, u *apptest.User) error {
		_, err := on([]*apptest.Server{na, nb}[i%2], u).JoinByInvite(ctx, inv.Code)
		return err
	})
	c, err := on(nb, alice).Conversation(ctx, g.ConversationID)
	if err != nil || ok != 2 || full != 10 || len(c.Participants) != 6 || c.LastSequenceNumber != 2 {
		t.Fatalf("%d joined, %d group_full, %+v (%v); want 2, 10, 6 members at seq 2", ok, full, c, err)
	}
}

// TestClusterDemotionRacesSends: with only_admins_send on, bob sends from
// one node while alice demotes him from the other. Whatever the order,
// every message of bob's that was stored precedes his demotion, and every
// one that followed it was refused.
func TestClusterDemotionRacesSends(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodes(t)
	alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
	g, err := alice.API.CreateGroup(ctx, "announcements", []string{bob.UserID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.SetRole(ctx, g.ConversationID, bob.UserID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{OnlyAdminsSend: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	bc := apptest.Dial(ctx, t, on(nb, bob))
	const n = 40
	stored := map[string]bool{}
	first := make(chan struct{}) // the demotion starts once sends are flowing
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() {
			select {
			case <-first:
			default:
				close(first)
			}
		}()
		for i := range n {
			a, err := bc.SendMessage(ctx, text(fmt.Sprint("b", i), g.ConversationID, "news"))
			if i == 0 {
				close(first)
			}
			switch client.ErrorCode(err) {
			case "":
				stored[a.MessageID] = true
			case "forbidden":
			default:
				t.Errorf("send %d: %v", i, err)
			}
		}
	})
	wg.Go(func() {
		<-first
		if _, err := on(na, alice).SetRole(ctx, g.ConversationID, bob.UserID, "member"); err != nil {
			t.Errorf("demote: %v", err)
		}
	})
	wg.Wait()
	hist, err := alice.API.Messages(ctx, g.ConversationID, client.HistoryOptions{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	var demotedAt int64
	seen := 0
	for _, m := range hist {
		if m.MessageType == "system" && strings.Contains(m.Content, `"role":"member"`) {
			demotedAt = m.SequenceNumber
		}
		if stored[m.MessageID] {
			seen++
			if demotedAt != 0 {
				t.Errorf("bob's message %d was stored after his demotion at %d", m.SequenceNumber, demotedAt)
			}
		}
	}
	if demotedAt == 0 || seen != len(stored) {
		t.Fatalf("demotion at %d; %d of %d acked messages in history", demotedAt, seen, len(stored))
	}
	// After the demotion, refused.
	if _, err := bc.SendMessage(ctx, text("after", g.ConversationID, "late")); client.ErrorCode(err) != "forbidden" {
		t.Fatalf("send after the demotion: %v", err)
	}
	t.Logf("%d of %d sends went through before the demotion", len(stored), n)
}

// raceJoins runs join for every joiner at once and counts who joined and
// who was told group_full; any other answer fails the test.
func raceJoins(t *testing.T, joiners []*apptest.User, join func(i int, u *apptest.User) error) (ok, full int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, u := range joiners {
		wg.Go(func() {
			err := join(i, u)
			mu.Lock()
			defer mu.Unlock()
			switch client.ErrorCode(err) {
			case "":
				ok++
			case "group_full":
				full++
			default:
				t.Errorf("join: %v", err)
			}
		})
	}
	wg.Wait()
	return ok, full
}
