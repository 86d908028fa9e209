package conversations

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/store"
)

// inviteCodeBytes is a link code's entropy: 128 bits, so that codes cannot
// be guessed (a link is the whole permission to join).
const inviteCodeBytes = 16

// ErrInviteNotFound answers an unknown or revoked invite link, the same for
// both: a code that no longer works tells nothing about the group.
var ErrInviteNotFound = errors.New("no such invite link")

// Invite is a group's invite link, valid until revoked.
type Invite struct {
	Code           string
	ConversationID string
	CreatedBy      string
	CreatedAt      time.Time
}

// InvitePreview is what a link shows someone who has not joined: no
// member list, no history.
type InvitePreview struct {
	// ConversationID is for the server (its avatar); not shown.
	ConversationID string
	Name           string
	Description    string
	MemberCount    int
}

// CreateInvite creates an invite link of a group (admins only).
func (s *Service) CreateInvite(ctx context.Context, actor Actor, conversationID string) (Invite, error) {
	b := make([]byte, inviteCodeBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand's documented promise)
	inv := Invite{
		Code: base64.RawURLEncoding.EncodeToString(b), ConversationID: conversationID,
		CreatedBy: actor.UserID, CreatedAt: s.clock.Now(),
	}
	err := s.tx.Update(ctx, func(tx Tx) error {
		if _, err := s.lockGroup(ctx, tx, conversationID, actor.UserID, true); err != nil {
			return err
		}
		return tx.CreateInvite(ctx, inv)
	})
	if err != nil {
		return Invite{}, err
	}
	return inv, nil
}

// Invites lists a group's valid invite links, oldest first (admins only).
func (s *Service) Invites(ctx context.Context, actor Actor, conversationID string) ([]Invite, error) {
	if err := s.checkAdmin(ctx, conversationID, actor.UserID); err != nil {
		return nil, err
	}
	list, err := s.store.Invites(ctx, conversationID)
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	return list, nil
}

// RevokeInvite makes a link of the group stop working (admins only);
// ErrInviteNotFound if the group has no such valid link.
func (s *Service) RevokeInvite(ctx context.Context, actor Actor, conversationID, code string) error {
	return s.tx.Update(ctx, func(tx Tx) error {
		if _, err := s.lockGroup(ctx, tx, conversationID, actor.UserID, true); err != nil {
			return err
		}
		err := tx.RevokeInvite(ctx, conversationID, code)
		if errors.Is(err, store.ErrNotFound) {
			return ErrInviteNotFound
		}
		return err
	})
}

// PreviewInvite shows a valid link's group to anyone signed in.
func (s *Service) PreviewInvite(ctx context.Context, code string) (InvitePreview, error) {
	inv, err := s.store.Invite(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return InvitePreview{}, ErrInviteNotFound
	}
	if err != nil {
		return InvitePreview{}, fmt.Errorf("load invite: %w", err)
	}
	c, err := s.store.Conversation(ctx, inv.ConversationID)
	if err != nil {
		return InvitePreview{}, fmt.Errorf("load conversation: %w", err)
	}
	return InvitePreview{ConversationID: c.ID, Name: c.Name, Description: c.Description, MemberCount: len(c.Members)}, nil
}

// JoinByInvite makes actor a member of the link's group, as an admin's add
// would: in one transaction with the member limit (ErrGroupFull) and a
// member_joined system message. A current member changes nothing
// (joined=false). A user removed from the group may come back this way
// while the link is valid: revoking it is how admins keep someone out.
func (s *Service) JoinByInvite(ctx context.Context, actor Actor, code string) (c Conversation, joined bool, err error) {
	var note *SystemMessage
	err = s.tx.Update(ctx, func(tx Tx) error {
		note, joined = nil, false
		inv, err := tx.Invite(ctx, code)
		if errors.Is(err, store.ErrNotFound) {
			return ErrInviteNotFound
		}
		if err != nil {
			return err
		}
		if c, err = tx.Conversation(ctx, inv.ConversationID); err != nil {
			return err
		}
		// Read again now that the group is held: a revoke that committed
		// while this waited for it has deleted the link.
		if _, err := tx.Invite(ctx, code); errors.Is(err, store.ErrNotFound) {
			return ErrInviteNotFound
		} else if err != nil {
			return err
		}
		if _, ok := memberIndex(c, actor.UserID); ok {
			return nil
		}
		note = s.systemMessage(actor, c.ID, map[string]any{"event": EventMemberJoined, "actor_id": actor.UserID, "user_id": actor.UserID})
		seq, err := tx.AppendSystem(ctx, *note)
		if err != nil {
			return err
		}
		if err := tx.AddMember(ctx, c.ID, Member{UserID: actor.UserID, Role: RoleMember, JoinedAt: note.CreatedAt, JoinedSeq: seq}, s.maxGroup); err != nil {
			return err
		}
		c, err = tx.Conversation(ctx, c.ID)
		joined = true
		return err
	})
	if err != nil {
		return Conversation{}, false, err
	}
	s.announce(note)
	return c, joined, nil
}

// checkAdmin returns nil if userID is an admin of the group.
func (s *Service) checkAdmin(ctx context.Context, conversationID, userID string) error {
	c, err := s.Get(ctx, userID, conversationID)
	if err != nil {
		return err
	}
	if c.Type != TypeGroup {
		return ErrNotGroup
	}
	if c.Members[mustIndex(c, userID)].Role != RoleAdmin {
		return ErrNotAdmin
	}
	return nil
}
