package gateway

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/protocol"
	"github.com/parleychat/parley/internal/store"
)

// Close codes in the private range, so clients can tell why they were
// disconnected.
const (
	CloseSlowConsumer websocket.StatusCode = 4008
	CloseRevoked      websocket.StatusCode = 4001
)

// Conn is one WebSocket connection of one device. Its reader goroutine
// owns inbound frames; its writer goroutine alone writes to the socket.
type Conn struct {
	g        *Gateway
	ws       *websocket.Conn
	userID   string
	deviceID string
	// expiresAt is the session's expiry: the connection closes then.
	expiresAt time.Time
	out       *outbox
	limiter   *rate.Limiter
	inflight  chan struct{} // a slot per send awaiting its commit
	cancel    context.CancelFunc
	// writeCtx bounds socket writes; abortWrite ends it (see write).
	writeCtx   context.Context
	abortWrite context.CancelFunc
	stopping   atomic.Bool   // set by drain: read no more frames
	written    chan struct{} // closed when the writer has stopped

	closeMu     sync.Mutex
	closeCode   websocket.StatusCode
	closeReason string

	// Writer-goroutine state.
	// delivered is, per conversation, the highest sequence number this
	// connection has written (or skipped as its own): the next message of
	// the conversation must be exactly one more, or the gap is filled from
	// the store first. This makes order and no-gaps hold whatever order
	// events arrive in, live or from the offline queue.
	delivered map[string]int64
	// receiptMax is the last receipt event (numbered per sender, without
	// gaps) this connection has written; receiptSaved the one the store
	// has as the device's cursor.
	receiptMax   int64
	receiptSaved int64
}

func newConn(g *Gateway, ws *websocket.Conn, dev identity.Device) *Conn {
	return &Conn{
		g: g, ws: ws, userID: dev.UserID, deviceID: dev.ID, expiresAt: dev.ExpiresAt,
		out:       newOutbox(g.cfg.MaxQueue),
		limiter:   rate.NewLimiter(rate.Limit(g.cfg.RateLimit), g.cfg.RateBurst),
		inflight:  make(chan struct{}, g.cfg.MaxInflight),
		delivered: map[string]int64{},
		closeCode: websocket.StatusNormalClosure,
		written:   make(chan struct{}),
	}
}

// UserID is the connection's user (presence.Subscriber).
func (c *Conn) UserID() string { return c.userID }

// Deliver queues an event for this connection; it never blocks.
func (c *Conn) Deliver(ev *bus.Event) {
	if ev.Kind == bus.KindRevoke {
		if ev.SenderDevice == c.deviceID {
			c.kill(CloseRevoked, ev.Reason)
		}
		return
	}
	if !c.out.push(item{ev: ev}, ev.Lossy()) {
		if c.g.Observer != nil {
			c.g.Observer.SlowConsumer()
		}
		c.kill(CloseSlowConsumer, "too slow: reconnect to receive queued messages")
	}
}

func (c *Conn) send(frame []byte) {
	if !c.out.push(item{frame: frame}, false) {
		c.kill(CloseSlowConsumer, "too slow: reconnect to receive queued messages")
	}
}

func (c *Conn) sendError(err error, clientMessageID string) {
	pe := protocol.AsError(err)
	if pe == protocol.ErrInternal {
		c.g.Log.Error("frame failed", "user", c.userID, "err", err)
	}
	c.send(protocol.Encode(protocol.NewErrorFrame(pe, clientMessageID)))
}

// kill ends the connection with a close code; safe from any goroutine.
func (c *Conn) kill(code websocket.StatusCode, reason string) {
	c.setCloseStatus(code, reason)
	if code == CloseSlowConsumer && c.abortWrite != nil {
		// The socket is jammed: a close frame cannot get through, and the
		// write under way would hold the writer for WriteTimeout.
		c.abortWrite()
	}
	if c.cancel != nil {
		c.cancel()
	}
}

// setCloseStatus records the close code the writer will close with; the
// first reason recorded wins.
func (c *Conn) setCloseStatus(code websocket.StatusCode, reason string) {
	c.closeMu.Lock()
	if c.closeCode == websocket.StatusNormalClosure {
		c.closeCode, c.closeReason = code, reason
	}
	c.closeMu.Unlock()
}

func (c *Conn) closeStatus() (websocket.StatusCode, string) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closeCode, c.closeReason
}

