package names

import "testing"

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"  Book club ", "Book club", true},
		{"Café 🎉", "Café 🎉", true},
		{"", "", true},
		{"a\x00b", "", false},
		{"evil\u202Etxt.exe", "", false}, // right-to-left override
		{"ad\u200Bmin", "", false},       // zero-width space
		{"a\u200Db", "", false},          // zero-width joiner
		{"line\nbreak", "", false},
		{"\xff\xfe", "", false},
		{"0123456789", "0123456789", true},
		{"01234567890", "", false}, // past max
	} {
		got, ok := Clean(tc.in, 10)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Clean(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
