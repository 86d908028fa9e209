package gateway

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/time/rate"

	"github.com/parleychat/parley/internal/bus"
	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/errmap"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/internal/store"
	"github.com/parleychat/parley/wire"
)

// Conn is one WebSocket connection of one device. Its reader goroutine
// owns inbound frames and the connection's life; a writer goroutine,
// started when something is queued and gone when the queue is empty,
// alone writes to the socket.
type Conn struct {
	g        *Gateway
	sock     *socket
	userID   string
	deviceID string
	// expiresAt is the session's expiry: the connection closes then.
	expiresAt time.Time
	out       *outbox
	in        inbox
	limiter   *rate.Limiter
	inflight  chan struct{} // a slot per send awaiting its commit
	// ctx ends with the connection (a kill, or reading over): handlers
	// waiting for a commit slot give up.
	ctx      context.Context
	cancel   context.CancelFunc
	stopping atomic.Bool // set by drain: read no more frames
	// jammed is set by a slow consumer's kill: the write under way is
	// aborted and none is tried again.
	jammed atomic.Bool
	// silent is set when the heartbeat timeout ended the read.
	silent atomic.Bool
	// linger: reading ended with the client still sending or closing;
	// run closes the socket without a reset (reader goroutine only).
	linger bool
	// peerClosed: the client sent a close frame (reader goroutine only).
	peerClosed bool
	ended      chan struct{} // closed when the connection is over
	// release gives back the connection's place under the user limits.
	release    func()
	stopExpiry func() bool

	closeMu     sync.Mutex
	closeCode   ws.StatusCode
	closeReason string

	// stream orders the device's messages and statuses and fills their
	// gaps; one writer at a time uses it (the outbox's running flag
	// orders them).
	stream *messaging.Stream
	// pings learn how far the device has read the stream.
	pings pinger
}

func newConn(g *Gateway, sock *socket, dev identity.Device, release func()) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &Conn{
		g: g, sock: sock, userID: dev.UserID, deviceID: dev.ID, expiresAt: dev.ExpiresAt,
		out:       newOutbox(g.cfg.MaxQueue),
		limiter:   rate.NewLimiter(rate.Limit(g.cfg.RateLimit), g.cfg.RateBurst),
		inflight:  make(chan struct{}, g.cfg.MaxInflight),
		in:        inbox{space: make(chan struct{}, maxInbox)},
		ctx:       ctx,
		cancel:    cancel,
		ended:     make(chan struct{}),
		release:   release,
		closeCode: ws.StatusNormalClosure,
		stream:    g.Messages.OpenStream(dev.UserID, dev.ID),
	}
}

// UserID is the connection's user (presence.Subscriber).
func (c *Conn) UserID() string { return c.userID }

// DeviceID is the connection's device (session) (presence.Subscriber).
func (c *Conn) DeviceID() string { return c.deviceID }

// Deliver queues an event for this connection; it never blocks.
func (c *Conn) Deliver(ev *bus.Event) {
	if ev.Kind == bus.KindRevoke {
		if ev.SenderDevice == c.deviceID {
			c.kill(CloseRevoked, ev.Reason)
		}
		return
	}
	c.push(item{ev: ev}, ev.Lossy())
}

func (c *Conn) send(frame []byte) { c.push(item{frame: frame}, false) }

func (c *Conn) push(it item, lossy bool) {
	switch c.out.push(it, lossy) {
	case pushStartWriter:
		go c.writeLoop(false)
	case pushOverflow:
		if c.g.Observer != nil {
			c.g.Observer.SlowConsumer()
		}
		c.kill(CloseSlowConsumer, "too slow: reconnect to receive queued messages")
	}
}

func (c *Conn) sendError(err error, clientMessageID string) {
	pe := errmap.Wire(err)
	if pe == wire.ErrInternal {
		c.g.Log.Error("frame failed", "user", c.userID, "err", err)
	}
	c.g.errorFrame(pe.Code)
	c.send(wire.Encode(wire.NewErrorFrame(pe, clientMessageID)))
}

// kill ends the connection with a close code; safe from any goroutine.
// What is queued is dropped and the close frame written next.
func (c *Conn) kill(code ws.StatusCode, reason string) {
	c.setCloseStatus(code, reason)
	if code == CloseSlowConsumer {
		// The socket is jammed: a close frame cannot get through, and the
		// write under way would hold the writer for WriteTimeout.
		c.jammed.Store(true)
		_ = c.sock.conn.SetWriteDeadline(aLongTimeAgo)
	}
	c.cancel()
	c.closeWith(closeNow)
}

