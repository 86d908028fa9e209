package conversations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/names"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// Group limits.
const (
	// DefaultMaxGroupSize is the contract's limit, the creator counted.
	DefaultMaxGroupSize = wire.DefaultMaxGroupSize
	MaxGroupNameLen     = wire.MaxGroupNameLen
)

// MessageTypeSystem marks the messages the server writes for membership
// changes.
const MessageTypeSystem = "system"

// System message events (the "event" field of a system message's JSON
// content).
const (
	EventMemberAdded   = "member_added"
	EventMemberRemoved = "member_removed"
	EventMemberLeft    = "member_left"
	EventRenamed       = "renamed"
	EventRoleChanged   = "role_changed"
	// Added with group info and invite links (info.go, invites.go).
	EventDescriptionChanged = "description_changed"
	EventSettingsChanged    = "settings_changed"
	EventMemberJoined       = "member_joined"
	// EventAvatarChanged: the group's picture was set ("avatar": "set")
	// or removed ("removed") by actor (internal/profiles keeps it).
	EventAvatarChanged = "avatar_changed"
)

// Errors of group management.
var (
	ErrGroupFull    = errors.New("the group would pass its member limit")
	ErrNotAdmin     = errors.New("only admins may do this")
	ErrNotGroup     = errors.New("a 1:1 conversation's membership and name are fixed")
	ErrNoSuchMember = errors.New("no such member")
	ErrLastAdmin    = errors.New("a group keeps at least one admin: promote another member first")
	ErrRepeatedUser = errors.New("participants must be distinct user ids")
	ErrNoUserID     = errors.New("user_id is required")
	ErrBadRole      = errors.New(`role must be "admin" or "member"`)
	ErrBadName      = fmt.Errorf("name must be at most %d printable characters", MaxGroupNameLen)
)

// SystemMessage is a message the server writes into a conversation, in the
// same transaction as the change it records.
type SystemMessage struct {
	ID             string
	ConversationID string
	SenderID       string
	SenderDevice   string
	Content        string
	CreatedAt      time.Time
}

// Tx is a write transaction over conversations and their members, for the
// membership rules that must hold under concurrency: each read sees, and
// each write is decided on, the state no one else can change until commit.
type Tx interface {
	// Conversation returns the conversation with its current members and
	// holds it for the rest of the transaction.
	Conversation(ctx context.Context, id string) (Conversation, error)
	CreateGroup(ctx context.Context, c Conversation) error
	// AddMember makes m a current member (again, for a former one) unless
	// the conversation already has max members: then ErrGroupFull. The
	// check and the increment are one statement, so concurrent adds never
	// pass max.
	AddMember(ctx context.Context, conversationID string, m Member, max int) error
	// RemoveMember ends a membership at leftSeq.
	RemoveMember(ctx context.Context, conversationID, userID string, leftSeq int64) error
	SetRole(ctx context.Context, conversationID, userID, role string) error
	Rename(ctx context.Context, conversationID, name string) error
	// SetInfo writes a group's description and settings.
	SetInfo(ctx context.Context, conversationID string, info Info) error
	// Invite returns a valid invite link; store.ErrNotFound for an
	// unknown or revoked code. It holds nothing: read it again after
	// Conversation holds the link's group (revokes run under that hold).
	Invite(ctx context.Context, code string) (Invite, error)
	CreateInvite(ctx context.Context, inv Invite) error
	// RevokeInvite deletes a conversation's link; store.ErrNotFound if it
	// has no such valid link.
	RevokeInvite(ctx context.Context, conversationID, code string) error
	// PinTarget returns what a pin needs of a message of the conversation
	// (store.ErrNotFound: no such message there).
	PinTarget(ctx context.Context, conversationID, messageID string) (PinTarget, error)
	// Pin pins a message; Unpin unpins one and says whether it was pinned.
	Pin(ctx context.Context, conversationID, messageID, by string, at time.Time) error
	Unpin(ctx context.Context, conversationID, messageID string) (bool, error)
	// SetDisappearing writes the conversation's disappearing-message
	// setting (disappearing.go).
	SetDisappearing(ctx context.Context, conversationID string, seconds int) error
	// AppendSystem stores m with the conversation's next sequence number.
	AppendSystem(ctx context.Context, m SystemMessage) (seq int64, err error)
}

// TxStore runs membership changes in transactions: on a server, the
// committer of conversation logs (messaging.Committer), which sequences
// and publishes the system messages a change appends.
type TxStore interface {
	Update(ctx context.Context, fn func(Tx) error) error
}

// Publisher delivers events to users' connections.
type Publisher interface {
	Publish(ctx context.Context, userIDs []string, ev *bus.Event)
}

// Actor is who asks for a change: a user on one of its devices.
type Actor struct {
	UserID   string
	DeviceID string
}

