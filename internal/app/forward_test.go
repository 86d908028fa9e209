package app_test

import (
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/media/mediatest"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// TestForwarding: a forward of a message the sender sees, in another
// conversation, arrives with forwarded = its source's + 1, its media
// attached and downloadable by the new conversation's members; a message
// the sender cannot see cannot be forwarded (nor its media grabbed); one
// forwarded many times goes to one chat at a time.
func TestForwarding(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
		srv := apptest.Start(t, cfg, clk)
		alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		ab, _ := alice.API.CreateDirect(ctx, bob.UserID)
		ac, _ := alice.API.CreateDirect(ctx, carol.UserID)
		bcConv, _ := bob.API.CreateDirect(ctx, carol.UserID)
		noRetry := func(c *client.Client) *client.Conn {
			conn, err := c.Dial(ctx, client.DialOptions{SendRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(conn.Abort)
			return served(t, conn)
		}
		aconn, bconn, cconn := noRetry(alice.API), noRetry(bob.API), noRetry(carol.API)

		// Bob sends Alice a photo; Alice forwards it to Carol.
		img := mustUpload(t, bob, "image/png", mediatest.PNG(t, 20, 20))
		src, err := bconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "photo", ConversationID: ab.ConversationID,
			MessageType: "image", MediaID: img.MediaID})
		if err != nil {
			t.Fatal(err)
		}
		// Carol cannot attach it on her own: she has not seen it.
		_, err = cconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "grab", ConversationID: bcConv.ConversationID,
			MessageType: "image", MediaID: img.MediaID, ForwardOf: src.MessageID})
		if client.ErrorCode(err) != "not_found" {
			t.Fatalf("carol attaching a photo she never saw: %v, want not_found", err)
		}
		// Nor forward it.
		_, err = cconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "steal", ConversationID: bcConv.ConversationID,
			Content: "hi", ForwardOf: src.MessageID})
		if client.ErrorCode(err) != "invalid" {
			t.Fatalf("carol forwarding a message she never saw: %v, want invalid", err)
		}
		fwd, err := aconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "fwd", ConversationID: ac.ConversationID,
			MessageType: "image", MediaID: img.MediaID, ForwardOf: src.MessageID})
		if err != nil {
			t.Fatal(err)
		}
		f, err := cconn.Next(ctx, "message")
		if err != nil || f.MessageID != fwd.MessageID || f.Forwarded != 1 || f.MediaID != img.MediaID {
			t.Fatalf("carol got %+v, %v; want the photo, forwarded once", f, err)
		}
		if _, err := carol.API.GetMedia(ctx, img.MediaID); err != nil {
			t.Fatalf("carol downloading the forwarded photo: %v", err)
		}
		h, err := carol.API.Messages(ctx, ac.ConversationID, client.HistoryOptions{})
		if err != nil || len(h) != 1 || h[0].Forwarded != 1 {
			t.Fatalf("carol's history = %+v, %v", h, err)
		}
		// A system message and an unknown id are no sources.
		g, err := alice.API.CreateGroup(ctx, "g", []string{bob.UserID})
		if err != nil {
			t.Fatal(err)
		}
		name := "renamed"
		if _, err := alice.API.UpdateGroup(ctx, g.ConversationID, client.GroupUpdate{Name: &name}); err != nil {
			t.Fatal(err)
		}
		gh, err := alice.API.Messages(ctx, g.ConversationID, client.HistoryOptions{})
		if err != nil || len(gh) == 0 {
			t.Fatalf("group history = %+v, %v", gh, err)
		}
		for i, id := range []string{gh[0].MessageID, "01JD3Y8A1B2C3D4E5F6G7H8J9K"} {
			_, err := aconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "bad-" + string(rune('a'+i)),
				ConversationID: ac.ConversationID, Content: "x", ForwardOf: id})
			if client.ErrorCode(err) != "invalid" {
				t.Fatalf("forward of %s: %v, want invalid", id, err)
			}
		}

		// Forwarded five times, hop by hop in Alice's chat with Carol.
		prev := fwd.MessageID
		for i := 2; i <= wire.ForwardedManyTimes; i++ {
			ack, err := aconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "hop-" + string(rune('0'+i)),
				ConversationID: ac.ConversationID, MessageType: "image", MediaID: img.MediaID, ForwardOf: prev})
			if err != nil {
				t.Fatal(err)
			}
			if f, err := cconn.Next(ctx, "message"); err != nil || f.Forwarded != i {
				t.Fatalf("hop %d: %+v, %v", i, f, err)
			}
			prev = ack.MessageID
		}
		// Forwarded many times: to one chat at a time.
		if _, err := aconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "many-1", ConversationID: ab.ConversationID,
			MessageType: "image", MediaID: img.MediaID, ForwardOf: prev}); err != nil {
			t.Fatal(err)
		}
		f, err = bconn.Next(ctx, "message")
		for err == nil && f.MessageType == "system" { // the group's rename
			f, err = bconn.Next(ctx, "message")
		}
		if err != nil || f.Forwarded != wire.ForwardedManyTimes+1 {
			t.Fatalf("bob got %+v, %v", f, err)
		}
		_, err = aconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "many-2", ConversationID: g.ConversationID,
			MessageType: "image", MediaID: img.MediaID, ForwardOf: prev})
		var ce *client.Error
		if !asClientError(err, &ce) || ce.Code != "rate_limited" || ce.RetryAfter != messaging.ForwardWindow {
			t.Fatalf("a second forward at once: %v, want rate_limited after 10 s", err)
		}
		clk.Advance(messaging.ForwardWindow)
		if _, err := aconn.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "many-2", ConversationID: g.ConversationID,
			MessageType: "image", MediaID: img.MediaID, ForwardOf: prev}); err != nil {
			t.Fatalf("the second forward 10 s later: %v", err)
		}
	})
}

func asClientError(err error, target **client.Error) bool {
	e, ok := err.(*client.Error)
	*target = e
	return ok
}
