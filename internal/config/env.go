package config

import (
	"io"
	"sort"
	"strings"
)

// otherVariables are PARLEY_* variables that are not settings of
// `parley serve` but belong to its tools, tests and examples: an operator
// may have them set, and they are not misspellings.
var otherVariables = map[string]bool{
	"PARLEY_BIN":              true, // the e2e and SDK tests' binary
	"PARLEY_CHROMIUM":         true, // the browser tests
	"PARLEY_SCREENSHOTS":      true,
	"PARLEY_BOT_KEY":          true, // examples/echobot
	"PARLEY_BENCH_TEST_SERVE": true,
}

// UnknownVariable is a PARLEY_* environment variable no setting reads.
type UnknownVariable struct {
	Name string
	// Suggestion is the setting's variable the name is closest to, if
	// one is close enough to be a likely misspelling; else "".
	Suggestion string
}

// UnknownEnv returns the PARLEY_* variables of environ (KEY=VALUE, as
// os.Environ) that no setting reads, sorted: a misspelt variable would
// otherwise be ignored without a word, and its setting left at its default.
func UnknownEnv(environ []string) []UnknownVariable {
	known := KnownEnv()
	var out []UnknownVariable
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "PARLEY_") || known[name] || otherVariables[name] ||
			strings.HasPrefix(name, "PARLEY_TEST_") || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, UnknownVariable{Name: name, Suggestion: closest(name, known)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// KnownEnv is the set of variables the settings read (PARLEY_ADDR, ...).
func KnownEnv() map[string]bool {
	c := Default()
	fs, _ := flags("", &c, io.Discard)
	known := map[string]bool{}
	for _, name := range flagNames(fs) {
		known[EnvName(name)] = true
	}
	return known
}

// closest is the known name nearest to name by edit distance, if within
// a third of its length (at least 1, at most 4 edits), else "".
func closest(name string, known map[string]bool) string {
	best, bestD := "", 0
	limit := min(4, max(1, (len(name)-len("PARLEY_"))/3))
	for k := range known {
		d := editDistance(name, k)
		if d <= limit && (best == "" || d < bestD || d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
