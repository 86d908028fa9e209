package conversations

import (
	"errors"
	"strings"
	"testing"
)

func TestGroupDescription(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"empty", "", "", true},
		{"trimmed", "  hello \n", "hello", true},
		{"line breaks stay", "one\ntwo", "one\ntwo", true},
		{"NFC", "Cafe\u0301", "Café", true},
		{"emoji with joiners", "👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧", true},
		{"512 characters", strings.Repeat("é", 512), strings.Repeat("é", 512), true},
		// 512 composed characters, written decomposed: 1024 runes before NFC.
		{"512 after NFC", strings.Repeat("e\u0301", 512), strings.Repeat("é", 512), true},
		{"513 characters", strings.Repeat("a", 513), "", false},
		{"carriage return", "a\r\nb", "", false},
		{"tab", "a\tb", "", false},
		{"NUL", "a\x00b", "", false},
		{"RTL override", "evil\u202etxt", "", false},
		{"bidi isolate", "a\u2067b", "", false},
		{"bad UTF-8", "\xff", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := groupDescription(tc.in)
			if tc.ok && (err != nil || got != tc.want) {
				t.Fatalf("groupDescription(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if !tc.ok && !errors.Is(err, ErrBadDescription) {
				t.Fatalf("groupDescription(%q) = %q, %v; want ErrBadDescription", tc.in, got, err)
			}
		})
	}
}