// CreateGroup creates a group of the creator (its admin) and participants.
func (s *Service) CreateGroup(ctx context.Context, creator Actor, name, description string, participants []string) (Conversation, error) {
	name, err := groupName(name)
	if err != nil {
		return Conversation{}, err
	}
	if description, err = groupDescription(description); err != nil {
		return Conversation{}, err
	}
	seen := map[string]bool{creator.UserID: true}
	var others []string
	for _, id := range participants {
		if id == creator.UserID {
			continue // the creator is a member anyway
		}
		if id == "" || seen[id] {
			return Conversation{}, ErrRepeatedUser
		}
		seen[id] = true
		others = append(others, id)
	}
	if len(others)+1 > s.maxGroup {
		return Conversation{}, ErrGroupFull
	}
	missing, err := s.store.MissingUsers(ctx, others)
	if err != nil {
		return Conversation{}, fmt.Errorf("check users: %w", err)
	}
	if len(missing) > 0 {
		return Conversation{}, unknownUsers(missing)
	}
	if err := s.checkAddable(ctx, creator.UserID, others); err != nil {
		return Conversation{}, err
	}
	now := s.clock.Now()
	c := Conversation{ID: ulid.Make().String(), Type: TypeGroup, Name: name, Description: description, CreatedBy: creator.UserID, CreatedAt: now, LastActivityAt: now}
	err = s.tx.Update(ctx, func(tx Tx) error {
		if err := tx.CreateGroup(ctx, c); err != nil {
			return err
		}
		// Joined at 0, in this order: the creator is the oldest member.
		for i, id := range append([]string{creator.UserID}, others...) {
			role := RoleMember
			if i == 0 {
				role = RoleAdmin
			}
			m := Member{UserID: id, Role: role, JoinedAt: now.Add(time.Duration(i) * time.Microsecond)}
			if err := tx.AddMember(ctx, c.ID, m, s.maxGroup); err != nil {
				return err
			}
		}
		c, err = tx.Conversation(ctx, c.ID)
		return err
	})
	if err != nil {
		return Conversation{}, err
	}
	return c, nil
}

// AddMember adds userID to a group (admins only). Adding a current member
// changes nothing and reports added=false.
func (s *Service) AddMember(ctx context.Context, actor Actor, conversationID, userID string) (c Conversation, added bool, err error) {
	if userID == "" {
		return Conversation{}, false, ErrNoUserID
	}
	missing, err := s.store.MissingUsers(ctx, []string{userID})
	if err != nil {
		return Conversation{}, false, fmt.Errorf("check users: %w", err)
	}
	if len(missing) > 0 {
		return Conversation{}, false, unknownUsers(missing)
	}
	if err := s.checkAddable(ctx, actor.UserID, []string{userID}); err != nil {
		return Conversation{}, false, err
	}
	var note *SystemMessage
	err = s.tx.Update(ctx, func(tx Tx) error {
		c, err = s.lockGroup(ctx, tx, conversationID, actor.UserID, true)
		if err != nil {
			return err
		}
		if _, ok := memberIndex(c, userID); ok {
			return nil
		}
		note = s.systemMessage(actor, conversationID, map[string]any{"event": EventMemberAdded, "actor_id": actor.UserID, "user_id": userID})
		seq, err := tx.AppendSystem(ctx, *note)
		if err != nil {
			return err
		}
		// The new member sees what follows its addition.
		if err := tx.AddMember(ctx, conversationID, Member{UserID: userID, Role: RoleMember, JoinedAt: note.CreatedAt, JoinedSeq: seq}, s.maxGroup); err != nil {
			return err
		}
		c, err = tx.Conversation(ctx, conversationID)
		added = true
		return err
	})
	if err != nil {
		return Conversation{}, false, err
	}
	s.announce(note)
	return c, added, nil
}

