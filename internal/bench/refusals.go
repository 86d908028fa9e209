package bench

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// defaultRetryAfter is the wait before resending a message refused as
// rate_limited without a retry_after_ms: the per-user send limit answers
// so (docs/PROTOCOL.md).
const defaultRetryAfter = 100 * time.Millisecond

// refusals are a sender's messages refused as rate_limited, each sent
// again with the same client_message_id once its retry_after_ms is over.
// Nothing of a refused message is stored, so it stays in flight: its
// window slot is not released, and it is still counted once as sent.
// Its send→ack and send→deliver count from the attempt the server
// accepted, stamped into the resent content and remembered for the ack.
type refusals struct {
	mu sync.Mutex
	// due are the resends to make, soonest first.
	due []resend
	// resentAt is the harness time of each resent message's latest
	// attempt, by message counter, until its ack.
	resentAt map[int64]int64
	// pending is len(resentAt): an ack looks in the map only if not 0.
	pending atomic.Int64
	kick    chan struct{}
}

type resend struct {
	at      int64 // harness ns
	counter int64
	cmid    [cmidLen]byte
}

func (q *refusals) init() {
	q.resentAt = map[int64]int64{}
	q.kick = make(chan struct{}, 1)
}

// refused queues message cmid for a resend in retryAfterMS (-1: the
// default wait). It returns false if cmid is not one of this sender's.
func (s *sender) refused(cmid []byte, retryAfterMS int64) bool {
	i, ok := counterOf(cmid)
	if !ok {
		return false
	}
	wait := defaultRetryAfter
	if retryAfterMS >= 0 {
		wait = time.Duration(retryAfterMS) * time.Millisecond
	}
	r := resend{at: s.clock.now() + int64(wait), counter: i}
	copy(r.cmid[:], cmid)
	q := &s.refusals
	q.mu.Lock()
	k, _ := slices.BinarySearchFunc(q.due, r.at, func(e resend, at int64) int { return cmp.Compare(e.at, at) })
	q.due = slices.Insert(q.due, k, r)
	q.mu.Unlock()
	select {
	case q.kick <- struct{}{}:
	default:
	}
	return true
}

// counterOf returns the message counter of one of the harness's
// client_message_ids (stamp '-' counter).
func counterOf(cmid []byte) (int64, bool) {
	if len(cmid) != cmidLen || cmid[stampDigits] != '-' {
		return 0, false
	}
	return atoi(cmid[stampDigits+1:])
}

// sentAt returns when the message acknowledged by cmid was sent: the
// stamp of its id, or the time of its resend if it was refused.
func (s *sender) sentAt(cmid []byte) (int64, bool) {
	q := &s.refusals
	if q.pending.Load() > 0 {
		if i, ok := counterOf(cmid); ok {
			q.mu.Lock()
			at, found := q.resentAt[i]
			if found {
				delete(q.resentAt, i)
				q.pending.Store(int64(len(q.resentAt)))
			}
			q.mu.Unlock()
			if found {
				return at, true
			}
		}
	}
	return stamp(cmid)
}

// resendLoop sends the refused messages again as they fall due, until
// stop. It runs beside the sender's loop, on the same connection, and
// goes on after the senders stop: a refused message is still in flight.
func (s *sender) resendLoop(stop <-chan struct{}) error {
	q := &s.refusals
	buf := bytes.Clone(s.tmpl)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := s.clock.now()
		q.mu.Lock()
		var r resend
		have := len(q.due) > 0
		if have {
			r = q.due[0]
		}
		ready := have && r.at <= now
		if ready {
			q.due = slices.Delete(q.due, 0, 1)
			q.resentAt[r.counter] = now
			q.pending.Store(int64(len(q.resentAt)))
		}
		q.mu.Unlock()
		if ready {
			copy(buf[s.cmidAt:], r.cmid[:])
			putDigits(buf[s.stampAt:s.stampAt+stampDigits], now)
			if err := s.conn.write(buf); err != nil {
				return fmt.Errorf("resend: %w", err)
			}
			s.cnt.resent.Add(1)
			continue
		}
		if have {
			t.Reset(time.Duration(r.at - now))
		}
		select {
		case <-t.C:
		case <-q.kick:
		case <-stop:
			return nil
		}
	}
}
