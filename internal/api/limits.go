package api

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/limits"
	"github.com/parleychat/parley/wire"
)

// AuthLimits bound password attempts (logins and registrations), each of
// which costs an argon2id hash of 60–260 ms under load. The zero value
// limits nothing.
type AuthLimits struct {
	// PerIP bounds attempts per client address (limits.IPKey).
	PerIP *limits.Rates
	// Accounts backs off an account's logins after failures.
	Accounts *limits.Failures
	// Now is the injected clock.
	Now func() time.Time
	// Observer may be nil.
	Observer AuthObserver
}

// AuthObserver is told about failed logins and refused attempts, for
// metrics.
type AuthObserver interface {
	LoginFailed()
	Limited(limit string)
}

// LimitAuth sets the limits on password attempts.
func (a *API) LimitAuth(l AuthLimits) { a.authLimits = l }

// allowAttempt takes one password attempt of the request's client.
func (a *API) allowAttempt(r *http.Request) error {
	l := a.authLimits
	if l.PerIP == nil {
		return nil
	}
	ok, retry := l.PerIP.Take(limits.IPKey(r.RemoteAddr), l.Now())
	if ok {
		return nil
	}
	a.limited("auth_per_ip")
	return wire.RateLimited("too many logins and registrations from this address: retry later", retry)
}

// accountKey is the key a username's failures are counted under: the
// account, whether or not it exists (a refusal must not tell which do),
// and nothing for a name no account can have (no hash is spent on it).
func accountKey(username string) (string, bool) {
	if username == "" || len(username) > identity.MaxUsernameLen {
		return "", false
	}
	return strings.ToLower(username), true // usernames compare case-insensitively
}

// allowLogin says whether username's logins are backing off after failures.
func (a *API) allowLogin(username string) error {
	l := a.authLimits
	key, ok := accountKey(username)
	if l.Accounts == nil || !ok {
		return nil
	}
	if ok, retry := l.Accounts.Check(key, l.Now()); !ok {
		a.limited("login_failures")
		return wire.RateLimited("too many failed logins to this account: retry later", retry)
	}
	return nil
}

// loginDone records a login's outcome: a success forgets the account's
// failures, a wrong password counts, is logged at warn and may start a
// backoff. userID is the account's when the caller is known (a password
// confirming a change), else "".
//
// The failure's line names the user id when known and the client address,
// never the username attempted: the username box is where a password
// typed one field too early lands, and the names tried are a list of
// guesses at who has an account. The backoff's line does name the
// username: repeated failures on one name are an attack on it, and the
// on-call needs to know which.
func (a *API) loginDone(r *http.Request, username, userID string, err error) {
	l := a.authLimits
	key, ok := accountKey(username)
	switch {
	case err == nil:
		if l.Accounts != nil && ok {
			l.Accounts.Succeed(key)
		}
	case errors.Is(err, identity.ErrBadCredentials):
		if l.Observer != nil {
			l.Observer.LoginFailed()
		}
		if userID != "" {
			a.log.Warn("login failed", "user", userID, "client", clientIP(r))
		} else {
			a.log.Warn("login failed", "client", clientIP(r))
		}
		if l.Accounts == nil || !ok {
			return
		}
		if wait := l.Accounts.Fail(key, l.Now()); wait > 0 {
			a.log.Warn("logins backing off after repeated failures", "username", username, "client", clientIP(r), "wait", wait.Round(time.Millisecond).String())
		}
	}
}

// clientIP is the request's client address without its port: the TCP
// peer, or what a trusted proxy named (limits.Proxies.Handler).
func clientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func (a *API) limited(limit string) {
	if o := a.authLimits.Observer; o != nil {
		o.Limited(limit)
	}
}
