// Package fault lets a domain error say something specific ("unknown users
// A, B") while it still matches the plain sentinel that classifies it
// (ErrUnknownUser), so the edge maps it by the sentinel and shows its text.
// Nothing here knows the wire.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// detailed is an error of kind with its own text.
type detailed struct {
	kind error
	msg  string
}

func (d *detailed) Error() string { return d.msg }

// Is makes errors.Is(err, kind) hold.
func (d *detailed) Is(target error) bool { return target == d.kind }

// New returns an error of kind whose text is msg.
func New(kind error, msg string) error { return &detailed{kind: kind, msg: msg} }

// Newf returns an error of kind whose text is formatted.
func Newf(kind error, format string, args ...any) error {
	return &detailed{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Message returns the text err shows for kind: that of the innermost-first
// error in err's chain that is kind (the sentinel itself or a New of it),
// without the context callers wrapped around it. ok is false when err is
// not of kind.
func Message(err, kind error) (msg string, ok bool) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e == kind {
			return e.Error(), true
		}
		if is, can := e.(interface{ Is(error) bool }); can && is.Is(kind) {
			return e.Error(), true
		}
	}
	if errors.Is(err, kind) { // a tree (errors.Join): the kind's own text
		return kind.Error(), true
	}
	return "", false
}

// retry is a detailed error that says how long to wait before trying
// again.
type retry struct {
	detailed
	wait time.Duration
}

func (r *retry) RetryAfter() time.Duration { return r.wait }

// Retry is New for a refusal that passes once wait has gone by: the edge
// answers rate_limited with that wait (errmap).
func Retry(kind error, msg string, wait time.Duration) error {
	return &retry{detailed: detailed{kind: kind, msg: msg}, wait: wait}
}
