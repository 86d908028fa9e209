package profiles

import (
	"context"
	"errors"
	"fmt"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/store"
)

// mayEditGroupInfo is the one check of who may change a group's avatar:
// a current member of a group, an admin while the group's "only admins
// edit info" is on (conversations.Service.CheckEditInfo, the rule name
// and description follow too). It answers the group as the caller sees it.
func (s *Service) mayEditGroupInfo(ctx context.Context, caller, conversationID string) (conversations.Conversation, error) {
	// Get refuses a non-member (conversations.ErrForbidden) and an
	// unknown id (ErrNotFound).
	c, err := s.groups.Get(ctx, caller, conversationID)
	if err != nil {
		return conversations.Conversation{}, err
	}
	if c.Type != conversations.TypeGroup {
		return conversations.Conversation{}, ErrNotGroup
	}
	if err := s.groups.CheckEditInfo(ctx, conversationID, caller); err != nil {
		return conversations.Conversation{}, err
	}
	return c, nil
}

// SetGroupAvatar makes mediaID, a ready image the caller uploaded, the
// avatar of a group it may edit, and deletes the one it replaces.
func (s *Service) SetGroupAvatar(ctx context.Context, caller, conversationID, mediaID string) (conversations.Conversation, error) {
	if mediaID == "" {
		return conversations.Conversation{}, ErrNoMedia
	}
	c, err := s.mayEditGroupInfo(ctx, caller, conversationID)
	if err != nil {
		return conversations.Conversation{}, err
	}
	a, err := s.avatars.MakeAvatar(ctx, caller, mediaID)
	if err != nil {
		return conversations.Conversation{}, err
	}
	if _, err := s.swapGroupAvatar(ctx, conversationID, a.ID); err != nil {
		_ = s.avatars.DeleteAvatar(context.WithoutCancel(ctx), a.ID)
		return conversations.Conversation{}, err
	}
	// Changed whatever the note does: a failed note is not a failed change.
	_ = s.groups.NoteAvatarChanged(context.WithoutCancel(ctx), conversations.Actor{UserID: caller}, conversationID, false)
	return c, nil
}

// RemoveGroupAvatar removes a group's avatar; a group without one is no
// error.
func (s *Service) RemoveGroupAvatar(ctx context.Context, caller, conversationID string) error {
	if _, err := s.mayEditGroupInfo(ctx, caller, conversationID); err != nil {
		return err
	}
	old, err := s.swapGroupAvatar(ctx, conversationID, "")
	if err != nil || old == "" {
		return err // none to remove: nothing to tell
	}
	_ = s.groups.NoteAvatarChanged(context.WithoutCancel(ctx), conversations.Actor{UserID: caller}, conversationID, true)
	return nil
}

// swapGroupAvatar sets a group's avatar and deletes the pictures of the
// one it replaces, which it returns ("": none).
func (s *Service) swapGroupAvatar(ctx context.Context, conversationID, avatarID string) (string, error) {
	old, err := s.store.SetGroupAvatar(ctx, conversationID, avatarID)
	if errors.Is(err, store.ErrNotFound) {
		return "", conversations.ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("set group avatar: %w", err)
	}
	if old != "" && old != avatarID {
		_ = s.avatars.DeleteAvatar(context.WithoutCancel(ctx), old)
	}
	return old, nil
}

// GroupAvatars returns the avatar ids of those of conversationIDs that
// have one: for the conversation objects a caller already may see.
func (s *Service) GroupAvatars(ctx context.Context, conversationIDs []string) (map[string]string, error) {
	if len(conversationIDs) == 0 {
		return map[string]string{}, nil
	}
	m, err := s.store.GroupAvatars(ctx, conversationIDs)
	if err != nil {
		return nil, fmt.Errorf("group avatars: %w", err)
	}
	return m, nil
}
