package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/internal/config"
)

// newBot creates a bot owned by owner and returns its key and a client
// signed in with it.
func newBot(ctx context.Context, t testing.TB, srv *apptest.Server, owner *apptest.User, name string) (client.BotKey, *client.Client) {
	t.Helper()
	k, err := owner.API.CreateBot(ctx, name, strings.ToUpper(name[:1])+name[1:])
	if err != nil {
		t.Fatalf("create bot %s: %v", name, err)
	}
	return k, srv.Client().WithToken(k.APIKey)
}

// TestBotKeyIsASession: a bot's API key works on REST and the WebSocket
// like a session token, both ways: what the bot sends reaches a person's
// socket, what the person sends reaches the bot's.
func TestBotKeyIsASession(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		owner, bob := srv.NewUser(ctx, "owner"), srv.NewUser(ctx, "bob")
		k, bot := newBot(ctx, t, srv, owner, "helperbot")
		if k.BotID == "" || k.UserID != k.BotID || !strings.HasPrefix(k.APIKey, "parley_bot_") {
			t.Fatalf("created %+v", k)
		}

		// Others find it by name, marked as a bot with its owner.
		found, err := bob.API.FindUser(ctx, "HELPERBOT")
		if err != nil {
			t.Fatal(err)
		}
		if found.UserID != k.UserID || !found.Bot || found.BotOwnerID != owner.UserID {
			t.Fatalf("found %+v, want bot %s of %s", found, k.UserID, owner.UserID)
		}
		if me, err := bob.API.User(ctx, bob.UserID); err != nil || me.Bot {
			t.Fatalf("a person: %+v %v", me, err)
		}

		conv, err := bot.CreateDirect(ctx, bob.UserID) // REST with the key
		if err != nil {
			t.Fatalf("bot starts a 1:1: %v", err)
		}
		bc, botc := bob.Dial(ctx), apptest.Dial(ctx, t, bot)
		if _, err := botc.SendMessage(ctx, text("b-1", conv.ConversationID, "beep")); err != nil {
			t.Fatalf("bot sends: %v", err)
		}
		if f, err := bc.Next(ctx, "message"); err != nil || f.SenderID != k.UserID {
			t.Fatalf("bob got %+v %v, want the bot's message", f, err)
		}
		if _, err := bc.SendMessage(ctx, text("h-1", conv.ConversationID, "hello bot")); err != nil {
			t.Fatal(err)
		}
		if f, err := botc.Next(ctx, "message"); err != nil || f.SenderID != bob.UserID {
			t.Fatalf("bot got %+v %v, want bob's message", f, err)
		}
	})
}

// TestBotKeyRotateAndRevoke: a rotation ends the old key at once (401,
// its socket closed with 4001) and the new one works; a revocation leaves
// no key until the next rotation.
func TestBotKeyRotateAndRevoke(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		owner := srv.NewUser(ctx, "owner")
		k, old := newBot(ctx, t, srv, owner, "rotbot")
		oldConn := served(t, apptest.Dial(ctx, t, old))

		k2, err := owner.API.RotateBotKey(ctx, k.BotID)
		if err != nil {
			t.Fatal(err)
		}
		if k2.APIKey == k.APIKey || k2.BotID != k.BotID {
			t.Fatalf("rotated %+v from %+v", k2, k)
		}
		closedWith(ctx, t, oldConn, 4001, "the old key's socket")
		if _, err := old.Conversations(ctx); client.ErrorCode(err) != "unauthorized" {
			t.Fatalf("old key after rotation: %v, want unauthorized", err)
		}
		fresh := srv.Client().WithToken(k2.APIKey)
		if _, err := fresh.Conversations(ctx); err != nil {
			t.Fatalf("new key: %v", err)
		}
		newConn := served(t, apptest.Dial(ctx, t, fresh))

		bots, err := owner.API.Bots(ctx)
		if err != nil || len(bots) != 1 || bots[0].BotID != k.BotID || bots[0].KeyCreatedAt == nil {
			t.Fatalf("bots = %+v %v", bots, err)
		}

		if err := owner.API.RevokeBotKey(ctx, k.BotID); err != nil {
			t.Fatal(err)
		}
		closedWith(ctx, t, newConn, 4001, "the revoked key's socket")
		if _, err := fresh.Conversations(ctx); client.ErrorCode(err) != "unauthorized" {
			t.Fatalf("revoked key: %v, want unauthorized", err)
		}
		if err := owner.API.RevokeBotKey(ctx, k.BotID); err != nil {
			t.Fatalf("revoke with no key: %v", err)
		}
		bots, err = owner.API.Bots(ctx)
		if err != nil || len(bots) != 1 || bots[0].KeyCreatedAt != nil {
			t.Fatalf("bots after revoke = %+v %v", bots, err)
		}
		k3, err := owner.API.RotateBotKey(ctx, k.BotID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Client().WithToken(k3.APIKey).Conversations(ctx); err != nil {
			t.Fatalf("key after revoke and rotate: %v", err)
		}
	})
}