// RemoveMember removes userID from a group: admins remove anyone, a member
// removes only itself (leaving). When the last admin leaves, the oldest
// remaining member becomes admin.
func (s *Service) RemoveMember(ctx context.Context, actor Actor, conversationID, userID string) error {
	leaving := userID == actor.UserID
	var note *SystemMessage
	err := s.tx.Update(ctx, func(tx Tx) error {
		c, err := s.lockGroup(ctx, tx, conversationID, actor.UserID, !leaving)
		if err != nil {
			return err
		}
		i, ok := memberIndex(c, userID)
		if !ok {
			return ErrNoSuchMember
		}
		event := EventMemberRemoved
		if leaving {
			event = EventMemberLeft
		}
		note = s.systemMessage(actor, conversationID, map[string]any{"event": event, "actor_id": actor.UserID, "user_id": userID})
		seq, err := tx.AppendSystem(ctx, *note)
		if err != nil {
			return err
		}
		// From this sequence number on, the removed user receives nothing.
		if err := tx.RemoveMember(ctx, conversationID, userID, seq); err != nil {
			return err
		}
		rest := slices.Delete(slices.Clone(c.Members), i, i+1)
		if c.Members[i].Role == RoleAdmin && len(rest) > 0 && !slices.ContainsFunc(rest, isAdmin) {
			// Members are ordered by join time: rest[0] is the oldest.
			if err := tx.SetRole(ctx, conversationID, rest[0].UserID, RoleAdmin); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.announce(note)
	return nil
}

// SetRole promotes a member to admin or demotes an admin (admins only).
func (s *Service) SetRole(ctx context.Context, actor Actor, conversationID, userID, role string) (Conversation, error) {
	if role != RoleAdmin && role != RoleMember {
		return Conversation{}, ErrBadRole
	}
	return s.change(ctx, actor, conversationID, func(tx Tx, c Conversation) (map[string]any, error) {
		i, ok := memberIndex(c, userID)
		if !ok {
			return nil, ErrNoSuchMember
		}
		if c.Members[i].Role == role {
			return nil, nil
		}
		if role == RoleMember && countFunc(c.Members, isAdmin) == 1 {
			return nil, ErrLastAdmin
		}
		if err := tx.SetRole(ctx, conversationID, userID, role); err != nil {
			return nil, err
		}
		return map[string]any{"event": EventRoleChanged, "actor_id": actor.UserID, "user_id": userID, "role": role}, nil
	})
}

// change runs an admin-only change of a group that records a system
// message, unless apply reports no change (nil event).
func (s *Service) change(ctx context.Context, actor Actor, conversationID string,
	apply func(Tx, Conversation) (map[string]any, error)) (Conversation, error) {
	return s.changeWith(ctx, actor, conversationID, func(tx Tx) (Conversation, error) {
		return s.lockGroup(ctx, tx, conversationID, actor.UserID, true)
	}, apply)
}

// changeWith is change with its own check of who may make it: lock loads
// and holds the conversation, or refuses the actor.
func (s *Service) changeWith(ctx context.Context, actor Actor, conversationID string,
	lock func(Tx) (Conversation, error), apply func(Tx, Conversation) (map[string]any, error)) (Conversation, error) {
	var c Conversation
	var note *SystemMessage
	err := s.tx.Update(ctx, func(tx Tx) error {
		var err error
		if c, err = lock(tx); err != nil {
			return err
		}
		event, err := apply(tx, c)
		if err != nil || event == nil {
			return err
		}
		note = s.systemMessage(actor, conversationID, event)
		if _, err := tx.AppendSystem(ctx, *note); err != nil {
			return err
		}
		c, err = tx.Conversation(ctx, conversationID)
		return err
	})
	if err != nil {
		return Conversation{}, err
	}
	s.announce(note)
	return c, nil
}

// lockGroup loads and holds a group the actor is a member (or, with
// admin, an admin) of.
func (s *Service) lockGroup(ctx context.Context, tx Tx, id, actor string, admin bool) (Conversation, error) {
	c, err := tx.Conversation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Conversation{}, ErrNotFound
	}
	if err != nil {
		return Conversation{}, err
	}
	i, ok := memberIndex(c, actor)
	if !ok {
		return Conversation{}, ErrForbidden
	}
	if c.Type != TypeGroup {
		return Conversation{}, ErrNotGroup
	}
	if admin && c.Members[i].Role != RoleAdmin {
		return Conversation{}, ErrNotAdmin
	}
	return c, nil
}

func (s *Service) systemMessage(actor Actor, conversationID string, event map[string]any) *SystemMessage {
	content, _ := json.Marshal(event) // strings and bools always marshal
	return &SystemMessage{
		ID: ulid.Make().String(), ConversationID: conversationID, SenderID: actor.UserID,
		SenderDevice: actor.DeviceID, Content: string(content), CreatedAt: s.clock.Now(),
	}
}

// announce tells whoever caches membership that a change committed (the
// committer has already published its system message).
func (s *Service) announce(m *SystemMessage) {
	if m != nil && s.OnMembersChanged != nil {
		s.OnMembersChanged(m.ConversationID)
	}
}

func groupName(name string) (string, error) {
	name, ok := names.Clean(name, MaxGroupNameLen)
	if !ok {
		return "", ErrBadName
	}
	return name, nil
}

func memberIndex(c Conversation, userID string) (int, bool) {
	i := slices.IndexFunc(c.Members, func(m Member) bool { return m.UserID == userID })
	return i, i >= 0
}

func memberIDs(c Conversation) []string {
	ids := make([]string, len(c.Members))
	for i, m := range c.Members {
		ids[i] = m.UserID
	}
	return ids
}

func isAdmin(m Member) bool { return m.Role == RoleAdmin }

func countFunc[T any](s []T, f func(T) bool) int {
	n := 0
	for _, v := range s {
		if f(v) {
			n++
		}
	}
	return n
}