// closeWith has a writer write the close frame, after the queue or now.
func (c *Conn) closeWith(mode closeMode) {
	if c.out.requestClose(mode) {
		go c.writeLoop(false)
	}
}

// setCloseStatus records the close code the writer will close with; the
// first reason recorded wins.
func (c *Conn) setCloseStatus(code ws.StatusCode, reason string) {
	c.closeMu.Lock()
	if c.closeCode == ws.StatusNormalClosure {
		c.closeCode, c.closeReason = code, reason
	}
	c.closeMu.Unlock()
}

func (c *Conn) closeStatus() (ws.StatusCode, string) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closeCode, c.closeReason
}

// drain is the graceful shutdown of one connection: stop taking frames,
// wait for accepted sends to commit, write what is queued, close with 1001.
func (c *Conn) drain(ctx context.Context) {
	c.setCloseStatus(ws.StatusGoingAway, "server shutting down")
	c.stopping.Store(true)
	for range cap(c.inflight) {
		select {
		case c.inflight <- struct{}{}:
		case <-c.ended:
			return
		case <-ctx.Done():
			c.kill(ws.StatusGoingAway, "server shutting down")
			return
		}
	}
	c.closeWith(closeAfterQueued)
	select {
	case <-c.ended:
	case <-ctx.Done():
		c.kill(ws.StatusGoingAway, "server shutting down")
	}
}

// run is the reader goroutine: it reads frames until the connection
// ends, then closes it and lets go of everything it held.
func (c *Conn) run() {
	timedOut := c.readLoop()
	c.cancel()
	c.in.handlers.Wait() // a handler waiting for a commit slot gives up
	// Reading is over: the client closed or went silent, broke the
	// protocol, or the connection was killed and the client answered (or
	// not) its close frame. A close frame not written yet is written now.
	c.closeWith(closeNow)
	c.out.finish()
	if c.linger {
		c.sock.linger()
	} else {
		_ = c.sock.conn.Close()
	}
	c.observeClose()
	c.g.closed(c, timedOut)
	close(c.ended)
}

// readLoop reads frames until the connection fails, the client goes
// silent for longer than the heartbeat timeout (timedOut), or it closes.
func (c *Conn) readLoop() (timedOut bool) {
	lim := c.g.cfg.Limits
	// The heartbeat timeout is one timer per connection on the injected
	// clock (so tests drive it), not a deadline per frame. It runs while
	// the reader waits for and reads a frame and is stopped while the
	// reader waits for the handler (a send waiting for a commit slot):
	// that is the server's delay, not client silence. Firing, it ends the
	// read with a deadline already past.
	timeout := c.g.Clock.AfterFunc(c.g.cfg.HeartbeatTimeout, func() {
		c.silent.Store(true)
		_ = c.sock.conn.SetReadDeadline(aLongTimeAgo)
	})
	defer timeout.Stop()
	for {
		timeout.Reset(c.g.cfg.HeartbeatTimeout)
		// The buffer is taken when a frame's first bytes are in, so an
		// idle connection holds none.
		err := c.sock.wait()
		var (
			buf []byte
			m   message
		)
		if err == nil {
			buf, m, err = c.sock.readMessage(c.g.readBufs, lim.MaxFrameBytes, lim.HardFrameBytes, c.control)
		}
		timeout.Stop()
		if err != nil {
			c.g.readBufs.put(buf)
			var pe *protocolError
			if errors.As(err, &pe) {
				c.setCloseStatus(pe.code, pe.reason)
			}
			// The client may still be sending (the rest of a refused
			// frame) or closing: the socket is closed without a reset.
			c.linger = pe != nil || errors.Is(err, errPeerClosed)
			return c.silent.Load() // a frame begun and not finished within the timeout is silence too
		}
		if c.stopping.Load() || c.ctx.Err() != nil {
			c.g.readBufs.put(buf)
			continue
		}
		// Handing the frame over may wait for the handler to catch up
		// (a send waiting for a commit slot): with the timer stopped.
		c.in.add(c, inbound{buf: buf, msg: m, limited: !c.limiter.Allow()})
	}
}

// inbound is a frame read and not yet handled.
type inbound struct {
	buf []byte
	msg message
	// limited: the frame came over the frame rate; it is answered with
	// rate_limited, not handled.
	limited bool
}

// maxInbox bounds the frames read ahead of the handler: past it the
// reader waits, and the client's frames wait in the socket.
const maxInbox = 8

