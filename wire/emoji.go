package wire

import "unicode/utf8"

// IsEmoji reports whether s is exactly one emoji: what a reaction may be.
// It accepts the emoji sequences of Unicode TS #51 — a pictograph with
// an optional presentation selector and skin tone, pictographs joined by
// ZWJ, a flag (two regional indicators, or a tag sequence), a keycap —
// and nothing else: no text, no second emoji, no stray modifier. The
// pictograph test is by block, not by the exact property table: a rare
// symbol in those blocks passes, which costs nothing, while letters,
// digits alone and other scripts never do.
func IsEmoji(s string) bool {
	if s == "" || len(s) > MaxEmojiBytes || !utf8.ValidString(s) {
		return false
	}
	rs := []rune(s)
	if len(rs) == 2 && isRegional(rs[0]) && isRegional(rs[1]) {
		return true
	}
	if len(rs) >= 2 && isKeycapBase(rs[0]) {
		rest := rs[1:]
		if rest[0] == 0xFE0F {
			rest = rest[1:]
		}
		return len(rest) == 1 && rest[0] == 0x20E3
	}
	i := 0
	for {
		n := element(rs[i:])
		if n == 0 {
			return false
		}
		i += n
		if i == len(rs) {
			return true
		}
		if rs[i] != 0x200D || i+1 == len(rs) { // ZWJ joins another element
			return tags(rs[i:])
		}
		i++
	}
}

// element reads one pictograph with its optional presentation selector and
// skin tone, returning how many runes it took (0: not one).
func element(rs []rune) int {
	if len(rs) == 0 || !isPictograph(rs[0]) {
		return 0
	}
	n := 1
	if n < len(rs) && rs[n] == 0xFE0F {
		n++
	}
	if n < len(rs) && rs[n] >= 0x1F3FB && rs[n] <= 0x1F3FF { // skin tones
		n++
	}
	return n
}

// tags accepts a subdivision flag's tail: tag characters ending in CANCEL
// TAG (🏴 + "gbeng" + cancel is England's flag).
func tags(rs []rune) bool {
	if len(rs) < 2 || rs[len(rs)-1] != 0xE007F {
		return false
	}
	for _, r := range rs[:len(rs)-1] {
		if r < 0xE0020 || r > 0xE007E {
			return false
		}
	}
	return true
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

func isKeycapBase(r rune) bool { return r == '#' || r == '*' || (r >= '0' && r <= '9') }

// isPictograph reports whether r lies in the blocks that hold the emoji
// pictographs.
func isPictograph(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF && !(r >= 0x1F3FB && r <= 0x1F3FF) && !isRegional(r):
		return true
	case r >= 0x2600 && r <= 0x27BF, r >= 0x2300 && r <= 0x23FF, r >= 0x2B00 && r <= 0x2BFF,
		r >= 0x2190 && r <= 0x21FF, r >= 0x25A0 && r <= 0x25FF, r >= 0x2934 && r <= 0x2935:
		return true
	}
	switch r {
	case 0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299:
		return true
	}
	return false
}
