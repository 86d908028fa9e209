// Command echobot is the smallest useful Parley bot: it signs in with a
// bot's API key, holds a WebSocket, and answers every text message in any
// conversation it is in with the same text, as a reply quoting it. It
// acknowledges each message once answered and reconnects with backoff.
// See README.md, "Write your first bot".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/wire"
)

// config is what the bot runs with.
type config struct {
	// URL is the server, e.g. http://127.0.0.1:8080.
	URL string
	// Key is the bot's API key (POST /api/v1/bots). Never logged.
	Key string
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the wait before a reconnect; it
	// doubles after each failed attempt and starts over once connected.
	MinBackoff, MaxBackoff time.Duration
	// Heartbeat keeps the connection alive through the server's
	// heartbeat timeout (60 s by default) and idle proxies.
	Heartbeat time.Duration
}

func main() {
	cfg := config{MinBackoff: time.Second, MaxBackoff: time.Minute, Heartbeat: 20 * time.Second}
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "the Parley server")
	flag.StringVar(&cfg.Key, "key", "", "the bot's API key (default: $PARLEY_BOT_KEY; prefer the variable: flags show in ps)")
	flag.Parse()
	if cfg.Key == "" {
		cfg.Key = os.Getenv("PARLEY_BOT_KEY")
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if cfg.Key == "" {
		cfg.Log.Error("no API key: set PARLEY_BOT_KEY or --key")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		cfg.Log.Error("echobot stopped", "err", err)
		os.Exit(1)
	}
}

// errKeyRefused: the server no longer takes the key (revoked, rotated,
// the bot deleted). Reconnecting cannot help; a person must act.
var errKeyRefused = errors.New("the API key was refused: it was rotated or revoked, or the bot deleted")

// run serves until ctx ends (nil) or the key is refused.
func run(ctx context.Context, cfg config) error {
	b := &bot{api: client.New(cfg.URL).WithToken(cfg.Key), cfg: cfg, isBot: map[string]bool{}}
	cfg.MinBackoff = max(cfg.MinBackoff, time.Millisecond) // rand.N needs a positive bound
	wait := cfg.MinBackoff
	for {
		connected, err := b.serve(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, errKeyRefused):
			return err
		}
		if connected {
			wait = cfg.MinBackoff
		}
		// Full jitter: a server restart must not see every bot come back
		// in the same second.
		d := rand.N(wait) + 1
		cfg.Log.Warn("disconnected, reconnecting", "err", err, "in", d.Round(time.Millisecond))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil
		}
		wait = min(2*wait, cfg.MaxBackoff)
	}
}

// bot is one running echobot.
type bot struct {
	api *client.Client
	cfg config
	// isBot caches whether a sender is a bot (by user id). A bot never
	// answers a bot: two echobots in a group would answer each other
	// forever. Its own messages are a bot's too.
	isBot map[string]bool
}

// serve holds one connection until it ends; connected tells whether it
// was opened at all.
func (b *bot) serve(ctx context.Context) (connected bool, err error) {
	conn, err := b.api.Dial(ctx, client.DialOptions{Heartbeat: b.cfg.Heartbeat})
	if err != nil {
		var e *client.Error
		if errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			return false, errKeyRefused
		}
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Abort()
	b.cfg.Log.Info("connected", "server", b.cfg.URL)
	for {
		f, err := conn.Next(ctx, wire.TypeMessage)
		if err != nil {
			// 4001: the session behind the key ended (rotated, revoked).
			if conn.CloseStatus() == 4001 {
				return true, errKeyRefused
			}
			return true, err
		}
		if err := b.answer(ctx, conn, f); err != nil {
			return true, err
		}
	}
}

// answer echoes f if it is a person's text message, then acknowledges
// it. The acknowledgement comes after the echo is stored: a crash in
// between redelivers f, and the echo's client_message_id, derived from
// f's id, makes the second send a duplicate the server does not store
// twice.
func (b *bot) answer(ctx context.Context, conn *client.Conn, f client.Frame) error {
	if f.MessageType == "text" && !f.Deleted && f.Content != "" {
		human, err := b.human(ctx, f.SenderID)
		if err != nil {
			return err
		}
		if human {
			_, err := conn.SendMessage(ctx, client.OutgoingMessage{
				ClientMessageID: "echo-" + f.MessageID, ConversationID: f.ConversationID,
				MessageType: "text", Content: f.Content, ReplyTo: f.MessageID,
			})
			var e *client.Error
			// A refusal of this one message (e.g. the bot was removed
			// from the group meanwhile) is no reason to stop.
			if errors.As(err, &e) && e.Code != "rate_limited" {
				b.cfg.Log.Warn("echo refused", "conversation", f.ConversationID, "code", e.Code)
			} else if err != nil {
				return fmt.Errorf("echo: %w", err)
			}
		}
	}
	return conn.Ack(ctx, f.MessageID)
}

// human says whether userID is a person, asking the server once per
// sender.
func (b *bot) human(ctx context.Context, userID string) (bool, error) {
	if isBot, ok := b.isBot[userID]; ok {
		return !isBot, nil
	}
	u, err := b.api.User(ctx, userID)
	if err != nil {
		return false, fmt.Errorf("look up sender: %w", err)
	}
	b.isBot[userID] = u.Bot
	return !u.Bot, nil
}
