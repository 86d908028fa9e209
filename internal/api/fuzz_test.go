package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/parleychat/parley/wire"
)

// FuzzDecodeBody feeds arbitrary bytes to decode, the REST handlers' body
// parser, as each main request type. A refusal is an invalid or too_large
// *wire.Error; an accepted body re-encodes and decodes to the same value.
// The send and receipt bodies then go through the frame validation their
// handlers apply, which refuses only with a coded *wire.Error too.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"username":"alice","password":"correct horse","display_name":"Alice"}`,
		`{"username":"alice","password":"pw","device_name":"Phone"}`,
		`{"type":"group","name":"Book club","participants":["u1","u2"],"description":"d"}`,
		`{"type":"1:1","participants":["u1"]}`,
		`{"message_type":"text","content":"hi","reply_to":"r","mentions":["u"],"forward_of":"f"}`,
		`{"message_type":"image","content":"","media_id":"m"}`,
		`{"message_ids":["a","b"]}`,
		`{"display_name":"A","about":null,"avatar_media_id":""}`,
		`{"name":"n","only_admins_send":true}`,
		`{"message_ids":[]} {}`,
		`{"content":"\ud800"}`,
		``,
		`[`,
	} {
		f.Add([]byte(s))
	}
	lim := wire.DefaultLimits()
	lim.MaxIDsPerFrame = 8
	newBodies := []func() any{
		func() any { return new(wire.RegisterRequest) },
		func() any { return new(wire.LoginRequest) },
		func() any { return new(wire.CreateConversationRequest) },
		func() any { return new(wire.SendRequest) },
		func() any { return new(wire.ReceiptRequest) },
		func() any { return new(wire.ProfileUpdate) },
		func() any { return new(wire.RenameRequest) },
		func() any { return new(wire.PushSubscription) },
		func() any { return new(wire.PushRelay) },
	}
	parse := func(data []byte, v any) error {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(data))
		return decode(httptest.NewRecorder(), r, v)
	}
	coded := func(t *testing.T, err error, codes ...wire.Code) {
		t.Helper()
		var pe *wire.Error
		if !errors.As(err, &pe) {
			t.Fatalf("refusal without a code: %v", err)
		}
		for _, c := range codes {
			if pe.Code == c {
				return
			}
		}
		t.Fatalf("refusal with code %q: %v", pe.Code, err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newBody := range newBodies {
			v := newBody()
			if err := parse(data, v); err != nil {
				coded(t, err, wire.CodeInvalid, wire.CodeTooLarge)
				continue
			}
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T: re-encoding: %v", v, err)
			}
			again := newBody()
			if err := parse(enc, again); err != nil {
				t.Fatalf("%T: re-encoded body %s refused: %v", v, enc, err)
			}
			enc2, _ := json.Marshal(again)
			if !bytes.Equal(enc, enc2) {
				t.Fatalf("%T: round trip changed the body:\n%s\n%s", v, enc, enc2)
			}
			var in *wire.Inbound
			switch b := v.(type) {
			case *wire.SendRequest:
				in = &wire.Inbound{Type: wire.TypeMessage, ClientMessageID: "k", ConversationID: "c",
					MessageType: b.MessageType, Content: b.Content, MediaID: b.MediaID,
					ReplyTo: b.ReplyTo, Mentions: b.Mentions, ForwardOf: b.ForwardOf}
			case *wire.ReceiptRequest:
				in = &wire.Inbound{Type: wire.TypeReadReceipt, ConversationID: "c", MessageIDs: b.MessageIDs}
			}
			if in != nil {
				if err := in.Validate(lim); err != nil {
					coded(t, err, wire.CodeInvalid, wire.CodeTooLarge)
				}
			}
		}
	})
}
