package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store/sqlstore"
)

// BenchmarkAppendMessages measures the group commit: one operation is one
// message, appended in transactions of batch messages (each one fsynced),
// so ns/op is the cost of a message at that batch size. It is what
// bounds the send path's throughput.
func BenchmarkAppendMessages(b *testing.B) {
	for _, batch := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlstore.Open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now()
			for _, id := range []string{"alice", "bob"} {
				if err := s.CreateUser(ctx, identity.User{ID: id, Username: id, DisplayName: id, CreatedAt: now}, "not a hash"); err != nil {
					b.Fatal(err)
				}
			}
			conv, _, err := s.CreateDirect(ctx, conversations.Conversation{
				ID: "conv", Type: conversations.TypeDirect, CreatedBy: "alice", CreatedAt: now, LastActivityAt: now,
				Members: []conversations.Member{
					{UserID: "alice", Role: conversations.RoleMember, JoinedAt: now},
					{UserID: "bob", Role: conversations.RoleMember, JoinedAt: now},
				},
			}, "alice:bob")
			if err != nil {
				b.Fatal(err)
			}
			content := string(make([]byte, 100))
			msgs := make([]messaging.Message, 0, batch)
			seq := 0
			b.ReportAllocs()
			b.ResetTimer()
			for left := b.N; left > 0; left -= len(msgs) {
				msgs = msgs[:0]
				for range min(batch, left) {
					seq++
					msgs = append(msgs, messaging.Message{
						ID: fmt.Sprintf("m%09d", seq), ConversationID: conv.ID, SenderID: "alice", SenderDevice: "alice-phone",
						ClientMessageID: fmt.Sprintf("c%09d", seq), Type: "text", Content: content, CreatedAt: now,
					})
				}
				res, err := s.AppendMessages(ctx, msgs)
				if err != nil {
					b.Fatal(err)
				}
				if r := res[len(res)-1]; r.Err != nil || r.Message.Seq != int64(seq) {
					b.Fatalf("last result %+v, want seq %d", r, seq)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/msg")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkReactions measures a reaction in a group of 100: its commit
// (the check, the write, and an update event numbered and stored for each
// of the 100 members), in commits of batch reactions. One operation is
// one reaction.
func BenchmarkReactions(b *testing.B) {
	const members = 100
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlstore.Open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now()
			users := make([]string, members)
			for i := range users {
				users[i] = fmt.Sprintf("u%03d", i)
				if err := s.CreateUser(ctx, identity.User{ID: users[i], Username: users[i], DisplayName: users[i], CreatedAt: now}, "not a hash"); err != nil {
					b.Fatal(err)
				}
			}
			err = s.Update(ctx, func(tx conversations.Tx) error {
				c := conversations.Conversation{ID: "g", Type: conversations.TypeGroup, Name: "g", CreatedBy: users[0], CreatedAt: now, LastActivityAt: now}
				if err := tx.CreateGroup(ctx, c); err != nil {
					return err
				}
				for _, u := range users {
					if err := tx.AddMember(ctx, "g", conversations.Member{UserID: u, Role: conversations.RoleMember, JoinedAt: now}, members); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			res, err := s.AppendMessages(ctx, []messaging.Message{{ID: "m1", ConversationID: "g", SenderID: users[0], SenderDevice: "d",
				ClientMessageID: "c1", Type: "text", Content: "react to me", CreatedAt: now}})
			if err != nil || res[0].Err != nil {
				b.Fatal(err, res[0].Err)
			}
			emoji := []string{"👍", "❤️", "😂"}
			reqs := make([]messaging.UpdateRequest, 0, batch)
			n := 0
			b.ReportAllocs()
			b.ResetTimer()
			for left := b.N; left > 0; left -= len(reqs) {
				reqs = reqs[:0]
				for range min(batch, left) {
					n++
					// Each user a different emoji from its last: every one a change.
					reqs = append(reqs, messaging.UpdateRequest{Kind: messaging.UpdateReaction, UserID: users[n%members],
						MessageID: "m1", Emoji: emoji[(n/members)%len(emoji)], At: now})
				}
				c, err := s.Commit(ctx, messaging.Batch{Updates: reqs})
				if err != nil {
					b.Fatal(err)
				}
				if r := c.Updates[len(c.Updates)-1]; r.Err != nil || len(r.Recipients) != members {
					b.Fatalf("last reaction %+v reached %d members, want %d", r.Err, len(r.Recipients), members)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reactions/s")
		})
	}
}