// drain is the graceful shutdown of one connection: stop taking frames,
// wait for accepted sends to commit, flush what is queued, close with 1001.
func (c *Conn) drain(ctx context.Context) {
	c.setCloseStatus(websocket.StatusGoingAway, "server shutting down")
	c.stopping.Store(true)
	for range cap(c.inflight) {
		select {
		case c.inflight <- struct{}{}:
		case <-ctx.Done():
			c.kill(websocket.StatusGoingAway, "server shutting down")
			return
		}
	}
	flushed := make(chan struct{})
	c.out.push(item{flush: flushed}, false)
	select {
	case <-flushed:
	case <-c.written: // the connection ended on its own meanwhile
	case <-ctx.Done():
	}
	c.kill(websocket.StatusGoingAway, "server shutting down")
}

// readLoop reads frames until the connection fails, the client goes
// silent for longer than the heartbeat timeout (timedOut), or the
// connection is killed.
func (c *Conn) readLoop(ctx context.Context) (timedOut bool) {
	lim := c.g.cfg.Limits
	buf := make([]byte, 0, 512)
	// The heartbeat timeout is one timer per connection on the injected
	// clock (so tests drive it), not a context deadline per frame. It runs
	// while the reader waits for and reads a frame, as that deadline did,
	// and is stopped while the frame is handled: a handler waiting for a
	// commit slot is the server's delay, not client silence. Firing, it
	// ends the read by cancelling the read context.
	rctx, cancelRead := context.WithCancel(ctx)
	defer cancelRead()
	var silent atomic.Bool
	timeout := c.g.Clock.AfterFunc(c.g.cfg.HeartbeatTimeout, func() {
		silent.Store(true)
		cancelRead()
	})
	defer timeout.Stop()
	for {
		timeout.Reset(c.g.cfg.HeartbeatTimeout)
		typ, r, err := c.ws.Reader(rctx)
		if err != nil {
			return silent.Load()
		}
		var tooBig bool
		buf, tooBig, err = readFrame(r, buf[:0], lim.MaxFrameBytes)
		timeout.Stop()
		if err != nil {
			return silent.Load() // a frame begun and not finished within the timeout is silence too
		}
		if c.stopping.Load() {
			continue
		}
		if !c.limiter.Allow() {
			c.sendError(protocol.NewError(protocol.CodeRateLimited, "too many frames: slow down"), "")
			continue
		}
		switch {
		case tooBig:
			c.sendError(protocol.NewError(protocol.CodeTooLarge, "frame is larger than the frame limit"), "")
		case typ != websocket.MessageText:
			c.sendError(protocol.Invalid("frames must be JSON text frames"), "")
		default:
			c.handle(ctx, buf)
		}
		if cap(buf) > 64<<10 {
			buf = make([]byte, 0, 512) // do not pin a large buffer to an idle connection
		}
	}
}

// readFrame reads one message into buf; beyond max bytes it discards the
// rest (the websocket read limit bounds that) and reports tooBig.
func readFrame(r io.Reader, buf []byte, max int) ([]byte, bool, error) {
	lr := io.LimitedReader{R: r, N: int64(max) + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return buf, false, err
		}
	}
	if len(buf) > max {
		_, err := io.Copy(io.Discard, r)
		return buf[:0], true, err
	}
	return buf, false, nil
}

func (c *Conn) handle(ctx context.Context, data []byte) {
	f, err := protocol.Decode(data, c.g.cfg.Limits)
	if err != nil {
		cmid := ""
		if f != nil {
			cmid = f.ClientMessageID
		}
		c.sendError(err, cmid)
		return
	}
	if c.g.Observer != nil {
		c.g.Observer.FrameIn(f.Type)
	}
	switch f.Type {
	case protocol.TypeMessage:
		c.handleMessage(ctx, f)
	case protocol.TypeDeliveryAck, protocol.TypeReadReceipt:
		status := protocol.StatusDelivered
		if f.Type == protocol.TypeReadReceipt {
			status = protocol.StatusRead
		}
		req := messaging.ReceiptRequest{
			UserID: c.userID, DeviceID: c.deviceID, Status: status,
			ConversationID: f.ConversationID, MessageIDs: f.MessageIDs,
		}
		if err := c.g.Messages.SubmitReceipt(ctx, req, func(err error) {
			if err != nil {
				c.sendError(err, "")
			}
		}); err != nil {
			c.sendError(err, "")
		}
	case protocol.TypeHeartbeat:
		c.send(protocol.Encode(protocol.HeartbeatAck{Type: protocol.TypeHeartbeatAck, ServerTime: clock.Millis(c.g.Clock.Now())}))
	case protocol.TypeTyping:
		c.handleTyping(ctx, f)
	case protocol.TypePresenceSubscribe:
		c.handleSubscribe(ctx, f)
	}
}