// inbox hands frames from the reader to a handler goroutine that runs
// only while frames wait: decoding and handling a frame (JSON, the
// services) needs a deep stack, and a reader that did it itself would
// keep that stack, grown, for the life of an idle connection.
type inbox struct {
	mu       sync.Mutex
	frames   []inbound
	running  bool
	space    chan struct{} // a slot per frame read ahead
	handlers sync.WaitGroup
}

func (in *inbox) add(c *Conn, f inbound) {
	in.space <- struct{}{}
	in.mu.Lock()
	in.frames = append(in.frames, f)
	start := !in.running
	if start {
		in.running = true
		in.handlers.Add(1)
	}
	in.mu.Unlock()
	if start {
		go c.handleLoop()
	}
}

// next returns the next frame, or marks the handler stopped.
func (in *inbox) next() (inbound, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.frames) == 0 {
		in.frames = nil
		in.running = false
		return inbound{}, false
	}
	f := in.frames[0]
	in.frames[0] = inbound{}
	in.frames = in.frames[1:]
	return f, true
}

// handleLoop handles the frames read, in order, until none is left.
func (c *Conn) handleLoop() {
	defer c.in.handlers.Done()
	for {
		f, ok := c.in.next()
		if !ok {
			return
		}
		switch {
		case c.stopping.Load() || c.ctx.Err() != nil:
		case f.limited:
			c.sendError(wire.NewError(wire.CodeRateLimited, "too many frames: slow down"), "")
		case f.msg.tooBig:
			c.sendError(wire.NewError(wire.CodeTooLarge, "frame is larger than the frame limit"), "")
		case !f.msg.text:
			c.sendError(wire.Invalid("frames must be JSON text frames"), "")
		default:
			c.handle(c.ctx, f.buf)
		}
		c.g.readBufs.put(f.buf)
		<-c.in.space
	}
}

// control answers a client's control frame: a ping with its pong, a close
// by ending the read (run answers it).
func (c *Conn) control(op ws.OpCode, payload []byte) error {
	switch op {
	case ws.OpPing:
		c.push(item{op: ws.OpPong, frame: slices.Clone(payload)}, true)
	case ws.OpPong:
		if c.pings.pong(payload) {
			// Lossy: dropped only when the queue is half full, and then a
			// writer is running and pings after its batch anyway.
			c.push(item{ping: true}, true)
		}
	case ws.OpClose:
		code, err := closePayload(payload)
		if err != nil {
			return err
		}
		c.setCloseStatus(code, "")
		c.peerClosed = true
		return errPeerClosed
	}
	return nil
}

