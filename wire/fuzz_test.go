package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFrameRoundTrip checks that every frame the decoder accepts is one a
// client could have built: encoding its typed form (Inbound.Typed) and
// decoding that again is accepted too, and encodes to the same bytes.
func FuzzFrameRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"text","content":"hi","reply_to":"r","mentions":["u1","u2"],"forward_of":"f"}`,
		`{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"image","content":"","media_id":"m","mentions":[]}`,
		`{"type":"reaction","message_id":"m","emoji":"👍🏽"}`,
		`{"type":"reaction","message_id":"m","emoji":""}`,
		`{"type":"edit","message_id":"m","content":"new"}`,
		`{"type":"delete","message_id":"m","for":"everyone"}`,
		`{"type":"delivery_ack","message_ids":["a","b"]}`,
		`{"type":"read_receipt","conversation_id":"v","message_ids":["a"]}`,
		`{"type":"heartbeat","timestamp":1,"content":"ignored"}`,
		`{"type":"typing","conversation_id":"v","state":"paused"}`,
		`{"type":"presence_subscribe","user_ids":[]}`,
		`{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"text","content":"\ud800\u0000é"}`,
	} {
		f.Add([]byte(s))
	}
	lim := DefaultLimits()
	lim.MaxContentBytes = 64
	lim.MaxIDsPerFrame = 8
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data, lim)
		if err != nil {
			return
		}
		typed := fr.Typed()
		if typed == nil {
			t.Fatalf("accepted frame of type %q has no typed form", fr.Type)
		}
		enc := Encode(typed)
		again, err := Decode(enc, lim)
		if err != nil {
			t.Fatalf("re-encoded frame %s refused: %v (from %q)", enc, err, data)
		}
		if enc2 := Encode(again.Typed()); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the frame:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzIsEmoji checks what IsEmoji accepts: one short, valid UTF-8 emoji
// that no text, space or second emoji may follow or precede; and that a
// reaction frame is accepted exactly when its emoji is one (or empty).
func FuzzIsEmoji(f *testing.F) {
	for _, s := range []string{"👍", "❤️", "❤", "👍🏽", "👩‍❤️‍👨", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "#⃣", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "😂", "©️", "☕",
		"", "a", "1", "👍👍", "👍 ", "🏽", "🇫", "🇫🇷🇫", "👍\u200d", "\u200d👍", "é", "中", "👍\x00", "\xff", "#"} {
		f.Add(s)
	}
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, s string) {
		ok := IsEmoji(s)
		if ok {
			if s == "" || len(s) > MaxEmojiBytes || !utf8.ValidString(s) {
				t.Fatalf("IsEmoji(%q): empty, too long or not UTF-8", s)
			}
			if strings.ContainsAny(s, " \t\n\x00abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				t.Fatalf("IsEmoji(%q) with text in it", s)
			}
			for _, bad := range []string{s + s, " " + s, s + " ", "a" + s, s + "a", s + "\u200d"} {
				if IsEmoji(bad) {
					t.Fatalf("IsEmoji(%q) accepted, from the emoji %q", bad, s)
				}
			}
		}
		if !utf8.ValidString(s) {
			return // JSON would carry U+FFFD instead
		}
		_, err := Decode(Encode(NewReaction("m", s)), lim)
		if want := s == "" || ok; (err == nil) != want {
			t.Fatalf("reaction with emoji %q: err %v, IsEmoji %v", s, err, ok)
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != CodeInvalid {
				t.Fatalf("reaction refused without invalid: %v", err)
			}
		}
	})
}