func (c *Conn) handleMessage(ctx context.Context, f *protocol.Inbound) {
	if err := c.g.allowSend(c.userID); err != nil {
		c.sendError(err, f.ClientMessageID)
		return
	}
	select {
	case c.inflight <- struct{}{}:
	case <-ctx.Done():
		return
	}
	cmid := f.ClientMessageID
	// The node's bound is checked once this connection has room: a send
	// refused here was not submitted, and its client resends it later.
	pending, err := c.g.admitSend()
	if err != nil {
		c.sendError(err, cmid)
		<-c.inflight
		return
	}
	m := messaging.Message{
		ConversationID: f.ConversationID, SenderID: c.userID, SenderDevice: c.deviceID,
		ClientMessageID: f.ClientMessageID, Type: f.MessageType, Content: *f.Content, MediaID: f.MediaID,
	}
	if m.MediaID != "" && c.g.Media != nil {
		// An id alone must not be a key to someone else's media: only
		// what the sender uploaded or can already see may be attached.
		if err := c.g.Media.CanUse(ctx, c.userID, m.MediaID); err != nil {
			pending.release()
			c.sendError(err, cmid)
			<-c.inflight
			return
		}
	}
	// done is called once, after the commit or its failure, also for the
	// sends a shutdown drains; a send Submit refuses never reaches it.
	// Either way the send leaves the node's pending count exactly once.
	err = c.g.Messages.Submit(ctx, m, func(r messaging.AppendResult) {
		pending.release()
		// The answer is queued before the slot is given back: a drain
		// takes every slot and then queues its flush, which must come
		// after every ack (a stress run lost one ack of 300 the other
		// way round).
		defer func() { <-c.inflight }()
		if r.Err != nil {
			c.sendError(r.Err, cmid)
			return
		}
		c.send(protocol.Encode(protocol.MessageAck{
			Type: protocol.TypeMessageAck, ClientMessageID: cmid, MessageID: r.Message.ID,
			ConversationID: r.Message.ConversationID, SequenceNumber: r.Message.Seq,
			Status: protocol.StatusSent, Timestamp: clock.Millis(r.Message.CreatedAt),
		}))
	})
	if err != nil {
		pending.release()
		c.sendError(err, cmid)
		<-c.inflight
		return
	}
	c.g.Presence.StopTyping(f.ConversationID, c.userID)
}

func (c *Conn) handleTyping(ctx context.Context, f *protocol.Inbound) {
	if err := c.g.Presence.Typing(ctx, f.ConversationID, c.userID, f.State); err != nil {
		c.sendError(err, "")
	}
}

func (c *Conn) handleSubscribe(ctx context.Context, f *protocol.Inbound) {
	if err := c.g.Presence.Subscribe(ctx, c, f.UserIDs); err != nil {
		c.sendError(err, "")
	}
}

// writeLoop first streams the device's offline queue and the receipts its
// user missed, then live events, until the connection ends.
func (c *Conn) writeLoop(ctx context.Context) {
	defer close(c.written)
	defer func() {
		code, reason := c.closeStatus()
		_ = c.ws.Close(code, reason)
	}()
	if err := c.sync(ctx); err != nil {
		if ctx.Err() == nil {
			c.g.Log.Warn("sync on connect", "device", c.deviceID, "err", err)
			c.kill(websocket.StatusInternalError, "sync failed")
		}
		return
	}
	var batch []item
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.out.notify:
		}
		batch = c.out.take(batch)
		for _, it := range batch {
			if it.flush != nil {
				close(it.flush)
				return
			}
			if err := c.writeItem(ctx, it); err != nil {
				if ctx.Err() == nil {
					c.kill(websocket.StatusInternalError, "write failed")
				}
				return
			}
		}
	}
}

