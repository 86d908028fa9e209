package messaging

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// The delivery trace tells a sender where a message stands on each
// recipient device ("why one tick?"). It is read from facts the delivery
// path already keeps (cursors, receipt events) and two the gateway adds at
// connect and close (a device's last connection): nothing is written per
// message per device. What a device was written is inferred from its
// connection, and dated "at the latest" where the facts are coarser than a
// message (docs/PROTOCOL.md, "Delivery trace").

// TraceStore is the store's side of the trace, an optional power of Store.
type TraceStore interface {
	// TraceFacts returns, for every member other than the sender whose
	// membership window holds m, its cursors and receipt times, and its
	// sessions live at now with their connection and cursor facts.
	TraceFacts(ctx context.Context, m Message, now time.Time) ([]RecipientFacts, error)
}

// RecipientFacts is what the store knows of one recipient of a message.
type RecipientFacts struct {
	UserID                string
	DeliveredSeq, ReadSeq int64
	// DeliveredAt and ReadAt are the times of the receipt events that
	// covered the message; zero when none is found.
	DeliveredAt, ReadAt time.Time
	Devices             []DeviceFacts
}

// DeviceFacts is what the store knows of one session of a recipient.
type DeviceFacts struct {
	DeviceID, Name string
	CreatedAt      time.Time
	// ConnectedAt and DisconnectedAt bound the device's last connection;
	// zero when not recorded.
	ConnectedAt, DisconnectedAt time.Time
	// Cursor is the device's delivery cursor of the conversation; AckedAt
	// when it last moved (zero: not recorded).
	Cursor  int64
	AckedAt time.Time
}

// OnlineViewer says what a viewer may see of a user's connection.
type OnlineViewer interface {
	// OnlineView reports whether viewer may see userID's online status
	// (its privacy settings and blocks), and whether userID is online.
	OnlineView(ctx context.Context, viewer, userID string) (visible, online bool, err error)
}

// Trace is a message's delivery trace.
type Trace struct {
	Message    Message
	Recipients []TraceRecipient
}

// TraceRecipient is one recipient's part of a trace.
type TraceRecipient struct {
	UserID              string
	Status              string
	DeliveredAt, ReadAt time.Time
	Devices             []TraceDevice
}

// TraceDevice is one recipient device's part of a trace; the times are
// zero when unknown.
type TraceDevice struct {
	DeviceID, Name                         string
	State                                  string
	QueuedSince, WrittenAt, AcknowledgedAt time.Time
	Online                                 bool
}

// Trace returns the delivery trace of a message for its sender. Anyone
// else, members included, gets ErrMessageNotFound, as for an unknown id:
// the trace does not even confirm that the message exists.
func (s *Service) Trace(ctx context.Context, userID, messageID string) (Trace, error) {
	ts, ok := s.store.(TraceStore)
	if !ok {
		return Trace{}, errors.New("trace: the store keeps no trace facts")
	}
	m, err := s.store.MessageByID(ctx, messageID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (m.SenderID != userID || !s.window().Shows(m))) {
		return Trace{}, ErrMessageNotFound
	}
	if err != nil {
		return Trace{}, fmt.Errorf("load message: %w", err)
	}
	if s.FlushConnections != nil {
		// Write this node's batched connects and closes first: the
		// trace is exact for devices connected here, and lags by at most
		// the gateway's StampEvery for those on other nodes.
		if err := s.FlushConnections(ctx); err != nil {
			return Trace{}, fmt.Errorf("flush connection stamps: %w", err)
		}
	}
	now := s.clock.Now()
	facts, err := ts.TraceFacts(ctx, m, now)
	if err != nil {
		return Trace{}, fmt.Errorf("trace facts: %w", err)
	}
	t := Trace{Message: m, Recipients: make([]TraceRecipient, 0, len(facts))}
	for _, f := range facts {
		r, err := s.traceRecipient(ctx, m, f, now)
		if err != nil {
			return Trace{}, err
		}
		t.Recipients = append(t.Recipients, r)
	}
	return t, nil
}

func (s *Service) traceRecipient(ctx context.Context, m Message, f RecipientFacts, now time.Time) (TraceRecipient, error) {
	r := TraceRecipient{UserID: f.UserID, Status: wire.StatusSent, Devices: []TraceDevice{}}
	if m.Withheld {
		// Blocking is private (docs/PROTOCOL.md, "Blocking"): a withheld
		// message is "sent" and nothing more, with no device, as for a
		// recipient signed in nowhere. Its devices' real state (they
		// never get it) would tell the sender it is blocked.
		return r, nil
	}
	expired := !m.ExpiresAt.IsZero() && !now.Before(m.ExpiresAt)
	switch {
	case m.Seq <= f.ReadSeq:
		r.Status, r.ReadAt = wire.StatusRead, f.ReadAt
		r.DeliveredAt = f.DeliveredAt
		if r.DeliveredAt.IsZero() {
			// Received and read in one cycle: one event records both.
			r.DeliveredAt = f.ReadAt
		}
	case m.Seq <= f.DeliveredSeq:
		r.Status, r.DeliveredAt = wire.StatusDelivered, f.DeliveredAt
	case expired:
		r.Status = wire.StatusExpired
	}
	// Connection facts are presence: they follow the recipient's online
	// visibility as GET /users/{id}/presence does. Hidden, a device is
	// queued until it acknowledges (which "delivered" tells anyway).
	visible, online := false, false
	if s.Presence != nil {
		var err error
		if visible, online, err = s.Presence.OnlineView(ctx, m.SenderID, f.UserID); err != nil {
			return TraceRecipient{}, fmt.Errorf("presence of %s: %w", f.UserID, err)
		}
	}
	for _, d := range f.Devices {
		r.Devices = append(r.Devices, traceDevice(m, d, visible, online, expired))
	}
	return r, nil
}

// traceDevice derives one device's state of m from its facts. visible:
// the sender may see the recipient's connection; online: the recipient
// is online (a device whose node died without recording its close is not).
func traceDevice(m Message, d DeviceFacts, visible, online, expired bool) TraceDevice {
	out := TraceDevice{DeviceID: d.DeviceID, Name: d.Name, State: wire.TraceQueued}
	committed := m.CreatedAt
	open := !d.ConnectedAt.IsZero() && d.DisconnectedAt.Before(d.ConnectedAt) && online
	var written time.Time
	switch {
	case d.ConnectedAt.IsZero():
	case d.ConnectedAt.After(committed):
		// Connected after the commit: the connect's sync wrote it (an
		// earlier connection may have, so "at the latest").
		written = d.ConnectedAt
	case open || !d.DisconnectedAt.Before(committed):
		// A connection was open when it was committed: written live.
		written = committed
	}
	if !visible {
		written = time.Time{}
	}
	out.Online = visible && open
	switch {
	case d.Cursor >= m.Seq:
		out.State, out.WrittenAt = wire.TraceAcknowledged, written
		if !d.AckedAt.Before(committed) {
			out.AcknowledgedAt = d.AckedAt
		}
	case expired:
		out.State = wire.TraceExpired
	case !written.IsZero():
		out.State, out.WrittenAt = wire.TraceWritten, written
	default:
		out.QueuedSince = committed
		if d.CreatedAt.After(committed) {
			out.QueuedSince = d.CreatedAt
		}
	}
	return out
}

// ConnectionStamp records a device's connect or close (or both) for the
// trace; a zero time is not recorded.
type ConnectionStamp struct {
	DeviceID                    string
	ConnectedAt, DisconnectedAt time.Time
}
