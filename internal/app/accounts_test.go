package app_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/media/mediatest"
)

// TestDeleteAccount: a wrong password changes nothing; the right one ends
// every session (4001), ends each membership with a system message (an
// admin handed over), deletes the uploads, and leaves the messages sent,
// their sender shown as a deleted account. The username stays taken for
// the retention period, then is free.
func TestDeleteAccount(t *testing.T) {
	ctx := testCtx(t)
	clk := clock.NewFake(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	cfg := apptest.Config(t)
	cfg.Retention = month
	cfg.CleanupInterval = time.Hour // never during a test: the fake clock does not tick it
	cfg.SessionTTL = 90 * 24 * time.Hour
	srv := apptest.Start(t, cfg, clk)
	alice, bob, carol := srv.NewUser(ctx, "alice"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
	direct, err := alice.API.CreateDirect(ctx, bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	group, err := alice.API.CreateGroup(ctx, "trio", []string{bob.UserID, carol.UserID}) // alice its only admin
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.API.AddContact(ctx, alice.UserID); err != nil {
		t.Fatal(err)
	}
	if err := carol.API.BlockUser(ctx, alice.UserID); err != nil {
		t.Fatal(err)
	}
	ac := served(t, alice.Dial(ctx))
	a2 := served(t, apptest.Dial(ctx, t, alice.NewDevice(ctx)))
	bc := served(t, bob.Dial(ctx))
	img := mediatest.PNG(t, 8, 8)
	up, err := alice.API.CreateMedia(ctx, "image/png", int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.API.Upload(ctx, up, bytes.NewReader(img), int64(len(img))); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.API.CompleteMedia(ctx, up.MediaID); err != nil {
		t.Fatal(err)
	}
	said, err := ac.SendMessage(ctx, text("a1", direct.ConversationID, "goodbye"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.SendMessage(ctx, client.OutgoingMessage{ClientMessageID: "a2", ConversationID: group.ConversationID,
		MessageType: "image", MediaID: up.MediaID}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.API.GetMedia(ctx, up.MediaID); err != nil {
		t.Fatalf("bob fetching alice's photo before: %v", err)
	}

	if err := alice.API.DeleteAccount(ctx, "not the password"); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("deletion with a wrong password: %v, want unauthorized", err)
	}
	if _, err := alice.API.Conversations(ctx); err != nil {
		t.Fatalf("alice's session after the refused deletion: %v", err)
	}
	if err := alice.API.DeleteAccount(ctx, alice.Password()); err != nil {
		t.Fatal(err)
	}
	closedWith(ctx, t, ac, 4001, "the deleting device's socket")
	closedWith(ctx, t, a2, 4001, "alice's other device")
	if _, err := alice.API.Conversations(ctx); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("alice's token after deletion: %v, want unauthorized", err)
	}
	if _, err := srv.Client().Login(ctx, alice.Username, alice.Password()); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("login after deletion: %v, want unauthorized", err)
	}

	// Bob: a system message in each conversation, her message still there
	// under a deleted sender, her photo gone, no way to reach her again.
	for notes := 0; notes < 2; {
		f, err := bc.Next(ctx, "message")
		if err != nil {
			t.Fatal(err)
		}
		if f.MessageType != "system" {
			continue // her messages from before
		}
		if f.SenderID != alice.UserID || !bytes.Contains([]byte(f.Content), []byte(`"account_deleted"`)) {
			t.Fatalf("bob got %+v; want an account_deleted system message", f)
		}
		notes++
	}
	h, err := bob.API.Messages(ctx, direct.ConversationID, client.HistoryOptions{})
	if err != nil || len(h) != 2 || h[0].MessageID != said.MessageID || h[0].SenderID != alice.UserID {
		t.Fatalf("bob's 1:1 history = %+v, %v; want alice's message, then the system message", h, err)
	}
	u, err := bob.API.User(ctx, alice.UserID)
	if err != nil || !u.Deleted || u.DisplayName != "" || u.Username != "" && u.Username != alice.Username {
		t.Fatalf("alice as bob sees her = %+v, %v; want a deleted account", u, err)
	}
	if _, err := bob.API.GetMedia(ctx, up.MediaID); client.ErrorCode(err) != "not_found" {
		t.Fatalf("alice's photo after deletion: %v, want not_found", err)
	}
	if p, err := bob.API.Participants(ctx, group.ConversationID); err != nil || len(p) != 2 || p[0].Role != "admin" {
		t.Fatalf("the group after alice = %+v, %v; want bob and carol, the older one admin", p, err)
	}
	if p, err := bob.API.Participants(ctx, direct.ConversationID); err != nil || len(p) != 1 {
		t.Fatalf("the 1:1 after alice = %+v, %v; want bob alone", p, err)
	}
	if _, err := bob.API.AddParticipant(ctx, group.ConversationID, alice.UserID); client.ErrorCode(err) != "invalid" {
		t.Fatalf("adding the deleted account to a group: %v, want invalid (unknown user)", err)
	}
	if _, err := carol.API.CreateDirect(ctx, alice.UserID); client.ErrorCode(err) != "invalid" {
		t.Fatalf("a 1:1 with the deleted account: %v, want invalid (unknown user)", err)
	}
	if c, err := bob.API.Contacts(ctx); err != nil || len(c) != 0 {
		t.Fatalf("bob's contacts = %+v, %v; want alice gone", c, err)
	}
	if b, err := carol.API.Blocks(ctx); err != nil || len(b) != 0 {
		t.Fatalf("carol's blocks = %+v, %v; want alice gone", b, err)
	}
	if _, err := bob.API.FindUser(ctx, alice.Username); client.ErrorCode(err) != "not_found" {
		t.Fatalf("looking alice up: %v, want not_found", err)
	}
	if _, err := srv.Client().Register(ctx, alice.Username, "another password", "Imposter"); client.ErrorCode(err) != "conflict" {
		t.Fatalf("taking the username at once: %v, want conflict", err)
	}

	// After the retention period the name is free.
	clk.Advance(month + time.Minute)
	sum, err := srv.App.RunCleanup(ctx)
	if err != nil || sum.FreedUsernames != 1 {
		t.Fatalf("cleanup = %+v, %v; want one username freed", sum, err)
	}
	if _, err := srv.Client().Register(ctx, alice.Username, "another password", "New Alice"); err != nil {
		t.Fatalf("the username after the retention period: %v", err)
	}
	if u, err := bob.API.User(ctx, alice.UserID); err != nil || !u.Deleted || u.Username != "" {
		t.Fatalf("the deleted account after its name was freed = %+v, %v", u, err)
	}
}

// TestDeleteAccountBadInput: no session, a malformed body, an empty password.
func TestDeleteAccountBadInput(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	alice := srv.NewUser(ctx, "alice")
	if err := srv.Client().DeleteAccount(ctx, alice.Password()); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("without a session: %v, want unauthorized", err)
	}
	if err := alice.API.DeleteAccount(ctx, ""); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("empty password: %v, want unauthorized", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, srv.URL+"/api/v1/users/me", bytes.NewReader([]byte("{")))
	req.Header.Set("Authorization", "Bearer "+alice.Session.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed body: %d, want 400", resp.StatusCode)
	}
	if _, err := alice.API.Conversations(context.Background()); err != nil {
		t.Fatalf("alice after the refused deletions: %v", err)
	}
}
