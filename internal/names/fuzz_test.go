package names

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzClean checks that what Clean accepts is trimmed, valid UTF-8 of at
// most max printable characters, and that cleaning it again changes
// nothing.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"  Book club ", "Café 🎉", "", "a\x00b", "evil\u202Etxt.exe", "ad\u200Bmin", "a\u200Db", "line\nbreak", "\xff\xfe", "0123456789", "01234567890", "\u00a0x\u3000"} {
		f.Add(s)
	}
	const max = 10
	f.Fuzz(func(t *testing.T, s string) {
		out, ok := Clean(s, max)
		if !ok {
			return
		}
		if !utf8.ValidString(out) || utf8.RuneCountInString(out) > max || out != strings.TrimSpace(out) {
			t.Fatalf("Clean(%q) = %q: not valid, too long or untrimmed", s, out)
		}
		for _, r := range out {
			if !unicode.IsPrint(r) {
				t.Fatalf("Clean(%q) = %q holds unprintable %U", s, out, r)
			}
		}
		if again, ok := Clean(out, max); !ok || again != out {
			t.Fatalf("Clean is not idempotent on %q: %q, %v", out, again, ok)
		}
	})
}

// FuzzCleanText checks that what CleanText accepts is NFC, trimmed, at
// most max characters, free of controls (but newlines when allowed) and
// of bidirectional overrides, and that cleaning it again changes nothing.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"  hello ", "Cafe\u0301", "a\nb", "a\r\nb", "evil\u202Etxt", "x\u2066y", "👨‍👩‍👧", "\xff", "", "0123456789", "01234567890"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	const max = 10
	f.Fuzz(func(t *testing.T, s string, newlines bool) {
		out, ok := CleanText(s, max, newlines)
		if !ok {
			return
		}
		if !utf8.ValidString(out) || !norm.NFC.IsNormalString(out) || utf8.RuneCountInString(out) > max || out != strings.TrimSpace(out) {
			t.Fatalf("CleanText(%q) = %q: not valid NFC, too long or untrimmed", s, out)
		}
		for _, r := range out {
			if (unicode.IsControl(r) && (r != '\n' || !newlines)) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
				t.Fatalf("CleanText(%q) = %q holds %U", s, out, r)
			}
		}
		if again, ok := CleanText(out, max, newlines); !ok || again != out {
			t.Fatalf("CleanText is not idempotent on %q: %q, %v", out, again, ok)
		}
	})
}
