package bench

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/parleychat/parley/wire"
)

func TestParseFrame(t *testing.T) {
	msg := wire.Encode(wire.Message{
		Type: wire.TypeMessage, MessageID: "01JDQ4Z8M1XKZ3V6T9N2B5C7D8", ConversationID: "01JDQ4Z8M1XKZ3V6T9N2B5C7D9",
		SenderID: "u1", SequenceNumber: 42, MessageType: "text", Content: "0000000123456789 xxxx", CreatedAt: 1732634000000,
	})
	tests := []struct {
		name  string
		frame string
		want  inFrame
	}{
		{"message, as the server encodes it", string(msg), inFrame{
			kind: kindMessage, messageID: []byte("01JDQ4Z8M1XKZ3V6T9N2B5C7D8"), conversationID: []byte("01JDQ4Z8M1XKZ3V6T9N2B5C7D9"),
			sequence: 42, content: []byte("0000000123456789 xxxx"), retryAfterMS: -1,
		}},
		{"system message", `{"type":"message","message_id":"m","conversation_id":"c","sequence_number":1,"message_type":"system","content":"{\"event\":\"member_added\"}"}`, inFrame{
			kind: kindMessage, messageID: []byte("m"), conversationID: []byte("c"), sequence: 1, system: true,
			content: []byte(`{\"event\":\"member_added\"}`), retryAfterMS: -1,
		}},
		{"message_ack", string(wire.Encode(wire.MessageAck{
			Type: wire.TypeMessageAck, ClientMessageID: "0000000000001000-0000000007", MessageID: "m", ConversationID: "c",
			SequenceNumber: 7, Status: wire.StatusSent, Timestamp: 1,
		})), inFrame{
			kind: kindAck, clientMessageID: []byte("0000000000001000-0000000007"), messageID: []byte("m"), conversationID: []byte("c"),
			sequence: 7, retryAfterMS: -1,
		}},
		{"status", `{"type":"status","message_id":"m","conversation_id":"c","user_id":"u","status":"read","timestamp":5}`, inFrame{
			kind: kindStatus, messageID: []byte("m"), conversationID: []byte("c"), retryAfterMS: -1,
		}},
		{"refusal with a retry hint", `{"type":"error","code":"rate_limited","message":"commit queue full: resend later","client_message_id":"0000000000001000-0000000007","retry_after_ms":250}`, inFrame{
			kind: kindError, code: []byte("rate_limited"), text: []byte("commit queue full: resend later"),
			clientMessageID: []byte("0000000000001000-0000000007"), retryAfterMS: 250,
		}},
		{"a fractional hint rounds up", `{"type":"error","code":"rate_limited","client_message_id":"x","retry_after_ms":12.25}`, inFrame{
			kind: kindError, code: []byte("rate_limited"), clientMessageID: []byte("x"), retryAfterMS: 13,
		}},
		{"a negative hint is none", `{"type":"error","code":"rate_limited","retry_after_ms":-5}`, inFrame{
			kind: kindError, code: []byte("rate_limited"), retryAfterMS: -1,
		}},
		{"error without a hint, escapes kept", `{"type":"error","code":"invalid","message":"a \"quoted\\\" word\\\\"}`, inFrame{
			kind: kindError, code: []byte("invalid"), text: []byte(`a \"quoted\\\" word\\\\`), retryAfterMS: -1,
		}},
		{"other members skipped, whatever their type", ` { "type" : "status" , "ids":["a","]}"],"o":{"k":[1,{"z":"}"}]},"n":null,"t":true,"f":false,"x":-1.5e3, "message_id":"m" } `, inFrame{
			kind: kindStatus, messageID: []byte("m"), retryAfterMS: -1,
		}},
		{"unknown type", `{"type":"presence","user_id":"u","status":"online"}`, inFrame{kind: kindOther, retryAfterMS: -1}},
		{"empty object", `{}`, inFrame{retryAfterMS: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f inFrame
			if !parseFrame([]byte(tt.frame), &f) {
				t.Fatalf("parseFrame(%s) failed", tt.frame)
			}
			if !equalFrames(f, tt.want) {
				t.Errorf("parseFrame(%s)\n got %s\nwant %s", tt.frame, show(f), show(tt.want))
			}
		})
	}
	for _, bad := range []string{
		``, `[]`, `"x"`, `{`, `{"type":"message"`, `{"type":}`, `{"type" "x"}`, `{"type":"x",}`, `{"type":"x"} trailing`,
		`{"type":"unterminated}`, `{"a":[1,2}`, `{"a":tru`, `{type:"x"}`,
	} {
		var f inFrame
		if parseFrame([]byte(bad), &f) {
			t.Errorf("parseFrame(%q) accepted it: %s", bad, show(f))
		}
	}
}

