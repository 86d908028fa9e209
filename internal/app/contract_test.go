package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/media/mediatest"
	"github.com/parleychat/parley/wire"
	"github.com/parleychat/parley/wire/wiretest"
)

// untilServed collects what c receives until the answer to a heartbeat
// sent now: the connection's one writer answers in order, so every answer
// to a frame sent before is in.
func untilServed(t *testing.T, ctx context.Context, c *client.Conn) []client.Frame {
	t.Helper()
	if err := c.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	var got []client.Frame
	for {
		f, err := c.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type == wire.TypeHeartbeatAck {
			return got
		}
		got = append(got, f)
	}
}

// TestContractServerDecodes: the server accepts every example client frame
// of wire/testdata/contract.json, its made-up ids replaced by real ones:
// no error, messages acked, receipts reaching the sender; and it refuses
// every refused one with its code and client_message_id, the connection
// staying open.
func TestContractServerDecodes(t *testing.T) {
	rows := wiretest.Load(t)
	ctx := testCtx(t)
	srv, alice, bob, conv := pair(t)
	bc := served(t, bob.Dial(ctx))
	var sent []string
	for _, cmid := range []string{"b-1", "b-2"} {
		ack, err := bc.SendMessage(ctx, text(cmid, conv.ConversationID, "hi"))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, ack.MessageID)
	}
	png := mediatest.PNG(t, 8, 8)
	up, err := alice.API.CreateMedia(ctx, "image/png", int64(len(png)))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.API.Upload(ctx, up, bytes.NewReader(png), int64(len(png))); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.CompleteMedia(ctx, up.MediaID); err != nil {
		t.Fatal(err)
	}
	ac := alice.Dial(ctx)
	own, err := ac.SendMessage(ctx, text("a-1", conv.ConversationID, "mine")) // for the edit and delete rows
	if err != nil {
		t.Fatal(err)
	}
	real := strings.NewReplacer(
		"01JD3Y8A1B2C3D4E5F6G7H8J9P", own.MessageID,
		"01JD3Y5N9C8Q4W7R2T6V0XKZ1A", conv.ConversationID,
		"01JD3Y8A1B2C3D4E5F6G7H8J9K", sent[0], "01JD3Y8A1B2C3D4E5F6G7H8J9M", sent[1],
		"01JD3Y7K2M5P8S1V4Y7B0E3H6K", up.MediaID,
		"01JD3Y2B4D6F8H0K2M4P6R8T0V", bob.UserID,
	)

	for _, row := range rows.ClientFrames {
		if err := ac.SendRaw(ctx, []byte(real.Replace(string(row.Frame)))); err != nil {
			t.Fatal(err)
		}
	}
	// Messages are acked after their commit, receipts applied by it; the
	// statuses they cause reach bob. Nothing else may come back but
	// heartbeat answers and bob's presence.
	acked, statuses := 0, 0
	for acked < 4 || statuses < 3 {
		var f client.Frame
		select {
		case f = <-ac.Frames():
		case f = <-bc.Frames():
		case <-ctx.Done():
			t.Fatalf("acked %d of 4 messages, bob saw %d of 3 statuses", acked, statuses)
		}
		switch f.Type {
		case wire.TypeMessageAck:
			acked++
		case wire.TypeStatus:
			statuses++
		case wire.TypeHeartbeatAck, wire.TypePresence, wire.TypeTyping, wire.TypeMessage,
			wire.TypeReaction, wire.TypeMessageEdited, wire.TypeMessageDeleted:
		default:
			t.Errorf("answered %s", f.Raw)
		}
	}

	c := srv.NewUser(ctx, "carol").Dial(ctx)
	for _, row := range rows.RefusedClientFrames {
		if err := c.SendRaw(ctx, row.Bytes()); err != nil {
			t.Fatal(err)
		}
		// Refusals are the decoder's, answered in order before the
		// heartbeat that follows.
		got := untilServed(t, ctx, c)
		if len(got) != 1 || got[0].Type != wire.TypeError || string(got[0].Code) != row.Code || got[0].ClientMessageID != row.ClientMessageID {
			t.Errorf("%s: answered %q, want one error %s with client_message_id %q", row.Name, raws(got), row.Code, row.ClientMessageID)
		}
	}
}

