package messaging

import (
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/fault"
)

// ForwardWindow is how long a user waits between two forwards of the same
// "forwarded many times" message (wire.ForwardedManyTimes hops or more):
// such a message goes to one chat at a time, which is what slows a chain
// letter down.
const ForwardWindow = 10 * time.Second

// Errors of forwarding. internal/errmap gives each its wire code.
var (
	// ErrBadForward: forward_of names no message the sender can see: an
	// unknown id, one of a conversation it is not a member of or from
	// before it joined, one withheld from it, a deleted or expired one, a
	// system message.
	ErrBadForward = errors.New("forward_of must name a message you can see")
	// ErrForwardTooOften: a second forward of a message forwarded many
	// times within ForwardWindow. Its errors carry the wait
	// (ForwardTooOften).
	ErrForwardTooOften = errors.New("a message forwarded many times can be forwarded to one chat at a time")
)

// ForwardTooOften is ErrForwardTooOften telling the client to wait.
func ForwardTooOften(wait time.Duration) error {
	wait = max(wait, time.Millisecond)
	return fault.Retry(ErrForwardTooOften,
		fmt.Sprintf("%s: try again in %s", ErrForwardTooOften.Error(), wait.Round(time.Second)), wait)
}