// TestBotsOnlyTheirOwner: another user's bot is not found to anyone but
// its owner; a bot cannot create bots, nor sign in with a password; the
// list never carries keys; names are checked as at registration.
func TestBotsOnlyTheirOwner(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		srv := apptest.Start(t, cfg, nil)
		owner, mallory := srv.NewUser(ctx, "owner"), srv.NewUser(ctx, "mallory")
		k, bot := newBot(ctx, t, srv, owner, "privbot")

		if _, err := mallory.API.RotateBotKey(ctx, k.BotID); err == nil {
			t.Fatal("another user rotated the key")
		} else {
			wantStatus(t, err, 404, "not_found", "rotate another's bot")
		}
		wantStatus(t, mallory.API.RevokeBotKey(ctx, k.BotID), 404, "not_found", "revoke another's bot key")
		wantStatus(t, mallory.API.DeleteBot(ctx, k.BotID), 404, "not_found", "delete another's bot")
		wantStatus(t, owner.API.DeleteBot(ctx, mallory.UserID), 404, "not_found", "delete a person as a bot")
		if list, err := mallory.API.Bots(ctx); err != nil || len(list) != 0 {
			t.Fatalf("mallory's bots = %+v %v", list, err)
		}
		if _, err := bot.Conversations(ctx); err != nil {
			t.Fatalf("the key after others tried: %v", err)
		}

		_, err := bot.CreateBot(ctx, "childbot", "")
		wantStatus(t, err, 403, "forbidden", "a bot creating a bot")
		_, err = srv.Client().Login(ctx, "privbot", "")
		wantStatus(t, err, 401, "unauthorized", "password login as a bot, empty")
		_, err = srv.Client().Login(ctx, "privbot", "correct horse battery")
		wantStatus(t, err, 401, "unauthorized", "password login as a bot")
		wantStatus(t, bot.ChangePassword(ctx, "", "new password here"), 403, "forbidden", "a bot setting a password")
		wantStatus(t, bot.DeleteAccount(ctx, "anything at all"), 403, "forbidden", "a bot deleting itself")

		_, err = owner.API.CreateBot(ctx, "no spaces!", "")
		wantStatus(t, err, 400, "invalid", "a bad name")
		_, err = owner.API.CreateBot(ctx, "okname", "two\nlines")
		wantStatus(t, err, 400, "invalid", "a bad display name")
		_, err = owner.API.CreateBot(ctx, mallory.Username, "")
		wantStatus(t, err, 409, "conflict", "a taken name")

		var raw json.RawMessage
		if err := owner.API.Do(ctx, "GET", "/api/v1/bots", nil, &raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), k.APIKey) || strings.Contains(string(raw), "api_key") {
			t.Fatalf("the list shows a key: %s", raw)
		}
	})
}

// TestBotLimit: --max-bots-per-user caps an owner's live bots; a deleted
// one frees its place; 0 turns the cap off.
func TestBotLimit(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		cfg.Abuse.MaxBotsPerUser = 2
		srv := apptest.Start(t, cfg, nil)
		owner := srv.NewUser(ctx, "owner")
		first, _ := newBot(ctx, t, srv, owner, "capbot1")
		newBot(ctx, t, srv, owner, "capbot2")
		_, err := owner.API.CreateBot(ctx, "capbot3", "")
		wantStatus(t, err, 403, "forbidden", "a third bot")
		if err := owner.API.DeleteBot(ctx, first.BotID); err != nil {
			t.Fatal(err)
		}
		newBot(ctx, t, srv, owner, "capbot3")
	})
	t.Run("off", func(t *testing.T) {
		ctx := testCtx(t)
		cfg := apptest.Config(t)
		cfg.Abuse.MaxBotsPerUser = 0
		srv := apptest.Start(t, cfg, nil)
		owner := srv.NewUser(ctx, "owner")
		for _, n := range []string{"free1", "free2", "free3"} {
			newBot(ctx, t, srv, owner, n)
		}
	})
}