func raws(fs []client.Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f.Raw)
	}
	return out
}

// TestContractServerSpeaksWire: every frame and body the server sends, in
// a flow that shows each kind, decodes into its wire type with no field
// left over and encodes back to itself: the server says nothing the wire
// package (and so the documents checked against it) does not name.
func TestContractServerSpeaksWire(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")

	// REST: each call's raw answer, checked against its type.
	check := func(name string, raw json.RawMessage, v any) {
		t.Helper()
		if err := wire.RoundTrip(raw, v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	call := func(api *client.Client, method, path string, body any, v any) {
		t.Helper()
		var raw json.RawMessage
		if err := api.Do(ctx, method, path, body, &raw); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		check(method+" "+path, raw, v)
	}
	refused := func(api *client.Client, method, path string, body any, status int) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, api.BaseURL+path, bytes.NewReader(wire.Encode(body)))
		if api.Token != "" {
			req.Header.Set("Authorization", "Bearer "+api.Token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw bytes.Buffer
		_, _ = raw.ReadFrom(resp.Body)
		if resp.StatusCode != status {
			t.Errorf("%s %s: %d, want %d", method, path, resp.StatusCode, status)
		}
		check(method+" "+path+" (refused)", raw.Bytes(), new(wire.ErrorBody))
	}

	call(srv.Client(), "POST", "/api/v1/users", wire.RegisterRequest{Username: "dave", Password: "correct horse"}, new(wire.User))
	refused(srv.Client(), "POST", "/api/v1/users", wire.RegisterRequest{Username: "DAVE", Password: "correct horse"}, 409)
	call(srv.Client(), "POST", "/api/v1/sessions", wire.LoginRequest{Username: "dave", Password: "correct horse"}, new(wire.Session))
	refused(srv.Client(), "POST", "/api/v1/sessions", wire.LoginRequest{Username: "dave", Password: "wrong horse"}, 401)
	call(alice.API, "GET", "/api/v1/users/"+bob.UserID, nil, new(wire.User))
	refused(alice.API, "GET", "/api/v1/users/nobody", nil, 404)
	call(alice.API, "GET", "/api/v1/users/"+bob.UserID+"/presence", nil, new(wire.UserPresence))
	call(alice.API, "GET", "/api/v1/users/me/settings", nil, new(wire.Settings))
	call(alice.API, "GET", "/api/v1/sessions", nil, new(wire.SessionList))
	refused(alice.API, "DELETE", "/api/v1/sessions/nobody", nil, 404)
	refused(alice.API, "PUT", "/api/v1/users/me/password", wire.ChangePasswordRequest{CurrentPassword: "wrong horse", NewPassword: "battery staple"}, 401)
	refused(srv.Client(), "POST", "/api/v1/sessions", wire.LoginRequest{Username: "dave", Password: "correct horse", DeviceName: strings.Repeat("x", 65)}, 400)
	var bot wire.BotKey
	call(alice.API, "POST", "/api/v1/bots", wire.CreateBotRequest{Username: "echobot", DisplayName: "Echo"}, &bot)
	refused(alice.API, "POST", "/api/v1/bots", wire.CreateBotRequest{Username: "echo bot!"}, 400)
	refused(alice.API, "POST", "/api/v1/bots", wire.CreateBotRequest{Username: "ECHOBOT"}, 409)
	call(alice.API, "GET", "/api/v1/bots", nil, new(wire.BotList))
	call(bob.API, "GET", "/api/v1/users/"+bot.UserID, nil, new(wire.User))
	call(alice.API, "POST", "/api/v1/bots/"+bot.BotID+"/key", nil, new(wire.BotKey))
	refused(bob.API, "POST", "/api/v1/bots/"+bot.BotID+"/key", nil, 404)
	refused(alice.API, "PUT", "/api/v1/bots/"+bot.BotID+"/webhook", wire.SetWebhookRequest{URL: "http://example.com/hook"}, 400)
	refused(alice.API, "GET", "/api/v1/bots/"+bot.BotID+"/webhook", nil, 404)
	call(alice.API, "GET", "/api/v1/bots/"+bot.BotID+"/deliveries", nil, new(wire.WebhookDeliveries))
	refused(bob.API, "GET", "/api/v1/bots/"+bot.BotID+"/deliveries", nil, 404)
	refused(bob.API, "DELETE", "/api/v1/bots/"+bot.BotID, nil, 404)
	call(alice.API, "GET", "/api/v1/users?username="+bob.Username, nil, new(wire.User))
	refused(alice.API, "GET", "/api/v1/users?username=no-one-by-this-name", nil, 404)
	refused(alice.API, "GET", "/api/v1/users", nil, 400)
	call(alice.API, "PATCH", "/api/v1/users/me/settings", wire.SettingsUpdate{Discoverable: wire.DiscoverableNobody}, new(wire.Settings))
	call(alice.API, "PATCH", "/api/v1/users/me/settings", wire.SettingsUpdate{OnlineVisibility: wire.VisibilityContacts}, new(wire.Settings))
	conv, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	call(alice.API, "POST", "/api/v1/conversations", wire.CreateConversationRequest{Type: wire.ConversationDirect, Participants: []string{bob.UserID}}, new(wire.Conversation))
	call(alice.API, "GET", "/api/v1/conversations/"+conv.ConversationID, nil, new(wire.Conversation))
	day, hour := wire.Disappearing24h, 3600
	call(alice.API, "PUT", "/api/v1/conversations/"+conv.ConversationID+"/disappearing", wire.DisappearingRequest{Seconds: &day}, new(wire.Conversation))
	refused(alice.API, "PUT", "/api/v1/conversations/"+conv.ConversationID+"/disappearing", wire.DisappearingRequest{Seconds: &hour}, 400)
	// Sends and receipts over REST, in a 1:1 of their own: the flow
	// below counts what bob receives.
	ac1, err := alice.API.CreateDirect(ctx, carol.UserID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{201, 200} {
		a := postMessage(t, ctx, alice.API, ac1.ConversationID, "rest-1", sendBody("aGk="))
		if a.status != want {
			t.Errorf("POST messages: %d, want %d", a.status, want)
		}
		check("POST /api/v1/conversations/{id}/messages", a.body, new(wire.SentMessage))
	}
	if a := postMessage(t, ctx, alice.API, ac1.ConversationID, "", sendBody("aGk=")); a.status != 400 {
		t.Errorf("POST messages without a key: %d, want 400", a.status)
	} else {
		check("POST /api/v1/conversations/{id}/messages (refused)", a.body, new(wire.ErrorBody))
	}
	restMsg := postMessage(t, ctx, alice.API, ac1.ConversationID, "rest-1", sendBody("aGk=")).sent(t)
	if err := carol.API.MarkDelivered(ctx, restMsg.MessageID); err != nil {
		t.Errorf("POST /api/v1/messages/delivered: %v", err)
	}
	if err := carol.API.MarkRead(ctx, ac1.ConversationID, restMsg.MessageID); err != nil {
		t.Errorf("POST /api/v1/conversations/{id}/read: %v", err)
	}
	refused(carol.API, "POST", "/api/v1/messages/delivered", wire.ReceiptRequest{}, 400)
	group, err := alice.API.CreateGroup(ctx, "climbing", []string{bob.UserID})
	if err != nil {
		t.Fatal(err)
	}
	gpath := "/api/v1/conversations/" + group.ConversationID
	call(alice.API, "POST", "/api/v1/conversations/"+group.ConversationID+"/participants", wire.AddParticipantRequest{UserID: carol.UserID}, new(wire.Conversation))
	call(alice.API, "PATCH", gpath+"/participants/"+carol.UserID, wire.SetRoleRequest{Role: wire.RoleAdmin}, new(wire.Conversation))
	name := "bouldering"
	call(alice.API, "PATCH", gpath, wire.RenameRequest{Name: &name}, new(wire.Conversation))
	call(alice.API, "GET", gpath+"/participants", nil, new(wire.ParticipantList))
	refused(bob.API, "PATCH", gpath, wire.RenameRequest{OnlyAdminsSend: ptr(true)}, 403)
	call(alice.API, "PATCH", gpath, wire.RenameRequest{Description: ptr("Sundays"), OnlyAdminsEditInfo: ptr(true)}, new(wire.Conversation))
	var inv wire.Invite
	call(alice.API, "POST", gpath+"/invites", nil, &inv)
	call(alice.API, "GET", gpath+"/invites", nil, new(wire.InviteList))
	call(srv.NewUser(ctx, "erin").API, "GET", "/api/v1/invites/"+inv.Code, nil, new(wire.InvitePreview))
	call(srv.NewUser(ctx, "frank").API, "POST", "/api/v1/invites/"+inv.Code+"/join", nil, new(wire.Conversation))
	refused(alice.API, "DELETE", gpath+"/invites/nope", nil, 404)
	refused(bob.API, "POST", "/api/v1/invites/nope/join", nil, 404)
	call(alice.API, "GET", "/api/v1/server", nil, new(wire.ServerInfo))
	call(alice.API, "GET", "/api/v1/push/vapid", nil, new(wire.VAPIDKey))
	refused(alice.API, "POST", "/api/v1/push/subscriptions", wire.PushSubscription{Endpoint: "http://10.0.0.7/wpush", Keys: wire.PushSubscriptionKeys{
		P256DH: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4", Auth: "BTBZMqHH6r4Tts7J_aSIgg",
	}}, 400)

	png := mediatest.PNG(t, 64, 48)
	var up wire.Upload
	call(alice.API, "POST", "/api/v1/media", wire.CreateMediaRequest{ContentType: "image/png", Size: ptr(int64(len(png)))}, &up)
	call(alice.API, "GET", "/api/v1/media/"+up.MediaID, nil, new(wire.Media)) // pending
	if err := alice.API.Upload(ctx, up, bytes.NewReader(png), int64(len(png))); err != nil {
		t.Fatal(err)
	}
	call(alice.API, "POST", "/api/v1/media/"+up.MediaID+"/complete", nil, new(wire.Media)) // ready
	refused(alice.API, "POST", "/api/v1/media", wire.CreateMediaRequest{ContentType: "text/x-nope", Size: ptr(int64(1))}, 400)
	about := "at the gym"
	call(alice.API, "PATCH", "/api/v1/users/me/profile", wire.ProfileUpdate{About: &about, AvatarMediaID: &up.MediaID}, new(wire.User))
	call(bob.API, "GET", "/api/v1/users/"+alice.UserID, nil, new(wire.User))
	refused(alice.API, "PATCH", "/api/v1/users/me/profile", wire.ProfileUpdate{About: ptr("two\nlines")}, 400)
	call(alice.API, "PUT", gpath+"/avatar", wire.AvatarRequest{MediaID: up.MediaID}, new(wire.Conversation))
	call(bob.API, "GET", gpath, nil, new(wire.Conversation))
	refused(carol.API, "PUT", "/api/v1/conversations/"+conv.ConversationID+"/avatar", wire.AvatarRequest{MediaID: up.MediaID}, 403)

	// WebSocket: every frame the server sends in a flow with each kind.
	ac, bc := alice.Dial(ctx), bob.Dial(ctx)
	var frames []client.Frame
	// read keeps every frame c receives until n of them satisfied want.
	read := func(c *client.Conn, n int, want func(client.Frame) bool) []client.Frame {
		t.Helper()
		var hits []client.Frame
		for len(hits) < n {
			f, err := c.Next(ctx)
			if err != nil {
				t.Fatalf("%d of %d frames: %v (so far %q)", len(hits), n, err, raws(frames))
			}
			frames = append(frames, f)
			if want(f) {
				hits = append(hits, f)
			}
		}
		return hits
	}
	is := func(typ string) func(client.Frame) bool {
		return func(f client.Frame) bool { return f.Type == typ }
	}
	if err := bc.SubscribePresence(ctx, alice.UserID); err != nil {
		t.Fatal(err)
	}
	read(bc, 1, is(wire.TypePresence))
	if err := ac.Typing(ctx, conv.ConversationID, wire.TypingComposing); err != nil {
		t.Fatal(err)
	}
	read(bc, 1, is(wire.TypeTyping))
	for _, m := range []wire.ClientMessage{
		wire.NewMessage("c-1", conv.ConversationID, "text", "aGk=", ""),
		wire.NewMessage("c-2", group.ConversationID, "image", "", up.MediaID),
		wire.NewMessage("c-3", "nowhere", "text", "x", ""), // refused: not_found
	} {
		if err := ac.SendRaw(ctx, wire.Encode(m)); err != nil {
			t.Fatal(err)
		}
	}
	read(ac, 3, func(f client.Frame) bool { return f.ClientMessageID != "" })
	var msg client.Frame
	for _, m := range read(bc, 2, is(wire.TypeMessage)) {
		if m.ConversationID == conv.ConversationID {
			msg = m
		}
	}
	if err := bc.Ack(ctx, msg.MessageID); err != nil {
		t.Fatal(err)
	}
	if err := bc.Read(ctx, conv.ConversationID, msg.MessageID); err != nil {
		t.Fatal(err)
	}
	read(ac, 2, is(wire.TypeStatus)) // delivered, read
	if err := ac.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	read(ac, 1, is(wire.TypeHeartbeatAck))
	name = "Alice L."
	if _, err := alice.API.UpdateProfile(ctx, wire.ProfileUpdate{DisplayName: &name}); err != nil {
		t.Fatal(err)
	}
	read(bc, 1, is(wire.TypeProfile)) // bob is alice's contact: she opened their chat
	call(alice.API, "GET", "/api/v1/messages/"+msg.MessageID+"/status", nil, new(wire.MessageStatus))
	call(bob.API, "GET", "/api/v1/conversations/"+conv.ConversationID+"/messages", nil, new(wire.MessageList))
	call(bob.API, "GET", "/api/v1/conversations", nil, new(wire.ConversationList))
	if err := ac.Close(); err != nil {
		t.Fatal(err)
	}
	off := read(bc, 1, func(f client.Frame) bool { return f.Type == wire.TypePresence && f.Status == wire.PresenceOffline })[0]
	call(bob.API, "GET", "/api/v1/users/"+alice.UserID+"/presence", nil, new(wire.UserPresence))

	seen := map[string]bool{}
	for _, f := range frames {
		v := wire.NewServerFrame(f.Type)
		if v == nil {
			t.Errorf("unknown frame %s", f.Raw)
			continue
		}
		seen[f.Type] = true
		check("frame "+f.Type, f.Raw, v)
	}
	for _, typ := range []string{wire.TypeMessageAck, wire.TypeMessage, wire.TypeStatus, wire.TypePresence, wire.TypeTyping, wire.TypeHeartbeatAck, wire.TypeError, wire.TypeProfile} {
		if !seen[typ] {
			t.Errorf("the flow showed no %q frame: %q", typ, raws(frames))
		}
	}
	if !strings.Contains(string(off.Raw), `"last_seen"`) {
		t.Errorf("offline presence without last_seen: %s", off.Raw)
	}
}

func ptr[T any](v T) *T { return &v }
