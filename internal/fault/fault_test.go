package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestMessage(t *testing.T) {
	errKind := errors.New("kind")
	errOther := errors.New("other")
	for _, tc := range []struct {
		name string
		err  error
		msg  string
		ok   bool
	}{
		{"the sentinel", errKind, "kind", true},
		{"the sentinel wrapped", fmt.Errorf("load: %w", errKind), "kind", true},
		{"a detailed one", New(errKind, "unknown users a, b"), "unknown users a, b", true},
		{"a detailed one wrapped", fmt.Errorf("create: %w", Newf(errKind, "unknown user %s", "a")), "unknown user a", true},
		{"joined", errors.Join(errOther, errKind), "kind", true},
		{"another kind", New(errOther, "x"), "", false},
		{"nil", nil, "", false},
	} {
		msg, ok := Message(tc.err, errKind)
		if msg != tc.msg || ok != tc.ok {
			t.Errorf("%s: Message = %q, %v; want %q, %v", tc.name, msg, ok, tc.msg, tc.ok)
		}
		if ok != errors.Is(tc.err, errKind) {
			t.Errorf("%s: Message says %v but errors.Is says %v", tc.name, ok, !ok)
		}
	}
}
