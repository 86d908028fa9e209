package conversations

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/parleychat/parley/internal/store"
)

// EventAccountDeleted is the system message of a membership that ended
// because its account was deleted.
const EventAccountDeleted = "account_deleted"

// EndMemberships ends every membership of a deleted account, each with
// an "account_deleted" system message, in 1:1s and groups alike; a group
// left without an admin gets its oldest member as one. The messages it
// sent stay. Ending none is no error, so a deletion interrupted halfway
// is finished by running it again.
func (s *Service) EndMemberships(ctx context.Context, userID string) error {
	ids, err := s.store.Memberships(ctx, userID)
	if err != nil {
		return fmt.Errorf("list memberships: %w", err)
	}
	actor := Actor{UserID: userID}
	for _, id := range ids {
		var note *SystemMessage
		err := s.tx.Update(ctx, func(tx Tx) error {
			c, err := tx.Conversation(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			i, ok := memberIndex(c, userID)
			if !ok {
				return nil // ended meanwhile
			}
			note = s.systemMessage(actor, id, map[string]any{"event": EventAccountDeleted, "user_id": userID})
			seq, err := tx.AppendSystem(ctx, *note)
			if err != nil {
				return err
			}
			if err := tx.RemoveMember(ctx, id, userID, seq); err != nil {
				return err
			}
			rest := slices.Delete(slices.Clone(c.Members), i, i+1)
			if c.Type == TypeGroup && c.Members[i].Role == RoleAdmin && len(rest) > 0 && !slices.ContainsFunc(rest, isAdmin) {
				return tx.SetRole(ctx, id, rest[0].UserID, RoleAdmin)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("end membership of %s: %w", id, err)
		}
		s.announce(note)
	}
	return nil
}

// NoteAvatarChanged records, as a system message every member gets live
// and in order, that actor set (or removed) the group's picture. The
// picture itself is kept by internal/profiles, which has checked that the
// actor may change it; the note follows that change's commit, so a crash
// in between leaves the picture changed and unannounced (members see it
// at their next fetch), never announced and unchanged.
func (s *Service) NoteAvatarChanged(ctx context.Context, actor Actor, conversationID string, removed bool) error {
	what := "set"
	if removed {
		what = "removed"
	}
	var note *SystemMessage
	err := s.tx.Update(ctx, func(tx Tx) error {
		if _, err := s.lockGroup(ctx, tx, conversationID, actor.UserID, false); err != nil {
			return err
		}
		note = s.systemMessage(actor, conversationID, map[string]any{"event": EventAvatarChanged, "actor_id": actor.UserID, "avatar": what})
		_, err := tx.AppendSystem(ctx, *note)
		return err
	})
	if err != nil {
		return err
	}
	s.announce(note)
	return nil
}
