package messaging

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// SyncPage is how many queued messages (or receipt events) Sync reads per
// query.
const SyncPage = 500

// FrameWriter takes one device's frames in order: an event's frames as
// they were encoded for every connection it reaches, and rows read for
// this device alone as wire values, which the writer encodes. The
// gateway's writer buffers them and puts many frames in one socket write.
type FrameWriter interface {
	WriteFrame(frame []byte) error
	WriteMessage(m wire.Message) error
	WriteStatus(s wire.Status) error
}

// Stream is the delivery state of one connected device: what it has been
// written of each conversation and of its user's receipt events, so that
// it gets both in order, without gaps and without repeats, whatever order
// events arrive in, live or from the store. It is not safe for concurrent
// use: the connection's writer alone calls it.
//
// An idle stream holds no buffers, and no map until a conversation's
// message is first delivered live: connections are many and mostly idle.
type Stream struct {
	s                *Service
	userID, deviceID string
	// delivered is, per conversation, the highest sequence number written
	// to the device (or skipped as its own): the next message must be
	// exactly one more, or the gap is filled from the store first.
	delivered map[string]int64
	// receiptMax is the last receipt event (numbered per sender, without
	// gaps) written; receiptSaved the one the store has as the device's
	// cursor.
	receiptMax   int64
	receiptSaved int64
	// updated is, per conversation, the last update event written (or
	// passed); updSaved what the store has as the device's cursors. Both
	// are made on first use.
	updated  map[string]int64
	updSaved map[string]int64
	// start is what Start read, until Sync uses it.
	start *StreamStart
	// moved: receipt or update positions moved since the last Mark.
	moved bool
}

// Mark is how far a stream had written its device's receipt and update
// events at one moment. Written is not read: frames in a socket buffer, or
// on a link that then fails, are lost with the connection. So a device's
// cursors are saved only as far as a Mark the device is known to have
// read past (the gateway pings after status frames; the pong is that
// proof), and what came after is written again on its next connect:
// status and update frames are idempotent, a lost one is not.
type Mark struct {
	receipt int64
	updates map[string]int64
}

// Moved reports whether the stream wrote receipt or update events (or
// passed some) since the last Mark: until then there is nothing new to
// confirm.
func (st *Stream) Moved() bool { return st.moved }

// Mark returns how far the stream has written.
func (st *Stream) Mark() Mark {
	st.moved = false
	return Mark{receipt: st.receiptMax, updates: maps.Clone(st.updated)}
}

// OpenStream returns the delivery state of one connected device. It does
// no I/O.
func (s *Service) OpenStream(userID, deviceID string) *Stream {
	return &Stream{s: s, userID: userID, deviceID: deviceID}
}

// Start reads where the device stands: its receipt cursor, and whether
// anything waits for it (Sync's one query for a device with nothing to
// catch up). Sync calls it when the caller has not: a caller may run it
// elsewhere, on a goroutine whose stack the store's deep calls have
// already grown.
func (st *Stream) Start(ctx context.Context) error {
	start, err := st.s.store.StreamStart(ctx, st.userID, st.deviceID, st.s.window())
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	st.receiptMax, st.receiptSaved = start.ReceiptCursor, start.ReceiptCursor
	st.start = &start
	return nil
}

// Sync writes, in order, the device's offline queue (oldest first), then
// the status changes of its user's messages it has not been told of,
// then the updates (reactions, edits, deletions) it has not been told of.
// It must be called once, before Deliver. A device with nothing to catch
// up costs one store query: the queue and the statuses are read only when
// StreamStart says there is something to read.
func (st *Stream) Sync(ctx context.Context, w FrameWriter) error {
	if st.start == nil {
		if err := st.Start(ctx); err != nil {
			return err
		}
	}
	start := *st.start
	st.start = nil
	if start.Pending {
		if err := st.syncQueue(ctx, w); err != nil {
			return err
		}
	}
	if err := st.syncStatuses(ctx, w, start.ReceiptHead); err != nil {
		return err
	}
	if start.UpdatesPending {
		return st.syncUpdates(ctx, w)
	}
	return nil
}

func (st *Stream) syncQueue(ctx context.Context, w FrameWriter) error {
	var cur PendingCursor
	for {
		msgs, err := st.s.store.Pending(ctx, st.deviceID, cur, SyncPage, st.s.window())
		if err != nil {
			return fmt.Errorf("sync queue: %w", err)
		}
		for _, m := range msgs {
			if err := w.WriteMessage(ToFrame(m)); err != nil {
				return err
			}
			st.advance(m.ConversationID, m.Seq)
		}
		if len(msgs) < SyncPage {
			return nil
		}
		last := msgs[len(msgs)-1]
		cur = PendingCursor{CreatedAt: last.CreatedAt, ConversationID: last.ConversationID, Seq: last.Seq}
	}
}

