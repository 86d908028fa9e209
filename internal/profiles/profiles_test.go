package profiles

import (
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/presence"
)

func TestProfileVisible(t *testing.T) {
	for _, tc := range []struct {
		v                Visibility
		contact, blocked bool
		want             bool
	}{
		{presence.Everyone, false, false, true},
		{presence.Everyone, true, false, true},
		{presence.Everyone, true, true, false}, // a block hides everything
		{presence.Contacts, false, false, false},
		{presence.Contacts, true, false, true},
		{presence.Contacts, true, true, false},
		{presence.Nobody, true, false, false},
		{presence.Nobody, false, false, false},
		{"", true, false, false}, // an unknown value shows nothing
	} {
		if got := profileVisible(tc.v, tc.contact, tc.blocked); got != tc.want {
			t.Errorf("profileVisible(%q, contact %v, blocked %v) = %v; want %v", tc.v, tc.contact, tc.blocked, got, tc.want)
		}
	}
}

func TestCleanAbout(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"  at the gym ", "at the gym", true},
		{"", "", true},
		{"👨‍👩‍👧 family", "👨‍👩‍👧 family", true}, // zero-width joiners stay
		{strings.Repeat("a", 140), strings.Repeat("a", 140), true},
		{strings.Repeat("a", 141), "", false},
		{strings.Repeat("e\u0301", 140), strings.Repeat("é", 140), true}, // NFC first
		{"two\nlines", "", false},
		{"tab\there", "", false},
		{"nul\x00", "", false},
		{"evil\u202Etxt", "", false},
		{"iso\u2067late", "", false},
		{"\xff\xfe", "", false},
	} {
		got, err := CleanAbout(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("CleanAbout(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
