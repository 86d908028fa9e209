package sqlstore

import (
	"context"
	"fmt"
)

// SetDisappearing implements conversations.Tx. The conversation's row is
// held by the change (Conversation), and sends read the setting under
// the same lock (logBatch.load), so a message is numbered wholly before
// or wholly after the change.
func (t convTx) SetDisappearing(_ context.Context, conversationID string, seconds int) error {
	if _, err := t.tx.ExecContext(t.ctx, `UPDATE conversations SET disappear_seconds = ? WHERE id = ?`, seconds, conversationID); err != nil {
		return fmt.Errorf("set disappearing messages: %w", err)
	}
	return nil
}
