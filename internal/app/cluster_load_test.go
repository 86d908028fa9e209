package app_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// TestClusterStatusesUnderLoad: several pairs pipelining across two
// nodes; every message gets its delivered and read status.
func TestClusterStatusesUnderLoad(t *testing.T) {
	ctx := testCtx(t)
	// 480 sends pipelined as raw frames, which do not resend a refusal: the
	// push-back's wait target (which on a loaded machine refuses some of
	// them) is off; its count bound, far above 480, stays on.
	na, nb := twoNodesWith(t, func(c *config.Config) { c.Abuse.MaxSendWait = 0 })
	const pairs, each = 8, 60
	var wg sync.WaitGroup
	for p := range pairs {
		alice, bob := na.NewUser(ctx, "alice"), na.NewUser(ctx, "bob")
		conv, err := alice.API.CreateDirect(ctx, bob.UserID)
		if err != nil {
			t.Fatal(err)
		}
		ac := served(t, alice.Dial(ctx))
		bc := served(t, apptest.Dial(ctx, t, on(nb, bob)))
		wg.Go(func() {
			for i := range each {
				if err := ac.Send(ctx, map[string]any{"type": "message", "client_message_id": fmt.Sprint(p, "-", i),
					"conversation_id": conv.ConversationID, "message_type": "text", "content": "x"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			var batch []string
			for got := 0; got < each; {
				f, err := bc.Next(ctx, "message")
				if err != nil {
					t.Error(err)
					return
				}
				got++
				batch = append(batch, f.MessageID)
				if len(batch) == 7 || got == each {
					_ = bc.Ack(ctx, batch...)
					_ = bc.Read(ctx, conv.ConversationID, batch...)
					batch = nil
				}
			}
		})
		wg.Go(func() {
			n := 0
			for n < 2*each {
				f, err := ac.Next(ctx, "status")
				if err != nil {
					t.Errorf("pair %d: %d of %d statuses: %v", p, n, 2*each, err)
					return
				}
				_ = f
				n++
			}
		})
	}
	wg.Wait()
}
