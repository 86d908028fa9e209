package storetest

import (
	"errors"
	"testing"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store"
)

// testGroupInfo: a group's description and settings are stored and read
// back (one conversation, the list), and only_admins_send is decided in the
// commit with the roles of that moment, a demotion earlier in the same
// cycle included.
func testGroupInfo(t *testing.T, s Store) {
	setup(t, s)
	mustGroup(t, s, "g", 100, "a", "b")
	err := s.Update(ctx(t), func(tx conversations.Tx) error {
		if err := tx.SetRole(ctx(t), "g", "a", conversations.RoleAdmin); err != nil {
			return err
		}
		return tx.SetInfo(ctx(t), "g", conversations.Info{Description: "line one\nline two", OnlyAdminsSend: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Conversation(ctx(t), "g")
	if err != nil || c.Description != "line one\nline two" || !c.OnlyAdminsSend || c.OnlyAdminsEditInfo {
		t.Fatalf("group = %+v, %v", c, err)
	}
	list, err := s.ConversationsOf(ctx(t), "b", t0.Add(-1), t0.Add(-1))
	if err != nil || len(list) != 2 {
		t.Fatalf("list = %+v, %v", list, err)
	}
	for _, sm := range list {
		if sm.ID == "g" && (sm.Description != c.Description || !sm.OnlyAdminsSend) {
			t.Fatalf("listed group = %+v", sm)
		}
	}
	// b is no admin: refused, nothing stored; a is.
	res, err := s.AppendMessages(ctx(t), []messaging.Message{msg("g", "b", "b1", "b-1"), msg("g", "a", "a1", "a-1"), msg("ab", "b", "b1", "b-2")})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res[0].Err, messaging.ErrAdminsOnly) || res[1].Err != nil || res[1].Message.Seq != 1 || res[2].Err != nil {
		t.Fatalf("sends = %+v", res)
	}
	// A demotion and a send of the same cycle: the change comes first, so
	// the send is refused.
	c2, err := s.Commit(ctx(t), messaging.Batch{
		Changes: []func(conversations.Tx) error{func(tx conversations.Tx) error {
			if err := tx.SetRole(ctx(t), "g", "b", conversations.RoleAdmin); err != nil {
				return err
			}
			return tx.SetRole(ctx(t), "g", "a", conversations.RoleMember)
		}},
		Sends: []messaging.Message{msg("g", "a", "a1", "a-2"), msg("g", "b", "b1", "b-3")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(c2.Sends[0].Err, messaging.ErrAdminsOnly) || c2.Sends[1].Err != nil || c2.Sends[1].Message.Seq != 2 {
		t.Fatalf("sends after the demotion = %+v", c2.Sends)
	}
	h, err := s.History(ctx(t), "g", messaging.HistoryQuery{Page: messaging.Newest, Limit: 10})
	if err != nil || len(h) != 2 {
		t.Fatalf("history = %+v, %v", h, err)
	}
}

// testInvites: invite links are created, found, listed and revoked.
func testInvites(t *testing.T, s Store) {
	setup(t, s)
	mustGroup(t, s, "g", 100, "a")
	mustGroup(t, s, "h", 100, "a")
	invs := []conversations.Invite{
		{Code: "code-1", ConversationID: "g", CreatedBy: "a", CreatedAt: t0},
		{Code: "code-2", ConversationID: "g", CreatedBy: "a", CreatedAt: t0.Add(1e6)},
		{Code: "code-3", ConversationID: "h", CreatedBy: "a", CreatedAt: t0},
	}
	err := s.Update(ctx(t), func(tx conversations.Tx) error {
		for _, inv := range invs {
			if err := tx.CreateInvite(ctx(t), inv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Invite(ctx(t), "code-2")
	if err != nil || got.ConversationID != "g" || got.CreatedBy != "a" || !got.CreatedAt.Equal(invs[1].CreatedAt) {
		t.Fatalf("invite = %+v, %v", got, err)
	}
	if _, err := s.Invite(ctx(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown code: %v", err)
	}
	list, err := s.Invites(ctx(t), "g")
	if err != nil || len(list) != 2 || list[0].Code != "code-1" || list[1].Code != "code-2" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	// A link is revoked through its own group only.
	err = s.Update(ctx(t), func(tx conversations.Tx) error { return tx.RevokeInvite(ctx(t), "h", "code-1") })
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke through another group: %v", err)
	}
	err = s.Update(ctx(t), func(tx conversations.Tx) error {
		if err := tx.RevokeInvite(ctx(t), "g", "code-1"); err != nil {
			return err
		}
		_, err := tx.Invite(ctx(t), "code-1")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a revoked link read in its transaction: %v", err)
	}
	// That transaction failed: the revoke was undone with it.
	if _, err := s.Invite(ctx(t), "code-1"); err != nil {
		t.Fatalf("revoke rolled back: %v", err)
	}
	if err := s.Update(ctx(t), func(tx conversations.Tx) error { return tx.RevokeInvite(ctx(t), "g", "code-1") }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invite(ctx(t), "code-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked: %v", err)
	}
	if list, _ := s.Invites(ctx(t), "g"); len(list) != 1 {
		t.Fatalf("after revoke = %+v", list)
	}
}
