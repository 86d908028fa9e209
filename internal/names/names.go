// Package names checks the names and short texts people give to things
// others see: display names and group names (Clean), an about line and a
// group description (CleanText). One rule for each kind, so a character
// refused in one place cannot be smuggled in through another.
package names

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Clean trims surrounding white space and reports whether what is left is
// valid UTF-8 of at most max characters, every one of them printable.
// That refuses control characters (NUL, newlines) and format characters:
// zero-width ones, which make two names look alike, and bidirectional
// overrides (U+202E), which make a name display as something else.
func Clean(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return s, false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return s, false
		}
	}
	return s, true
}

// CleanText normalises a free text to NFC and trims it, and reports
// whether what is left is at most max characters with no control
// characters (line breaks allowed only with newlines) and no
// bidirectional overrides or isolates (U+202A–U+202E, U+2066–U+2069),
// which make a text display as something else. Unlike a name, a text
// keeps its zero-width joiners: emoji sequences need them.
func CleanText(s string, max int, newlines bool) (string, bool) {
	if !utf8.ValidString(s) {
		return s, false
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if utf8.RuneCountInString(s) > max {
		return s, false
	}
	for _, r := range s {
		if (unicode.IsControl(r) && !(newlines && r == '\n')) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			return s, false
		}
	}
	return s, true
}