func equalFrames(a, b inFrame) bool {
	return a.kind == b.kind && bytes.Equal(a.clientMessageID, b.clientMessageID) && bytes.Equal(a.messageID, b.messageID) &&
		bytes.Equal(a.conversationID, b.conversationID) && a.sequence == b.sequence && a.system == b.system &&
		bytes.Equal(a.content, b.content) && bytes.Equal(a.code, b.code) && bytes.Equal(a.text, b.text) &&
		a.retryAfterMS == b.retryAfterMS
}

func show(f inFrame) string {
	return fmt.Sprintf("kind=%d cmid=%q mid=%q conv=%q seq=%d system=%v content=%q code=%q text=%q retry=%d",
		f.kind, f.clientMessageID, f.messageID, f.conversationID, f.sequence, f.system, f.content, f.code, f.text, f.retryAfterMS)
}

// The hot path allocates nothing: the generator's CPU is the point.
func TestParseFrameAllocs(t *testing.T) {
	msg := []byte(`{"type":"message","message_id":"01JDQ4Z8M1XKZ3V6T9N2B5C7D8","conversation_id":"01JDQ4Z8M1XKZ3V6T9N2B5C7D9","sender_id":"u","sequence_number":42,"message_type":"text","content":"0000000123456789 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","created_at":1732634000000}`)
	var f inFrame
	if n := testing.AllocsPerRun(100, func() { parseFrame(msg, &f) }); n != 0 {
		t.Errorf("parseFrame allocates %v times per frame", n)
	}
}

func TestUnescapeAndSplitIDs(t *testing.T) {
	var l idList
	for _, id := range []string{"a", `q"uote`, `back\slash`, "tab\t", "é"} {
		l.add(appendEscaped(nil, id))
	}
	var back []string
	if err := json.Unmarshal([]byte("["+string(l.span(0, len(l.ends)))+"]"), &back); err != nil {
		t.Fatalf("the id list is not a JSON array body: %v: %s", err, l.body)
	}
	got := splitIDs(l.span(1, 4))
	if strings.Join(got, "|") != `q"uote|back\slash|tab`+"\t" || strings.Join(back, "|") != `a|q"uote|back\slash|tab`+"\t|é" {
		t.Errorf("split %q, decoded %q", got, back)
	}
}

func TestAppendFrame(t *testing.T) {
	for _, n := range []int{0, 1, 7, 125, 126, 300, 65535, 65536} {
		payload := bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n]
		b := appendFrame(nil, opText, payload, 0xA1B2C3D4)
		if b[0] != 0x81 || b[1]&0x80 == 0 {
			t.Fatalf("n=%d: header %x: want FIN, text, masked", n, b[:2])
		}
		i, size := 2, int(b[1]&0x7F)
		switch size {
		case 126:
			size, i = int(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			size, i = int(binary.BigEndian.Uint64(b[2:])), 10
		}
		if size != n || len(b) != i+4+n {
			t.Fatalf("n=%d: length %d, frame %d bytes", n, size, len(b))
		}
		key, body := b[i:i+4], bytes.Clone(b[i+4:])
		for j := range body {
			body[j] ^= key[j%4]
		}
		if !bytes.Equal(body, payload) {
			t.Errorf("n=%d: unmasked payload differs", n)
		}
	}
}
