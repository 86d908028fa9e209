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