func (c *Conn) handle(ctx context.Context, data []byte) {
	f, err := wire.Decode(data, c.g.cfg.Limits)
	if err != nil {
		cmid := ""
		if f != nil {
			cmid = f.ClientMessageID
		}
		c.sendError(err, cmid)
		return
	}
	if c.g.Observer != nil {
		c.g.Observer.FrameIn(f.Type, len(data))
	}
	switch f.Type {
	case wire.TypeMessage:
		c.handleMessage(ctx, f)
	case wire.TypeDeliveryAck, wire.TypeReadReceipt:
		status := wire.StatusDelivered
		if f.Type == wire.TypeReadReceipt {
			status = wire.StatusRead
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
	case wire.TypeReaction, wire.TypeEdit, wire.TypeDelete:
		c.handleUpdate(ctx, f)
	case wire.TypeHeartbeat:
		c.send(wire.Encode(wire.HeartbeatAck{Type: wire.TypeHeartbeatAck, ServerTime: clock.Millis(c.g.Clock.Now())}))
	case wire.TypeTyping:
		c.handleTyping(ctx, f)
	case wire.TypePresenceSubscribe:
		c.handleSubscribe(ctx, f)
	}
}

func (c *Conn) handleMessage(ctx context.Context, f *wire.Inbound) {
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
		ReplyTo: f.ReplyTo, Mentions: f.Mentions, ForwardOf: f.ForwardOf,
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
		c.send(wire.Encode(wire.MessageAck{
			Type: wire.TypeMessageAck, ClientMessageID: cmid, MessageID: r.Message.ID,
			ConversationID: r.Message.ConversationID, SequenceNumber: r.Message.Seq,
			Status: wire.StatusSent, Timestamp: clock.Millis(r.Message.CreatedAt),
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

// handleUpdate submits a reaction, edit or deletion. Success is told by
// the change's own frame, which reaches this device too (or, when nothing
// changed, reaches it alone); a refusal by an error frame naming the
// message and the refused frame's type. They count
// against the user's send rate: each may reach every member's devices.
func (c *Conn) handleUpdate(ctx context.Context, f *wire.Inbound) {
	refuse := func(err error) {
		pe := errmap.Wire(err)
		if pe == wire.ErrInternal {
			c.g.Log.Error("update failed", "user", c.userID, "err", err)
		}
		ef := wire.NewErrorFrame(pe, "")
		ef.MessageID, ef.RefusedType = f.MessageID, f.Type
		c.g.errorFrame(pe.Code)
		c.send(wire.Encode(ef))
	}
	if err := c.g.allowSend(c.userID); err != nil {
		refuse(err)
		return
	}
	u := messaging.UpdateRequest{UserID: c.userID, DeviceID: c.deviceID, MessageID: f.MessageID}
	switch f.Type {
	case wire.TypeReaction:
		u.Kind, u.Emoji = messaging.UpdateReaction, *f.Emoji
	case wire.TypeEdit:
		u.Kind, u.Content = messaging.UpdateEdit, *f.Content
	case wire.TypeDelete:
		u.Kind = messaging.UpdateDelete
		if f.For == wire.DeleteForMe {
			u.Kind = messaging.UpdateHide
		}
	}
	if err := c.g.Messages.SubmitUpdate(ctx, u, func(r messaging.UpdateResult) {
		switch {
		case r.Err != nil:
			refuse(r.Err)
		case r.Unchanged:
			// Nothing changed, so nobody else is told: this device still
			// hears that the state it asked for holds.
			c.send(wire.Encode(messaging.UpdateFrame(r.Update)))
		}
	}); err != nil {
		refuse(err)
	}
}

func (c *Conn) handleTyping(ctx context.Context, f *wire.Inbound) {
	if err := c.g.Presence.Typing(ctx, f.ConversationID, c.userID, f.State); err != nil {
		c.sendError(err, "")
	}
}

func (c *Conn) handleSubscribe(ctx context.Context, f *wire.Inbound) {
	if err := c.g.Presence.Subscribe(ctx, c, f.UserIDs); err != nil {
		c.sendError(err, "")
	}
}

// writeLoop is one run of the connection's writer: it writes what is
// queued, batch by batch, each batch in one socket write, and returns when
// the queue is empty. The first run (sync) first streams the device's
// offline queue and the receipts its user missed.
func (c *Conn) writeLoop(sync bool) {
	defer c.out.writers.Done()
	w := frameWriter{c: c, buf: c.g.writeBufs.get()}
	defer func() { c.g.writeBufs.put(w.buf) }()
	if sync && c.ctx.Err() == nil {
		err := c.stream.Sync(c.ctx, &w)
		if err == nil {
			err = c.pingIfMoved(&w)
		}
		if err == nil {
			err = w.flush()
		}
		if err != nil {
			c.syncFailed(err)
		}
	}
	var batch []item
	for {
		var closing, ok bool
		batch, closing, ok = c.out.next(batch)
		if !ok {
			return
		}
		for _, it := range batch {
			if err := c.writeItem(&w, it); err != nil {
				c.writeFailed(err)
				c.out.done()
				return
			}
		}
		if closing {
			code, reason := c.closeStatus()
			if w.append(ws.OpClose, closeFrame(code, reason)) == nil && w.flush() == nil {
				// The client answers with its own close frame, which ends
				// the reader; one that does not is dropped after closeWait.
				_ = c.sock.conn.SetReadDeadline(time.Now().Add(closeWait))
			} else {
				_ = c.sock.conn.SetReadDeadline(aLongTimeAgo)
			}
			c.out.done()
			return
		}
		err := c.pingIfMoved(&w)
		if err == nil {
			err = w.flush()
		}
		if err != nil {
			c.writeFailed(err)
			c.out.done()
			return
		}
	}
}

// pingIfMoved follows status or update frames written since the last
// ping with a ping, whose pong will tell that the device read them
// (pinger).
func (c *Conn) pingIfMoved(w *frameWriter) error {
	if !c.stream.Moved() {
		return nil
	}
	payload, ok, wait := c.pings.ping(c.g.Clock.Now(), c.stream.Mark)
	if wait > 0 {
		c.g.Clock.AfterFunc(wait, func() {
			if c.pings.fire() {
				c.push(item{ping: true}, true)
			}
		})
	}
	if !ok {
		return nil
	}
	return w.append(ws.OpPing, payload[:])
}

// syncFailed ends a connection whose sync on connect failed (the first
// writer run's, or the store query before it).
func (c *Conn) syncFailed(err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The session was deleted after its token was checked (a cached
		// token outlives a row deleted by hand until the cache ages it
		// out).
		c.setCloseStatus(CloseRevoked, "session ended: log in again")
	case c.ctx.Err() != nil:
		return // killed meanwhile: the kill closes it
	default:
		c.g.Log.Warn("sync on connect", "device", c.deviceID, "err", err)
		c.setCloseStatus(ws.StatusInternalServerError, "sync failed")
	}
	c.cancel()
	c.closeWith(closeNow)
}

// writeFailed ends a connection whose write failed: the reader is stopped
// at once (nothing more can be written). It reports whether the failure
// was a kill's doing rather than the socket's.
func (c *Conn) writeFailed(err error) bool {
	_ = c.sock.conn.SetReadDeadline(aLongTimeAgo)
	if c.ctx.Err() != nil {
		return true
	}
	c.setCloseStatus(ws.StatusInternalServerError, "write failed")
	c.cancel()
	c.g.Log.Debug("write to client", "device", c.deviceID, "err", err)
	return false
}

var errJammed = errors.New("connection closed as a slow consumer")

// frameWriter is one writer run's buffer: frames are appended to it and
// written in one syscall per batch (or per maxWriteBuffer bytes).
type frameWriter struct {
	c      *Conn
	buf    []byte
	frames int
	// total counts every frame the run wrote, across flushes.
	total int
	// lags are the live messages in buf, for the delivery lag.
	lags lagStamps
}

// WriteFrame queues one text frame (frameSink).
func (w *frameWriter) WriteFrame(frame []byte) error {
	w.frames++
	w.total++
	return w.append(ws.OpText, frame)
}

// WriteMessage queues a stored message read for this device alone.
func (w *frameWriter) WriteMessage(m wire.Message) error { return w.WriteFrame(wire.Encode(&m)) }

// WriteStatus queues a receipt change read for this device alone.
func (w *frameWriter) WriteStatus(s wire.Status) error { return w.WriteFrame(wire.Encode(&s)) }

// append queues a frame of any kind; only WriteFrame's count as frames
// sent (the protocol's, not pongs or the close).
func (w *frameWriter) append(op ws.OpCode, payload []byte) error {
	w.buf = appendFrame(w.buf, op, payload)
	if len(w.buf) >= maxWriteBuffer {
		return w.flush()
	}
	return nil
}

// flush writes the buffer. Its deadline is WriteTimeout; a slow
// consumer's kill ends it at once.
func (w *frameWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	conn := w.c.sock.conn
	if t := w.c.g.cfg.WriteTimeout; t > 0 {
		_ = conn.SetWriteDeadline(time.Now().Add(t))
	}
	// After the deadline is set: a kill that set its own past deadline
	// before ours is seen here.
	if w.c.jammed.Load() {
		return errJammed
	}
	_, err := conn.Write(w.buf)
	n, size := w.frames, len(w.buf)
	w.buf, w.frames = w.buf[:0], 0
	if err != nil {
		return err
	}
	if w.c.g.Observer != nil {
		w.c.g.Observer.Written(n, size)
	}
	w.observeLags()
	return nil
}

func (c *Conn) writeItem(w *frameWriter, it item) error {
	if it.ping {
		return nil // the batch's end pings, if the stream moved
	}
	if it.op != 0 {
		return w.append(it.op, it.frame)
	}
	if it.ev == nil {
		return w.WriteFrame(it.frame)
	}
	ev := it.ev
	switch ev.Kind {
	case bus.KindMessage:
		// The event's own frame is the last the stream writes (after a
		// gap's), and none when the device has it or sent it.
		before := w.total
		if err := c.stream.Deliver(c.ctx, ev, w); err != nil {
			return err
		}
		if w.total != before && ev.SenderDevice != c.deviceID {
			w.noteCommitted(ev)
		}
		return nil
	case bus.KindStatus, bus.KindUpdate:
		return c.stream.Deliver(c.ctx, ev, w)
	case bus.KindContact:
		if err := c.g.Presence.ContactChanged(c.ctx, c, ev.Chooser, ev.Chosen); err != nil {
			c.g.Log.Warn("contact changed", "user", c.userID, "err", err)
		}
		return nil
	}
	for _, f := range ev.Frames() {
		if err := w.WriteFrame(f); err != nil {
			return err
		}
	}
	return nil
}
