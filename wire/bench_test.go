package wire_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parleychat/parley/wire"
)

// The frames of the hot path, as clients and the server write them.
var (
	messageFrame = []byte(`{"type":"message","client_message_id":"1732634000000000-42","conversation_id":"01JDQ4Z8M1XKZ3V6T9N2B5C7D8",` +
		`"message_type":"text","content":"` + strings.Repeat("x", 100) + `"}`)
	ackFrame = func() []byte {
		ids := make([]string, 64)
		for i := range ids {
			ids[i] = fmt.Sprintf(`"01JDQ4Z8M1XKZ3V6T9N2B5%04d"`, i)
		}
		return []byte(`{"type":"delivery_ack","message_ids":[` + strings.Join(ids, ",") + `]}`)
	}()
	heartbeatFrame = []byte(`{"type":"heartbeat","timestamp":1732634000000}`)
)

func benchDecode(b *testing.B, frame []byte) {
	lim := wire.DefaultLimits()
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.Decode(frame, lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMessage(b *testing.B)     { benchDecode(b, messageFrame) }
func BenchmarkDecodeDeliveryAck(b *testing.B) { benchDecode(b, ackFrame) } // 64 ids
func BenchmarkDecodeHeartbeat(b *testing.B)   { benchDecode(b, heartbeatFrame) }

func BenchmarkEncodeMessage(b *testing.B) {
	m := wire.Message{
		Type: wire.TypeMessage, MessageID: "01JDQ4Z8M1XKZ3V6T9N2B5C7D9", ConversationID: "01JDQ4Z8M1XKZ3V6T9N2B5C7D8",
		SenderID: "01JDQ4Z8M1XKZ3V6T9N2B5C7DA", SequenceNumber: 123456, MessageType: "text",
		Content: strings.Repeat("x", 100), CreatedAt: 1732634000000,
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(wire.Encode(m))
	}
	b.SetBytes(int64(n))
}

func BenchmarkEncodeMessageAck(b *testing.B) {
	a := wire.MessageAck{
		Type: wire.TypeMessageAck, ClientMessageID: "1732634000000000-42", MessageID: "01JDQ4Z8M1XKZ3V6T9N2B5C7D9",
		ConversationID: "01JDQ4Z8M1XKZ3V6T9N2B5C7D8", SequenceNumber: 123456, Status: wire.StatusSent, Timestamp: 1732634000000,
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(wire.Encode(a))
	}
	b.SetBytes(int64(n))
}
