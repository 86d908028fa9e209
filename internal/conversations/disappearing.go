package conversations

import (
	"context"
	"errors"
	"slices"

	"github.com/parleychat/parley/wire"
)

// DisappearOptions are the disappearing-message settings a conversation
// may have, in seconds: off, 24 hours, 7 days, 90 days.
var DisappearOptions = []int{wire.DisappearingOff, wire.Disappearing24h, wire.Disappearing7d, wire.Disappearing90d}

// EventDisappearingChanged is the system message of a change of the
// setting: {"event":"disappearing_changed","actor_id":…,"seconds":…}.
const EventDisappearingChanged = "disappearing_changed"

// ErrBadDisappear: a setting that is not one of DisappearOptions.
var ErrBadDisappear = errors.New("disappearing_seconds must be 0 (off), 86400 (24 h), 604800 (7 d) or 7776000 (90 d)")

// SetDisappearing sets how long after it is sent each new message of the
// conversation disappears (0: they stay): any member of a 1:1, an admin
// of a group. The change is a locked change with its system message, so
// every send is numbered either before it (and keeps no expiry) or after
// it (and expires): the store decides a message's expires_at when it
// sequences it, under the same lock. Setting the value it has changes
// nothing and records nothing.
func (s *Service) SetDisappearing(ctx context.Context, actor Actor, conversationID string, seconds int) (Conversation, error) {
	if !slices.Contains(DisappearOptions, seconds) {
		return Conversation{}, ErrBadDisappear
	}
	lock := func(tx Tx) (Conversation, error) {
		c, _, err := memberMayChange(ctx, tx, conversationID, actor.UserID)
		return c, err
	}
	return s.changeWith(ctx, actor, conversationID, lock, func(tx Tx, c Conversation) (map[string]any, error) {
		if c.DisappearSeconds == seconds {
			return nil, nil
		}
		if err := tx.SetDisappearing(ctx, conversationID, seconds); err != nil {
			return nil, err
		}
		return map[string]any{"event": EventDisappearingChanged, "actor_id": actor.UserID, "seconds": seconds}, nil
	})
}
