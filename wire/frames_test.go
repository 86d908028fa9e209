package wire

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	lim := DefaultLimits()
	cases := []struct {
		name string
		in   string
		code Code // "" for valid
	}{
		{"message", `{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"text","content":"hi"}`, ""},
		{"empty content is allowed", `{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"text","content":""}`, ""},
		{"content at the limit", `{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"text","content":"` + strings.Repeat("a", 65536) + `"}`, ""},
		{"content over the limit", `{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"text","content":"` + strings.Repeat("a", 65537) + `"}`, CodeTooLarge},
		{"escaped content counts decoded bytes", `{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"text","content":"` + strings.Repeat(`\u00e9`, 32768) + `"}`, ""},
		{"media", `{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"image","content":"","media_id":"m"}`, ""},
		{"delivery_ack", `{"type":"delivery_ack","message_ids":["a","b"]}`, ""},
		{"read_receipt", `{"type":"read_receipt","conversation_id":"v","message_ids":["a"]}`, ""},
		{"heartbeat", `{"type":"heartbeat","timestamp":1}`, ""},
		{"typing", `{"type":"typing","conversation_id":"v","state":"paused"}`, ""},
		{"subscribe", `{"type":"presence_subscribe","user_ids":["u"]}`, ""},
		{"unknown fields are ignored", `{"type":"heartbeat","extra":{"a":[1]}}`, ""},
		{"empty", ``, CodeInvalid},
		{"null", `null`, CodeInvalid},
		{"array", `[]`, CodeInvalid},
		{"trailing", `{"type":"heartbeat"}x`, CodeInvalid},
		{"no type", `{}`, CodeInvalid},
		{"unknown type", `{"type":"nope"}`, CodeInvalid},
		{"type is a number", `{"type":1}`, CodeInvalid},
		{"system message type", `{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"system","content":""}`, CodeInvalid},
		{"ack without ids", `{"type":"delivery_ack"}`, CodeInvalid},
		{"ack with empty id", `{"type":"delivery_ack","message_ids":[""]}`, CodeInvalid},
		{"too many ids", `{"type":"delivery_ack","message_ids":["` + strings.Repeat(`a","`, 1000) + `a"]}`, CodeInvalid},
		{"read without conversation", `{"type":"read_receipt","message_ids":["a"]}`, CodeInvalid},
		{"typing bad state", `{"type":"typing","conversation_id":"v","state":"x"}`, CodeInvalid},
		{"subscribe empty list is fine", `{"type":"presence_subscribe","user_ids":[]}`, ""},
		{"invalid UTF-8 in a string decodes as U+FFFD", "{\"type\":\"delivery_ack\",\"message_ids\":[\"\xff\"]}", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode([]byte(tc.in), lim)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if f.Type == "" {
					t.Fatal("no type")
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("Decode error = %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestTooLargeKeepsClientMessageID(t *testing.T) {
	in := `{"type":"message","client_message_id":"keep","conversation_id":"v","message_type":"text","content":"` + strings.Repeat("a", 11) + `"}`
	lim := DefaultLimits()
	lim.MaxContentBytes = 10
	f, err := Decode([]byte(in), lim)
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeTooLarge || f == nil || f.ClientMessageID != "keep" {
		t.Fatalf("Decode = %+v, %v", f, err)
	}
}

// FuzzDecode checks that no input makes the decoder panic, and that every
// refusal is a coded *Error and every accepted frame is self-consistent.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"message","client_message_id":"c","conversation_id":"v","message_type":"text","content":"hi"}`,
		`{"type":"delivery_ack","message_ids":["a"]}`,
		`{"type":"read_receipt","conversation_id":"v","message_ids":["a"]}`,
		`{"type":"heartbeat","timestamp":1}`,
		`{"type":"typing","conversation_id":"v","state":"composing"}`,
		`{"type":"presence_subscribe","user_ids":["u"]}`,
		`{"type":"message","content":"\ud800"}`,
		`{`,
	} {
		f.Add([]byte(s))
	}
	lim := DefaultLimits()
	lim.MaxContentBytes = 64
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data, lim)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || (pe.Code != CodeInvalid && pe.Code != CodeTooLarge) {
				t.Fatalf("refusal without a client error code: %v", err)
			}
			return
		}
		if fr.Type == TypeMessage && (fr.Content == nil || len(*fr.Content) > lim.MaxContentBytes || fr.ClientMessageID == "") {
			t.Fatalf("accepted a bad message frame: %+v", fr)
		}
	})
}

// TestErrorFrameRetryAfter: a rate_limited error that knows its wait
// carries retry_after_ms, rounded up; any other error frame has none.
func TestErrorFrameRetryAfter(t *testing.T) {
	cases := []struct {
		err  *Error
		want string
	}{
		{RateLimited("busy", 1500*time.Microsecond), `{"type":"error","code":"rate_limited","message":"busy","client_message_id":"k","retry_after_ms":2}`},
		{RateLimited("busy", 5*time.Second), `{"type":"error","code":"rate_limited","message":"busy","client_message_id":"k","retry_after_ms":5000}`},
		{NewError(CodeRateLimited, "too many frames"), `{"type":"error","code":"rate_limited","message":"too many frames","client_message_id":"k"}`},
		{&Error{Code: CodeInvalid, Message: "bad", RetryAfter: time.Second}, `{"type":"error","code":"invalid","message":"bad","client_message_id":"k"}`},
	}
	for _, tc := range cases {
		if got := string(Encode(NewErrorFrame(tc.err, "k"))); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

func TestIsEmoji(t *testing.T) {
	for _, s := range []string{"👍", "❤️", "❤", "👍🏽", "👩‍❤️‍👨", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "#⃣", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "😂", "🫠", "©️", "☕"} {
		if !IsEmoji(s) {
			t.Errorf("IsEmoji(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "a", "1", "👍👍", "👍 ", " 👍", "ok", "🏽", "🇫", "🇫🇷🇫", "👍\u200d", "\u200d👍", "é", "中", "👍\x00", "\xff", "👍a", "#"} {
		if IsEmoji(s) {
			t.Errorf("IsEmoji(%q) = true, want false", s)
		}
	}
}
