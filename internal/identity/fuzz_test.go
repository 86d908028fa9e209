package identity

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzDeviceName checks the naming of a session from what a client sends
// at login, its device_name and its User-Agent header: a name is refused
// with ErrBadDeviceName, or the result is trimmed, printable, valid UTF-8
// of at most MaxDeviceNameLen characters, and given back as a device name
// it is kept as it is. It also checks that a username that validates is
// MinUsernameLen to MaxUsernameLen of A–Z a–z 0–9 _ . - alone.
func FuzzDeviceName(f *testing.F) {
	for _, s := range [][2]string{
		{"Phone", ""},
		{"", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"},
		{"", "curl/8.5.0\x00\xff\u202e"},
		{"  ", "  \t"},
		{"ad\u200bmin", ""},
		{"", strings.Repeat("é", 100)},
		{"alice_01", "x"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, userAgent string) {
		got, err := DeviceName(name, userAgent)
		if err != nil {
			if !errors.Is(err, ErrBadDeviceName) {
				t.Fatalf("refusal is not ErrBadDeviceName: %v", err)
			}
		} else {
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > MaxDeviceNameLen || got != strings.TrimSpace(got) {
				t.Fatalf("DeviceName(%q, %q) = %q: not valid, too long or untrimmed", name, userAgent, got)
			}
			for _, r := range got {
				if !unicode.IsPrint(r) {
					t.Fatalf("DeviceName(%q, %q) = %q holds %U", name, userAgent, got, r)
				}
			}
			if got != "" {
				if again, err := DeviceName(got, "other"); err != nil || again != got {
					t.Fatalf("device name %q given back became %q (err %v)", got, again, err)
				}
			}
		}
		if validateUsername(name) == nil {
			if len(name) < MinUsernameLen || len(name) > MaxUsernameLen {
				t.Fatalf("username %q of %d bytes validated", name, len(name))
			}
			for _, c := range name {
				if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
					t.Fatalf("username %q with %q validated", name, c)
				}
			}
		}
	})
}