// syncStatuses writes the receipt events after the device's cursor up to
// head, the last one at connect; later ones arrive live, and Deliver
// fills any it skipped. The cursor is saved by Close, as far as the
// device confirmed.
func (st *Stream) syncStatuses(ctx context.Context, w FrameWriter, head int64) error {
	for st.receiptMax < head {
		from := st.receiptMax
		changes, err := st.s.store.StatusesSince(ctx, st.userID, from, SyncPage)
		if err != nil {
			return fmt.Errorf("sync statuses: %w", err)
		}
		for _, ch := range changes {
			if err := w.WriteStatus(StatusFrame(ch)); err != nil {
				return err
			}
			st.receiptMax = ch.EventID
		}
		// Events are numbered without gaps and committed in number order,
		// so a page that reached head read every event up to it: those
		// after the last change have no messages left (they expired) and
		// are done too. Without this, such events would be read again at
		// every connect.
		if from+SyncPage >= head {
			st.receiptMax = max(st.receiptMax, head)
		} else if len(changes) == 0 {
			st.receiptMax = from + SyncPage // a whole page of such events
		}
		st.moved = true
	}
	return nil
}

// syncUpdates writes the update events of the device's conversations
// past its cursors, a page at a time.
func (st *Stream) syncUpdates(ctx context.Context, w FrameWriter) error {
	var cur UpdateCursor
	for {
		p, err := st.s.store.PendingUpdates(ctx, st.userID, st.deviceID, cur, SyncPage, st.s.window())
		if err != nil {
			return fmt.Errorf("sync updates: %w", err)
		}
		for _, e := range p.Events {
			if err := w.WriteFrame(wire.Encode(UpdateFrame(e.Update))); err != nil {
				return err
			}
		}
		for conv, id := range p.Passed {
			st.passUpdate(conv, id)
		}
		if !p.More {
			return nil
		}
		cur = p.Next
	}
}

// Deliver writes one live event of kind bus.KindMessage, bus.KindStatus or
// bus.KindUpdate in order; other kinds it leaves to the caller, writing nothing.
func (st *Stream) Deliver(ctx context.Context, ev *bus.Event, w FrameWriter) error {
	switch ev.Kind {
	case bus.KindMessage:
		return st.deliverMessage(ctx, ev, w)
	case bus.KindStatus:
		return st.deliverStatus(ctx, ev, w)
	case bus.KindUpdate:
		return st.deliverUpdate(ctx, ev, w)
	}
	return nil
}

// deliverMessage writes a message in its conversation's order: one the
// device has is dropped, and a gap before it (an earlier message not yet
// arrived, or published out of order) is filled from the store, where it
// already is. The sender's own device does not get it back, but its
// position moves past it.
func (st *Stream) deliverMessage(ctx context.Context, ev *bus.Event, w FrameWriter) error {
	last, known := st.delivered[ev.ConversationID]
	if !known {
		var err error
		last, err = st.s.store.DeviceCursor(ctx, st.deviceID, ev.ConversationID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // not (or no longer) a member of it
		}
		if err != nil {
			return fmt.Errorf("deliver message: %w", err)
		}
		st.advance(ev.ConversationID, last)
	}
	if ev.Seq <= last {
		return nil
	}
	if !ev.Committed.IsZero() && ev.Committed.Before(st.s.window().NotBefore) {
		// Past retention, and so is everything before it: a resend
		// publishes its message again however long ago it was stored,
		// and an event may wait on the bus. Sync would not deliver it
		// either.
		st.delivered[ev.ConversationID] = ev.Seq
		return nil
	}
	if ev.Seq > last+1 {
		missed, err := st.s.store.Range(ctx, st.userID, ev.ConversationID, last, ev.Seq, st.s.window())
		if err != nil {
			return fmt.Errorf("fill message gap: %w", err)
		}
		st.gapFilled()
		for _, m := range missed {
			if m.SenderDevice == st.deviceID {
				continue
			}
			if err := w.WriteMessage(ToFrame(m)); err != nil {
				return err
			}
		}
	}
	st.delivered[ev.ConversationID] = ev.Seq
	if ev.SenderDevice == st.deviceID {
		return nil
	}
	for _, f := range ev.Frames() {
		if err := w.WriteFrame(f); err != nil {
			return err
		}
	}
	return nil
}

