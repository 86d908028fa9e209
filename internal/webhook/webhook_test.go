package webhook

import (
	"strings"
	"testing"
	"time"
)

// TestSign: the header is the documented one, byte for byte, against a
// vector computed outside Go (Python's hmac).
func TestSign(t *testing.T) {
	got := Sign("whsec_test", time.Unix(1_790_000_000, 0), []byte(`{"a":1}`))
	want := "t=1790000000,v1=f08690bbaaecbd1607eb9af71f092a9f7054e2b83f8b9d6a0690744d24fc6059"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

// TestNewSecret: prefixed, 32 random bytes, never the same twice.
func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if !strings.HasPrefix(a, "whsec_") || len(a) != len("whsec_")+43 || a == b {
		t.Fatalf("secrets %q %q", a, b)
	}
}
