package app

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/api"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/wire"
)

// POST /debug/clock moves the node's clock forward (--debug-clock), as an
// NTP step would, so that a fault test (parley chaos) sees the retention
// job expire messages within a short run. It is an operator's endpoint:
// on --admin-addr when set, else on the public listener; without
// --debug-clock it does not exist.

// maxClockAdvance bounds one step: far past any retention worth testing,
// far short of what would overflow the offset in a few calls.
const maxClockAdvance = 10 * 365 * 24 * time.Hour

// clockAdvance is the body of POST /debug/clock.
type clockAdvance struct {
	// AdvanceMS is how far to move the clock forward, in milliseconds (> 0).
	AdvanceMS int64 `json:"advance_ms"`
}

// clockState is the answer of POST /debug/clock.
type clockState struct {
	// OffsetMS is how far the clock now is ahead of the wall clock.
	OffsetMS int64 `json:"offset_ms"`
	// NowMS is the server's time after the step, Unix milliseconds.
	NowMS int64 `json:"now_ms"`
}

// advanceClock answers POST /debug/clock.
func (a *App) advanceClock(w http.ResponseWriter, r *http.Request) {
	var req clockAdvance
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			api.WriteError(w, wire.NewError(wire.CodeTooLarge, "request body is too large"))
			return
		}
		api.WriteError(w, wire.Invalid(`request body must be {"advance_ms": N} with N > 0`))
		return
	}
	if req.AdvanceMS <= 0 || req.AdvanceMS > maxClockAdvance.Milliseconds() {
		api.WriteError(w, wire.Invalid("advance_ms must be positive and at most ten years"))
		return
	}
	off := a.debugClock.Advance(time.Duration(req.AdvanceMS) * time.Millisecond)
	now := a.debugClock.Now()
	a.log.Warn("clock advanced", "by", time.Duration(req.AdvanceMS)*time.Millisecond, "offset", off)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(clockState{OffsetMS: off.Milliseconds(), NowMS: clock.Millis(now)})
}
