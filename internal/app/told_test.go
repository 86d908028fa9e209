package app_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gobwas/ws"

	"github.com/parleychat/parley/internal/apptest"
)

// TestStatusTakenAsReadOnlyOnPong: a status frame the server wrote counts
// as read only once the client answers the ping the server sends after
// it (the client reads frames in order). A device whose connection ends
// before its pong (the frame may as well have died in a socket buffer or
// on a failing link) is told the status again on its next connect; once
// its pong came back, it is not.
func TestStatusTakenAsReadOnlyOnPong(t *testing.T) {
	srv, alice, bob, conv := pair(t)
	ctx := testCtx(t)
	aliceDevice := sessionOf(ctx, t, alice.API)
	sender := alice.NewDevice(ctx)
	sc := apptest.Dial(ctx, t, sender)
	bc := bob.Dial(ctx)
	ack, err := sc.SendMessage(ctx, text("t1", conv.ConversationID, "hello"))
	if err != nil {
		t.Fatal(err)
	}

	// Alice's first device, over a raw socket that answers no ping.
	raw := dialWS(t, ws.Dialer{}, wsURL(srv, alice.Session.Token))
	raw.send(textFrame(heartbeat))
	raw.until(t, "heartbeat_ack") // connected, its sync written
	if err := bc.Ack(ctx, ack.MessageID); err != nil {
		t.Fatal(err)
	}
	raw.untilStatus(t, ack.MessageID, "delivered")
	token := raw.untilPing(t)
	if len(token) == 0 {
		t.Fatal("the ping after a status carries no token")
	}
	_ = raw.conn.Close() // gone without its pong
	waitFor(t, "the first connection's end", func() bool {
		on, err := srv.App.DeviceOnline(ctx, alice.UserID, aliceDevice)
		return err == nil && !on
	})

	// The status comes again; this time the pong answers its ping.
	raw = dialWS(t, ws.Dialer{}, wsURL(srv, alice.Session.Token))
	raw.untilStatus(t, ack.MessageID, "delivered")
	raw.send(ws.NewPongFrame(raw.untilPing(t)))
	// The reader takes the pong before this heartbeat.
	raw.send(textFrame(heartbeat))
	raw.until(t, "heartbeat_ack")
	_ = raw.conn.Close()
	waitFor(t, "the second connection's end", func() bool {
		on, err := srv.App.DeviceOnline(ctx, alice.UserID, aliceDevice)
		return err == nil && !on
	})

	// Told and confirmed: not told again. Sync comes before the answer
	// to a heartbeat, so no status by then means none.
	raw = dialWS(t, ws.Dialer{}, wsURL(srv, alice.Session.Token))
	raw.send(textFrame(heartbeat))
	for {
		f := raw.mustFrame()
		var sf struct{ Type, MessageID string }
		if f.Header.OpCode == ws.OpText {
			if err := json.Unmarshal(f.Payload, &sf); err != nil {
				t.Fatal(err)
			}
		}
		if sf.Type == "status" {
			t.Fatalf("a status read and confirmed was told again: %s", f.Payload)
		}
		if sf.Type == "heartbeat_ack" {
			return
		}
	}
}

// until reads until a text frame of type typ, skipping every other frame.
func (c *rawWS) until(t *testing.T, typ string) {
	t.Helper()
	c.untilFrame(t, typ, func(f ws.Frame) bool {
		var sf serverFrame
		return f.Header.OpCode == ws.OpText && json.Unmarshal(f.Payload, &sf) == nil && sf.Type == typ
	})
}

// untilStatus reads until the status frame of message id with status st.
func (c *rawWS) untilStatus(t *testing.T, id, st string) {
	t.Helper()
	c.untilFrame(t, "status "+st+" of "+id, func(f ws.Frame) bool {
		var sf struct {
			Type, Status string
			MessageID    string `json:"message_id"`
		}
		return f.Header.OpCode == ws.OpText && json.Unmarshal(f.Payload, &sf) == nil &&
			sf.Type == "status" && sf.MessageID == id && sf.Status == st
	})
}

// untilPing reads until a ping and returns its payload (unanswered).
func (c *rawWS) untilPing(t *testing.T) []byte {
	t.Helper()
	var payload []byte
	c.untilFrame(t, "a ping", func(f ws.Frame) bool {
		payload = bytes.Clone(f.Payload)
		return f.Header.OpCode == ws.OpPing
	})
	return payload
}

func (c *rawWS) untilFrame(t *testing.T, what string, match func(ws.Frame) bool) {
	t.Helper()
	for {
		f, err := c.frame()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if f.Header.OpCode == ws.OpClose {
			t.Fatalf("waiting for %s: closed: %s", what, describe(f))
		}
		if match(f) {
			return
		}
	}
}
