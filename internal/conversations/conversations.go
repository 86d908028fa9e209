// Package conversations owns conversations and their membership: 1:1
// chats (one per pair of users) and groups with roles and a size limit.
package conversations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/fault"
)

// Conversation kinds as they appear on the wire.
const (
	TypeDirect = "1:1"
	TypeGroup  = "group"
)

// Member roles.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Conversation is a 1:1 chat or a group.
type Conversation struct {
	ID   string
	Type string
	Name string
	// Description, OnlyAdminsSend and OnlyAdminsEditInfo are a group's
	// info and settings (see info.go); a 1:1 has none.
	Description        string
	OnlyAdminsSend     bool
	OnlyAdminsEditInfo bool
	CreatedBy          string
	CreatedAt          time.Time
	LastSeq            int64
	LastActivityAt     time.Time
	Members            []Member
	// Pinned are the pinned messages' ids, oldest pin first (pins.go).
	Pinned []string
	// DisappearSeconds is how long after it is sent a new message
	// disappears; 0: it does not (disappearing.go).
	DisappearSeconds int
}

// Member is a user's membership in a conversation.
type Member struct {
	UserID   string
	Role     string
	JoinedAt time.Time
	// JoinedSeq is the conversation's last sequence number when the member
	// joined: it sees messages after it, never before.
	JoinedSeq int64
}

// LastMessage is the newest message of a conversation, for list views.
type LastMessage struct {
	ID          string
	SenderID    string
	Seq         int64
	MessageType string
	Content     string
	CreatedAt   time.Time
	// Deleted marks a tombstone; EditedAt is its last edit.
	Deleted  bool
	EditedAt time.Time
}

// Summary is one row of a user's conversation list.
type Summary struct {
	Conversation
	// Unread counts messages from others after the user's read pointer;
	// UnreadMentions those of them that mention the user.
	Unread         int64
	UnreadMentions int64
	LastMessage    *LastMessage
}

// Store is what conversations need from durable storage.
type Store interface {
	// CreateDirect creates the 1:1 conversation of c.Members' two users,
	// or returns the existing one (created=false): a pair has exactly one.
	CreateDirect(ctx context.Context, c Conversation, pairKey string) (conv Conversation, created bool, err error)
	// Conversation returns a conversation with its members.
	Conversation(ctx context.Context, id string) (Conversation, error)
	// Member returns one membership; store.ErrNotFound if userID is not a
	// current member.
	Member(ctx context.Context, conversationID, userID string) (Member, error)
	// ConversationsOf lists the user's conversations, newest activity first.
	// Messages older than notBefore, or that expired (disappeared) by now,
	// do not count as last message or unread.
	ConversationsOf(ctx context.Context, userID string, notBefore, now time.Time) ([]Summary, error)
	// MissingUsers returns those of ids that name no user.
	MissingUsers(ctx context.Context, ids []string) ([]string, error)
	// Invite returns a valid invite link; store.ErrNotFound for an
	// unknown or revoked code.
	Invite(ctx context.Context, code string) (Invite, error)
	// Invites lists a conversation's valid invite links, oldest first.
	Invites(ctx context.Context, conversationID string) ([]Invite, error)
	// Memberships returns the conversations userID is a current member of.
	Memberships(ctx context.Context, userID string) ([]string, error)
	// BlockersOf returns those of ids who block userID.
	BlockersOf(ctx context.Context, userID string, ids []string) ([]string, error)
}

// Errors of this domain. internal/errmap gives each its wire code.
var (
	ErrNotFound  = errors.New("no such conversation")
	ErrForbidden = errors.New("not a member of this conversation")
	// ErrUnknownUser: a user named in a request does not exist; the
	// error's text names every one (unknownUsers).
	ErrUnknownUser = errors.New("unknown user")
	ErrNoOtherUser = errors.New("participants must name exactly one other user")
	ErrSelfChat    = errors.New("a 1:1 conversation needs another user")
	// ErrCannotAdd: a user named blocks the one adding it to a group; the
	// error's text names every one (cannotAdd).
	ErrCannotAdd = errors.New("cannot add user")
)

// cannotAdd is ErrCannotAdd naming ids. It says no more than WhatsApp's
// "couldn't add": the adder learns that these users cannot be added by
// it, which a block must refuse.
func cannotAdd(ids []string) error {
	return fault.New(ErrCannotAdd, "cannot add "+strings.Join(ids, ", ")+" to a group")
}

// checkAddable refuses to let actor add any of ids that blocks it.
func (s *Service) checkAddable(ctx context.Context, actor string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	blockers, err := s.store.BlockersOf(ctx, actor, ids)
	if err != nil {
		return fmt.Errorf("check blocks: %w", err)
	}
	if len(blockers) > 0 {
		return cannotAdd(blockers)
	}
	return nil
}

// unknownUsers is ErrUnknownUser naming ids: whoever pasted several IDs
// needs to know which to fix.
func unknownUsers(ids []string) error {
	if len(ids) == 1 {
		return fault.New(ErrUnknownUser, "unknown user "+ids[0])
	}
	return fault.New(ErrUnknownUser, "unknown users "+strings.Join(ids, ", "))
}
