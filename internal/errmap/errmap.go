// Package errmap is the one table that turns what the domain reports into
// what the wire says: a code, an HTTP status and a message. The domain
// returns plain sentinels (or fault.New of them, with a specific text);
// the edges, internal/api and internal/gateway, answer with Wire(err).
package errmap

import (
	"errors"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/blocks"
	"github.com/parleychat/parley/internal/contacts"
	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/presence"
	"github.com/parleychat/parley/internal/profiles"
	"github.com/parleychat/parley/internal/push"
	"github.com/parleychat/parley/internal/webhook"
	"github.com/parleychat/parley/wire"
)

// entry maps one sentinel. status 0 is the code's default status.
type entry struct {
	err    error
	code   wire.Code
	status int
	// retry is the wait a rate_limited answer asks for.
	retry time.Duration
}

// unprocessable is the status of a request that is well formed but cannot
// be done (the contract's 422 invalid).
const unprocessable = http.StatusUnprocessableEntity

var table = []entry{
	{err: identity.ErrUsernameTaken, code: wire.CodeConflict},
	{err: identity.ErrBadCredentials, code: wire.CodeUnauthorized},
	{err: identity.ErrBadToken, code: wire.CodeUnauthorized},
	{err: identity.ErrUserNotFound, code: wire.CodeNotFound},
	{err: identity.ErrBusy, code: wire.CodeRateLimited, retry: time.Second},
	{err: identity.ErrBadUsername, code: wire.CodeInvalid},
	{err: identity.ErrBadPassword, code: wire.CodeInvalid},
	{err: identity.ErrBadDisplayName, code: wire.CodeInvalid},
	{err: identity.ErrBadDeviceName, code: wire.CodeInvalid},
	{err: identity.ErrSessionNotFound, code: wire.CodeNotFound},
	{err: identity.ErrBotNotFound, code: wire.CodeNotFound},
	{err: identity.ErrBotCannotCreate, code: wire.CodeForbidden},
	{err: identity.ErrBotNoPassword, code: wire.CodeForbidden},
	{err: identity.ErrTooManyBots, code: wire.CodeForbidden},
	{err: identity.ErrDiscoverability, code: wire.CodeInvalid},
	{err: identity.ErrNoUsername, code: wire.CodeInvalid},

	{err: conversations.ErrNotFound, code: wire.CodeNotFound},
	{err: conversations.ErrForbidden, code: wire.CodeForbidden},
	{err: conversations.ErrUnknownUser, code: wire.CodeInvalid, status: unprocessable},
	{err: conversations.ErrNoOtherUser, code: wire.CodeInvalid, status: unprocessable},
	{err: conversations.ErrSelfChat, code: wire.CodeInvalid, status: unprocessable},
	{err: conversations.ErrGroupFull, code: wire.CodeGroupFull},
	{err: conversations.ErrNotAdmin, code: wire.CodeForbidden},
	{err: conversations.ErrNotGroup, code: wire.CodeInvalid, status: unprocessable},
	{err: conversations.ErrNoSuchMember, code: wire.CodeNotFound},
	{err: conversations.ErrLastAdmin, code: wire.CodeInvalid, status: unprocessable},
	{err: conversations.ErrRepeatedUser, code: wire.CodeInvalid, status: unprocessable},
	{err: conversations.ErrNoUserID, code: wire.CodeInvalid},
	{err: conversations.ErrBadRole, code: wire.CodeInvalid},
	{err: conversations.ErrBadName, code: wire.CodeInvalid},
	{err: conversations.ErrBadDescription, code: wire.CodeInvalid},
	{err: conversations.ErrNoChange, code: wire.CodeInvalid},
	{err: conversations.ErrInviteNotFound, code: wire.CodeNotFound},
	{err: conversations.ErrCannotAdd, code: wire.CodeForbidden},
	{err: conversations.ErrTooManyPins, code: wire.CodeInvalid, status: unprocessable},
	{err: conversations.ErrNoSuchMessage, code: wire.CodeNotFound},
	{err: conversations.ErrBadDisappear, code: wire.CodeInvalid},

	{err: messaging.ErrForbidden, code: wire.CodeForbidden},
	{err: messaging.ErrConversationNotFound, code: wire.CodeNotFound},
	{err: messaging.ErrMessageNotFound, code: wire.CodeNotFound},
	{err: messaging.ErrNotSender, code: wire.CodeForbidden},
	{err: messaging.ErrBadReply, code: wire.CodeInvalid, status: unprocessable},
	{err: messaging.ErrBadMention, code: wire.CodeInvalid, status: unprocessable},
	{err: messaging.ErrBadForward, code: wire.CodeInvalid, status: unprocessable},
	// The wait is the error's own (messaging.ForwardTooOften).
	{err: messaging.ErrForwardTooOften, code: wire.CodeRateLimited, retry: time.Second},
	{err: messaging.ErrNotInConversation, code: wire.CodeInvalid, status: unprocessable},
	{err: messaging.ErrAdminsOnly, code: wire.CodeForbidden},
	{err: messaging.ErrNotYours, code: wire.CodeForbidden},
	{err: messaging.ErrEditWindow, code: wire.CodeForbidden},
	{err: messaging.ErrDeleteWindow, code: wire.CodeForbidden},
	{err: messaging.ErrNotEditable, code: wire.CodeInvalid, status: unprocessable},
	{err: messaging.ErrTombstone, code: wire.CodeInvalid, status: unprocessable},
	{err: messaging.ErrSystemMessage, code: wire.CodeInvalid, status: unprocessable},
	// Said as it is: a client that sees it reconnects to another node.
	{err: messaging.ErrShuttingDown, code: wire.CodeInternal},

	{err: presence.ErrUnknownUser, code: wire.CodeNotFound},
	{err: presence.ErrVisibility, code: wire.CodeInvalid},
	{err: presence.ErrNotMember, code: wire.CodeForbidden},

	{err: contacts.ErrUnknownUser, code: wire.CodeNotFound},
	{err: contacts.ErrSelf, code: wire.CodeInvalid, status: unprocessable},

	{err: blocks.ErrUnknownUser, code: wire.CodeNotFound},
	{err: blocks.ErrSelf, code: wire.CodeInvalid, status: unprocessable},

	{err: media.ErrNotFound, code: wire.CodeNotFound},
	{err: media.ErrBadSize, code: wire.CodeInvalid},
	{err: media.ErrBadType, code: wire.CodeInvalid},
	{err: media.ErrTooLarge, code: wire.CodeTooLarge},
	{err: media.ErrNotUploaded, code: wire.CodeInvalid, status: unprocessable},
	{err: media.ErrBusy, code: wire.CodeConflict},
	{err: media.ErrUploadClosed, code: wire.CodeConflict},
	{err: media.ErrRefused, code: wire.CodeInvalid, status: unprocessable},
	{err: media.ErrNotImage, code: wire.CodeInvalid, status: unprocessable},
	{err: media.ErrNotReady, code: wire.CodeInvalid, status: unprocessable},

	{err: profiles.ErrBadAbout, code: wire.CodeInvalid},
	{err: profiles.ErrVisibility, code: wire.CodeInvalid},
	{err: profiles.ErrNoMedia, code: wire.CodeInvalid},
	{err: profiles.ErrNotGroup, code: wire.CodeInvalid, status: unprocessable},

	{err: push.ErrBadSubscription, code: wire.CodeInvalid},
	{err: push.ErrBadRelay, code: wire.CodeInvalid},
	{err: push.ErrDisabled, code: wire.CodeNotFound},
	{err: webhook.ErrBadURL, code: wire.CodeInvalid},
	{err: webhook.ErrNoWebhook, code: wire.CodeNotFound},
}

// Wire returns the wire error that answers err: the edge's own *wire.Error
// as it is, a domain error by the table with the domain's text, and
// anything else, a server fault, as wire.ErrInternal, whose text leaks
// nothing.
func Wire(err error) *wire.Error {
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	for _, e := range table {
		if msg, ok := fault.Message(err, e.err); ok {
			retry := e.retry
			// A refusal that knows when it passes says so (fault.Retry).
			var r interface{ RetryAfter() time.Duration }
			if e.code == wire.CodeRateLimited && errors.As(err, &r) {
				retry = r.RetryAfter()
			}
			return &wire.Error{Code: e.code, Message: msg, Status: e.status, RetryAfter: retry}
		}
	}
	return wire.ErrInternal
}

// Internal reports whether err is a server fault: one the edge logs with
// its detail, since the client is told only "internal".
func Internal(err error) bool { return Wire(err) == wire.ErrInternal }

// WriteHTTP answers an HTTP request with err's status and wire error body.
func WriteHTTP(w http.ResponseWriter, err error) { wire.WriteHTTP(w, Wire(err)) }