// TestBotInGroupAndDeleted: a bot added to a group counts within the
// group's limit; deleting it ends its memberships and its key, and frees
// its name at once.
func TestBotInGroupAndDeleted(t *testing.T) {
	bothEngines(t, func(t *testing.T, cfg config.Config) {
		ctx := testCtx(t)
		cfg.MaxGroupSize = 3
		srv := apptest.Start(t, cfg, nil)
		owner, bob, carol := srv.NewUser(ctx, "owner"), srv.NewUser(ctx, "bob"), srv.NewUser(ctx, "carol")
		k, bot := newBot(ctx, t, srv, owner, "groupbot")
		g, err := owner.API.CreateGroup(ctx, "team", []string{bob.UserID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := owner.API.AddParticipant(ctx, g.ConversationID, k.UserID); err != nil {
			t.Fatalf("add the bot: %v", err)
		}
		_, err = owner.API.AddParticipant(ctx, g.ConversationID, carol.UserID)
		wantStatus(t, err, 422, "group_full", "a fourth member after the bot")
		botc := served(t, apptest.Dial(ctx, t, bot))
		if _, err := botc.SendMessage(ctx, text("g-1", g.ConversationID, "hello team")); err != nil {
			t.Fatalf("the bot sends to the group: %v", err)
		}

		if err := owner.API.DeleteBot(ctx, k.BotID); err != nil {
			t.Fatal(err)
		}
		closedWith(ctx, t, botc, 4001, "the deleted bot's socket")
		if _, err := bot.Conversations(ctx); client.ErrorCode(err) != "unauthorized" {
			t.Fatalf("deleted bot's key: %v", err)
		}
		parts, err := owner.API.Participants(ctx, g.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if p.UserID == k.UserID {
				t.Fatalf("the deleted bot is still a member: %+v", parts)
			}
		}
		if _, err := owner.API.AddParticipant(ctx, g.ConversationID, carol.UserID); err != nil {
			t.Fatalf("its place is free: %v", err)
		}
		if list, err := owner.API.Bots(ctx); err != nil || len(list) != 0 {
			t.Fatalf("bots after delete = %+v %v", list, err)
		}
		// The name is free at once, for a bot or a person.
		if _, err := carol.API.CreateBot(ctx, "GroupBot", ""); err != nil {
			t.Fatalf("the name after delete: %v", err)
		}
	})
}

// TestOwnerDeletionDeletesBots: no bot outlives its owner's account.
func TestOwnerDeletionDeletesBots(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	owner, bob := srv.NewUser(ctx, "owner"), srv.NewUser(ctx, "bob")
	k, bot := newBot(ctx, t, srv, owner, "orphanbot")
	botc := served(t, apptest.Dial(ctx, t, bot))
	if err := owner.API.DeleteAccount(ctx, owner.Password()); err != nil {
		t.Fatal(err)
	}
	closedWith(ctx, t, botc, 4001, "the bot's socket when its owner goes")
	if u, err := bob.API.User(ctx, k.UserID); err != nil || !u.Deleted {
		t.Fatalf("the bot after its owner's deletion: %+v %v", u, err)
	}
}

// TestClusterBotKeyRotation: a key rotated through one node is refused at
// once on the other, whose connection of it closes with 4001 — the
// session cache of that node dropped it first.
func TestClusterBotKeyRotation(t *testing.T) {
	ctx := testCtx(t)
	na, nb := twoNodes(t)
	owner := na.NewUser(ctx, "owner")
	k, err := owner.API.CreateBot(ctx, "clusterbot", "")
	if err != nil {
		t.Fatal(err)
	}
	onB := client.New(nb.URL).WithToken(k.APIKey)
	if _, err := onB.Conversations(ctx); err != nil { // cached on node B
		t.Fatal(err)
	}
	conn := served(t, apptest.Dial(ctx, t, onB))
	k2, err := owner.API.RotateBotKey(ctx, k.BotID) // through node A
	if err != nil {
		t.Fatal(err)
	}
	closedWith(ctx, t, conn, 4001, "the old key's socket on the other node")
	if _, err := onB.Conversations(ctx); client.ErrorCode(err) != "unauthorized" {
		t.Fatalf("old key on the other node: %v, want unauthorized", err)
	}
	if _, err := client.New(nb.URL).WithToken(k2.APIKey).Conversations(ctx); err != nil {
		t.Fatalf("new key on the other node: %v", err)
	}
}
