package identity

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDeviceName(t *testing.T) {
	ua := "Mozilla/5.0 (X11; Linux x86_64)\x00\n\u202e AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
	tests := []struct {
		name, given, ua, want string
		err                   error
	}{
		{name: "given", given: "  Alice's phone ", ua: ua, want: "Alice's phone"},
		{name: "64 characters", given: strings.Repeat("é", 64), want: strings.Repeat("é", 64)},
		{name: "65 characters", given: strings.Repeat("x", 65), err: ErrBadDeviceName},
		{name: "a control character", given: "a\nb", err: ErrBadDeviceName},
		{name: "none: the User-Agent, printable, cut to 64", ua: ua,
			want: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like"}, // 64 with a space, trimmed
		{name: "none and no User-Agent", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DeviceName(tc.given, tc.ua)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("DeviceName(%q, %q) = %q, %v; want %q, %v", tc.given, tc.ua, got, err, tc.want, tc.err)
			}
			if n := utf8.RuneCountInString(got); n > MaxDeviceNameLen {
				t.Fatalf("%d characters", n)
			}
		})
	}
}
