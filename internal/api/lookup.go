package api

import (
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/limits"
	"github.com/parleychat/parley/wire"
)

// LookupLimits bound lookups by username per user, so that the directory
// of names cannot be scraped by trying names. The zero value limits
// nothing.
type LookupLimits struct {
	// PerUser bounds lookups per calling user, hits and misses alike.
	PerUser *limits.Rates
	// Now is the injected clock.
	Now func() time.Time
}

// LimitLookups sets the limit on lookups by username.
func (a *API) LimitLookups(l LookupLimits) { a.lookupLimits = l }

// findUser answers GET /api/v1/users?username=NAME: the user of that name
// (case-insensitively) if it lets itself be found, else 404, the same for
// a name no one has. Every lookup counts against the caller's budget,
// found or not: a miss tells a scraper as much as a hit.
func (a *API) findUser(w http.ResponseWriter, r *http.Request) {
	me := session(r.Context()).UserID
	if l := a.lookupLimits; l.PerUser != nil {
		if ok, retry := l.PerUser.Take(me, l.Now()); !ok {
			a.limited("user_lookups")
			a.fail(w, r, wire.RateLimited("too many lookups by username: retry later", retry))
			return
		}
	}
	u, err := a.ids.FindUser(r.Context(), me, r.URL.Query().Get("username"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeUser(w, r, u)
}
