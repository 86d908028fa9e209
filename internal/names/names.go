// Package names checks the names people give to things others see:
// display names and group names. One rule for all, so a character refused
// in one place cannot be smuggled in through another.
package names

import (
	"strings"
	"unicode"
	"unicode/utf8"
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
