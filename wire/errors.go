// Package wire is the wire vocabulary of Parley: frame types, error
// codes and limits, exactly as docs/PROTOCOL.md describes them.
package wire

import (
	"net/http"
	"strconv"
	"time"
)

// Code is a machine-readable error code carried by every error answer.
type Code string

// Error codes of the wire contract (docs/PROTOCOL.md, "Error codes").
const (
	CodeInvalid      Code = "invalid"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeNotFound     Code = "not_found"
	CodeConflict     Code = "conflict"
	CodeTooLarge     Code = "too_large"
	CodeGroupFull    Code = "group_full"
	CodeRateLimited  Code = "rate_limited"
	CodeInternal     Code = "internal"
)

// Error is an error as the wire tells it: a code, a message and, over HTTP,
// a status. The server's edges make one from a domain error through one
// table (internal/errmap) or build one themselves for what they refuse.
type Error struct {
	Code    Code
	Message string
	// Status overrides the default HTTP status of Code (e.g. 422 for a
	// semantically invalid request instead of 400).
	Status int
	// RetryAfter is how long a rate_limited client should wait; over HTTP
	// it is the Retry-After header, in whole seconds.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// NewError returns an *Error with the code's default HTTP status.
func NewError(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// RateLimited returns a rate_limited error that tells the client when to
// retry.
func RateLimited(msg string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: msg, RetryAfter: retryAfter}
}

// Unprocessable returns an *Error answered with HTTP 422.
func Unprocessable(code Code, msg string) *Error {
	return &Error{Code: code, Message: msg, Status: http.StatusUnprocessableEntity}
}

// HTTPStatus is the HTTP status that answers this error.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Code {
	case CodeInvalid:
		return http.StatusBadRequest
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeGroupFull:
		return http.StatusUnprocessableEntity
	case CodeRateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// ErrInternal answers a server fault; its text leaks nothing of the fault.
var ErrInternal = NewError(CodeInternal, "internal server error")

// Invalid is a shorthand for a 400 invalid error with a specific message.
func Invalid(msg string) *Error { return NewError(CodeInvalid, msg) }

// WriteHTTP answers an HTTP request with pe's status and the contract's
// error body, {"error": {"code": ..., "message": ...}}.
func WriteHTTP(w http.ResponseWriter, pe *Error) {
	b := ErrorBody{Error: ErrorDetail{Code: pe.Code, Message: pe.Message}}
	if pe.Code == CodeRateLimited {
		// Whole seconds, rounded up: a client that waits exactly this long
		// is not refused again for the same reason.
		secs := max(1, int64((pe.RetryAfter+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(pe.HTTPStatus())
	_, _ = w.Write(Encode(b))
}
