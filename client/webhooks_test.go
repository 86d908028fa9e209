package client

import (
	"errors"
	"testing"
	"time"
)

// TestVerifyWebhook: the documented vector verifies; a wrong secret, a
// changed body, a stale or future time and malformed headers do not.
func TestVerifyWebhook(t *testing.T) {
	const header = "t=1790000000,v1=f08690bbaaecbd1607eb9af71f092a9f7054e2b83f8b9d6a0690744d24fc6059"
	body := []byte(`{"a":1}`)
	at := time.Unix(1_790_000_000, 0)
	if err := VerifyWebhook("whsec_test", header, body, at.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("the vector: %v", err)
	}
	// A second v1 (a secret being rotated on the sender's side) is fine.
	if err := VerifyWebhook("whsec_test", "t=1790000000,v1=00,v1=f08690bbaaecbd1607eb9af71f092a9f7054e2b83f8b9d6a0690744d24fc6059", body, at, time.Minute); err != nil {
		t.Fatalf("two signatures: %v", err)
	}
	for name, c := range map[string]struct {
		secret, header string
		body           []byte
		now            time.Time
	}{
		"wrong secret":    {"whsec_other", header, body, at},
		"changed body":    {"whsec_test", header, []byte(`{"a":2}`), at},
		"stale":           {"whsec_test", header, body, at.Add(6 * time.Minute)},
		"from the future": {"whsec_test", header, body, at.Add(-6 * time.Minute)},
		"no time":         {"whsec_test", "v1=f08690bbaaecbd1607eb9af71f092a9f7054e2b83f8b9d6a0690744d24fc6059", body, at},
		"no signature":    {"whsec_test", "t=1790000000", body, at},
		"empty":           {"whsec_test", "", body, at},
		"not hex":         {"whsec_test", "t=1790000000,v1=zz", body, at},
	} {
		if err := VerifyWebhook(c.secret, c.header, c.body, c.now, 5*time.Minute); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}