// write writes one frame. Its context is not the writer's: coder/websocket
// closes the socket at once when a write's context ends, even in the
// instant after the bytes went out, so a kill cancelling the writer
// mid-write would drop the connection without its close frame (a
// revocation's 4001 reached clients as a bare EOF under load). A write
// under way finishes, bounded by WriteTimeout; the writer then sees the
// kill and closes with its code. Only a slow consumer aborts it.
func (c *Conn) write(_ context.Context, frame []byte) error {
	wctx, cancel := context.WithTimeout(c.writeCtx, c.g.cfg.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(wctx, websocket.MessageText, frame); err != nil {
		return err
	}
	if c.g.Observer != nil {
		c.g.Observer.FrameOut(1)
	}
	return nil
}

func (c *Conn) writeItem(ctx context.Context, it item) error {
	if it.ev == nil {
		return c.write(ctx, it.frame)
	}
	ev := it.ev
	switch ev.Kind {
	case bus.KindMessage:
		return c.deliverMessage(ctx, ev)
	case bus.KindStatus:
		return c.deliverStatus(ctx, ev)
	case bus.KindContact:
		if err := c.g.Presence.ContactAdded(ctx, c, ev.Chooser, ev.Chosen); err != nil {
			c.g.Log.Warn("contact added", "user", c.userID, "err", err)
		}
		return nil
	}
	return c.write(ctx, ev.Frame)
}

// deliverStatus writes a receipt event's frames in event order: an event
// already written is dropped, and events skipped (lost between nodes, or
// published out of order) are read from the store first, where they are.
func (c *Conn) deliverStatus(ctx context.Context, ev *bus.Event) error {
	if ev.ReceiptID <= c.receiptMax {
		return nil
	}
	if missing := ev.ReceiptID - c.receiptMax - 1; missing > 0 {
		changes, err := c.g.Messages.StatusesSince(ctx, c.userID, c.receiptMax, int(missing))
		if err != nil {
			return err
		}
		if c.g.Observer != nil {
			c.g.Observer.GapFilled()
		}
		for _, ch := range changes {
			if ch.EventID >= ev.ReceiptID {
				break
			}
			if err := c.write(ctx, protocol.Encode(messaging.StatusFrame(ch))); err != nil {
				return err
			}
		}
	}
	for _, f := range append([][]byte{ev.Frame}, ev.Frames...) {
		if f == nil {
			continue
		}
		if err := c.write(ctx, f); err != nil {
			return err
		}
	}
	c.receiptMax = ev.ReceiptID
	return nil
}

// deliverMessage writes a live message in its conversation's order.
func (c *Conn) deliverMessage(ctx context.Context, ev *bus.Event) error {
	last, known := c.delivered[ev.ConversationID]
	if !known {
		var err error
		last, err = c.g.Messages.DeviceCursor(ctx, c.deviceID, ev.ConversationID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // not (or no longer) a member of it
		}
		if err != nil {
			return err
		}
		c.delivered[ev.ConversationID] = last
	}
	if ev.Seq <= last {
		return nil
	}
	if ev.Seq > last+1 {
		// An earlier message has not reached us yet (or was published
		// out of order): fill the gap from the store, where it already is.
		missed, err := c.g.Messages.Range(ctx, c.userID, ev.ConversationID, last, ev.Seq)
		if err != nil {
			return err
		}
		if c.g.Observer != nil {
			c.g.Observer.GapFilled()
		}
		for _, m := range missed {
			if m.SenderDevice == c.deviceID {
				continue
			}
			if err := c.write(ctx, protocol.Encode(messaging.ToFrame(m))); err != nil {
				return err
			}
		}
	}
	c.delivered[ev.ConversationID] = ev.Seq
	if ev.SenderDevice == c.deviceID {
		return nil // the sender's own device has it already
	}
	return c.write(ctx, ev.Frame)
}

// syncPage is how many queued messages are read per query.
const syncPage = 500

func (c *Conn) sync(ctx context.Context) error {
	var cur messaging.PendingCursor
	for {
		msgs, err := c.g.Messages.Pending(ctx, c.deviceID, cur, syncPage)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if err := c.write(ctx, protocol.Encode(messaging.ToFrame(m))); err != nil {
				return err
			}
			c.delivered[m.ConversationID] = max(c.delivered[m.ConversationID], m.Seq)
		}
		if len(msgs) < syncPage {
			break
		}
		last := msgs[len(msgs)-1]
		cur = messaging.PendingCursor{CreatedAt: last.CreatedAt, ConversationID: last.ConversationID, Seq: last.Seq}
	}
	rc, err := c.g.Messages.ReceiptCursor(ctx, c.deviceID)
	if err != nil {
		return err
	}
	c.receiptMax, c.receiptSaved = rc, rc
	for {
		changes, err := c.g.Messages.StatusesSince(ctx, c.userID, c.receiptMax, syncPage)
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			return nil
		}
		for _, ch := range changes {
			if err := c.write(ctx, protocol.Encode(messaging.StatusFrame(ch))); err != nil {
				return err
			}
			c.receiptMax = ch.EventID
		}
		c.saveReceiptCursor(ctx)
	}
}

// saveReceiptCursor records which receipts the device has been told about,
// so the next connect does not repeat them. Writer goroutine only (or after
// it stopped). Status frames are idempotent: a crash before the save only
// repeats some.
func (c *Conn) saveReceiptCursor(ctx context.Context) {
	if c.receiptMax <= c.receiptSaved {
		return
	}
	if err := c.g.Messages.SetReceiptCursor(context.WithoutCancel(ctx), c.deviceID, c.receiptMax); err != nil {
		c.g.Log.Warn("save receipt cursor", "device", c.deviceID, "err", err)
		return
	}
	c.receiptSaved = c.receiptMax
}
