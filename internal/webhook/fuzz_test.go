package webhook_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/client"
	"github.com/parleychat/parley/internal/webhook"
)

// FuzzVerifyWebhook signs a body with webhook.Sign, as the server does,
// and checks it with the SDK's client.VerifyWebhook, as a bot does: the
// true request verifies; one byte replaced, inserted or deleted in the
// body or the header, or another secret, is refused unless the request
// still carries the same body, timestamp and MAC (a hex digit's case, a
// space after a comma).
func FuzzVerifyWebhook(f *testing.F) {
	f.Add([]byte(`{"id":"e1","type":"message","bot_id":"b","conversation_id":"c","created_at":1,"data":{}}`), false, uint8(0), uint16(10), byte('x'))
	f.Add([]byte(`{"a":1}`), true, uint8(1), uint16(2), byte(','))
	f.Add([]byte{}, true, uint8(2), uint16(16), byte(0))
	f.Add([]byte("\x00\xff"), true, uint8(0), uint16(20), byte('A'))
	const secret = "whsec_test"
	now := time.Unix(1_790_000_000, 0)
	const tolerance = 5 * time.Minute
	f.Fuzz(func(t *testing.T, body []byte, inHeader bool, op uint8, pos uint16, val byte) {
		header := webhook.Sign(secret, now, body)
		if err := client.VerifyWebhook(secret, header, body, now.Add(tolerance), tolerance); err != nil {
			t.Fatalf("true request refused: %v", err)
		}
		if err := client.VerifyWebhook(secret+"x", header, body, now, tolerance); err == nil {
			t.Fatal("verified with another secret")
		}
		if err := client.VerifyWebhook(secret, header, body, now.Add(tolerance+time.Second), tolerance); err == nil {
			t.Fatal("verified past the tolerance")
		}
		h, b := []byte(header), bytes.Clone(body)
		if inHeader {
			h = mutate(h, op, pos, val)
		} else {
			b = mutate(b, op, pos, val)
		}
		if client.VerifyWebhook(secret, string(h), b, now, tolerance) != nil {
			return
		}
		ts, sigs := parseHeader(string(h))
		mac := strings.TrimPrefix(header[strings.Index(header, ",v1="):], ",v1=")
		if !bytes.Equal(b, body) || ts != header[2:strings.Index(header, ",")] || !contains(sigs, mac) {
			t.Fatalf("mutated request verified: header %q body %q (signed %q %q)", h, b, header, body)
		}
	})
}

func mutate(b []byte, op uint8, pos uint16, val byte) []byte {
	i := int(pos) % (len(b) + 1)
	switch op % 3 {
	case 0:
		if i < len(b) {
			b[i] = val
		}
	case 1:
		b = append(b[:i], append([]byte{val}, b[i:]...)...)
	case 2:
		if i < len(b) {
			b = append(b[:i], b[i+1:]...)
		}
	}
	return b
}

// parseHeader reads the timestamp (the last t=) and the signatures, in
// lower-case hex, as a receiver would.
func parseHeader(h string) (ts string, sigs []string) {
	for part := range strings.SplitSeq(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, hex.EncodeToString(b))
			}
		}
	}
	return ts, sigs
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