// deliverStatus writes a receipt event's frames in event order: an event
// already written is dropped, and events skipped (lost between nodes, or
// published out of order) are read from the store first, where they are.
func (st *Stream) deliverStatus(ctx context.Context, ev *bus.Event, w FrameWriter) error {
	if ev.ReceiptID <= st.receiptMax {
		return nil
	}
	if missing := ev.ReceiptID - st.receiptMax - 1; missing > 0 {
		changes, err := st.s.store.StatusesSince(ctx, st.userID, st.receiptMax, int(missing))
		if err != nil {
			return fmt.Errorf("fill status gap: %w", err)
		}
		st.gapFilled()
		for _, ch := range changes {
			if ch.EventID >= ev.ReceiptID {
				break
			}
			if err := w.WriteStatus(StatusFrame(ch)); err != nil {
				return err
			}
		}
	}
	for _, f := range ev.Frames() {
		if err := w.WriteFrame(f); err != nil {
			return err
		}
	}
	st.receiptMax = ev.ReceiptID
	st.moved = true
	return nil
}

// deliverUpdate writes an update event in its conversation's order, as
// deliverMessage does a message: one the device was told of is dropped,
// and a gap before it is filled from the store, where it already is.
func (st *Stream) deliverUpdate(ctx context.Context, ev *bus.Event, w FrameWriter) error {
	conv := ev.ConversationID
	last, known := st.updated[conv]
	if !known {
		var err error
		last, err = st.s.store.UpdateCursor(ctx, st.deviceID, conv)
		if errors.Is(err, store.ErrNotFound) {
			return nil // not (or no longer) a member of it
		}
		if err != nil {
			return fmt.Errorf("deliver update: %w", err)
		}
		st.loadUpdateCursor(conv, last)
	}
	if ev.UpdateID <= last {
		return nil
	}
	if ev.UpdateID > last+1 {
		missed, err := st.s.store.UpdatesRange(ctx, st.userID, conv, last, ev.UpdateID, st.s.window())
		if err != nil {
			return fmt.Errorf("fill update gap: %w", err)
		}
		st.gapFilled()
		for _, e := range missed {
			if err := w.WriteFrame(wire.Encode(UpdateFrame(e.Update))); err != nil {
				return err
			}
		}
	}
	for _, f := range ev.Frames() {
		if err := w.WriteFrame(f); err != nil {
			return err
		}
	}
	st.passUpdate(conv, ev.UpdateID)
	return nil
}

// passUpdate moves the device's update position in a conversation
// forward, making the maps on first use.
func (st *Stream) passUpdate(conv string, id int64) {
	if st.updated == nil {
		st.updated, st.updSaved = map[string]int64{}, map[string]int64{}
	}
	if cur, ok := st.updated[conv]; !ok || id > cur {
		st.updated[conv] = id
		st.moved = true
	}
}

// loadUpdateCursor records the device's saved update position in a
// conversation, read from the store: nothing there is new to confirm.
func (st *Stream) loadUpdateCursor(conv string, id int64) {
	if st.updated == nil {
		st.updated, st.updSaved = map[string]int64{}, map[string]int64{}
	}
	st.updated[conv], st.updSaved[conv] = id, id
}

// Close records the receipt and update cursors as far as told, a Mark
// of this stream the device is known to have read past, so that its next
// connect repeats only what it may have missed. Call it after the last
// Deliver. Status and update frames are idempotent: a crash before
// it only repeats some.
func (st *Stream) Close(ctx context.Context, told Mark) {
	if told.receipt > st.receiptSaved {
		if err := st.s.store.SetReceiptCursor(context.WithoutCancel(ctx), st.deviceID, told.receipt); err != nil {
			st.s.log.Warn("save receipt cursor", "device", st.deviceID, "err", err)
		} else {
			st.receiptSaved = told.receipt
		}
	}
	var moved map[string]int64
	for conv, id := range told.updates {
		if id > st.updSaved[conv] {
			if moved == nil {
				moved = map[string]int64{}
			}
			moved[conv] = id
		}
	}
	if moved == nil {
		return
	}
	// The write outlives ctx: it is what a closing connection does last,
	// typically because its context ended.
	if err := st.s.store.SetUpdateCursors(context.WithoutCancel(ctx), st.deviceID, moved); err != nil {
		st.s.log.Warn("save update cursors", "device", st.deviceID, "err", err)
		return
	}
	maps.Copy(st.updSaved, moved)
}

// advance moves the device's position in a conversation forward, making
// the map on first use.
func (st *Stream) advance(conversationID string, seq int64) {
	if st.delivered == nil {
		st.delivered = map[string]int64{}
	}
	st.delivered[conversationID] = max(st.delivered[conversationID], seq)
}

func (st *Stream) gapFilled() {
	if st.s.GapFilled != nil {
		st.s.GapFilled()
	}
}
