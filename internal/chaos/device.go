package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/client"
)

// sendTimeout is how long a device waits for a message_ack before it
// takes its connection for dead and reconnects, as a phone would: a
// paused node holds the socket open and silent.
const sendTimeout = 10 * time.Second

const noAck = "no ack in "

type heldMsg struct {
	id  string
	seq int64
}

type pendingSend struct {
	msg client.OutgoingMessage
}

type mediaRef struct {
	msg, media, sha string
}

// device is one signed-in session of a user, with its own connection,
// offline queue and unacked sends.
type device struct {
	w      *Workload
	user   *user
	label  string
	token  string
	setup  bool
	c      *client.Client
	r      *rand.Rand
	retire atomic.Bool

	mu      sync.Mutex
	pending []pendingSend      // sent or to send, not yet acked: resent with the same key
	held    map[string]heldMsg // the highest message received per conversation
	media   []mediaRef
	cur     *client.Conn
	curN    int
	dirty   map[string]bool // conversations with deliveries not yet acked on this connection
	nextMsg int
}

func (d *device) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for n := 1; ctx.Err() == nil && !d.retire.Load(); {
		node := d.r.IntN(len(d.w.fronts))
		cc := *d.c
		cc.BaseURL = d.w.fronts[node]
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		dialed := d.w.led.Now()
		conn, err := cc.Dial(dctx, client.DialOptions{Heartbeat: 20 * time.Second, SendRetries: 3})
		cancel()
		if err != nil {
			if client.ErrorCode(err) == "unauthorized" {
				d.retired("dial refused: " + err.Error())
				return
			}
			if !sleep(ctx, backoff+time.Duration(d.r.Int64N(int64(backoff)))) {
				return
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		d.w.led.Add(Event{Kind: KindConnOpen, Device: d.label, Conn: n, Node: node, Dialed: dialed})
		why := d.session(ctx, conn, n, node)
		e := Event{Kind: KindConnClose, Device: d.label, Conn: n, Err: why}
		if strings.HasPrefix(why, noAck) {
			e.Code = CodeStalled
		}
		d.w.led.Add(e)
		if conn.CloseStatus() == 4001 {
			d.retired("closed 4001")
			return
		}
		n++
	}
}

func (d *device) retired(why string) {
	if d.retire.Swap(true) {
		return
	}
	d.mu.Lock()
	d.pending = nil // never acked, so never promised
	d.mu.Unlock()
	d.w.led.Add(Event{Kind: KindRetire, Device: d.label, User: d.user.id, Err: why})
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// session runs one connection until it ends, and says how it ended.
func (d *device) session(ctx context.Context, conn *client.Conn, n, node int) string {
	d.mu.Lock()
	d.cur, d.curN, d.dirty = conn, n, map[string]bool{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.cur = nil
		d.mu.Unlock()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() {
		for f := range conn.Frames() {
			d.frame(n, f)
		}
	})
	wg.Go(func() { d.acker(sctx, conn, n) })
	defer conn.Abort() // a no-op when already closed
	if others := d.w.users; len(others) > 0 {
		ids := []string{}
		for range 3 {
			ids = append(ids, others[d.r.IntN(len(others))].id)
		}
		_ = conn.SubscribePresence(sctx, ids...)
	}
	for {
		if why := d.sendPending(sctx, conn, n, node); why != "" {
			return why
		}
		if d.w.draining.Load() {
			select {
			case <-ctx.Done():
				return "run over"
			case <-conn.Done():
				return errString(conn.Err())
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		wait := time.NewTimer(time.Duration(d.r.ExpFloat64() * float64(d.w.cfg.SendEvery)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return "run over"
		case <-conn.Done():
			wait.Stop()
			return errString(conn.Err())
		case <-wait.C:
		}
		switch x := d.r.IntN(100); {
		case x < 2:
			_ = conn.Close()
			return "closed by the device"
		case x < 4:
			return "dropped by the device" // the deferred Abort
		}
		d.newSend(sctx, conn)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// newSend queues one new message to a conversation the user believes it
// is in; sendPending sends it.
func (d *device) newSend(ctx context.Context, conn *client.Conn) {
	convs := d.user.conversations()
	if len(convs) == 0 {
		return
	}
	conv := convs[d.r.IntN(len(convs))]
	d.mu.Lock()
	d.nextMsg++
	cmid := fmt.Sprintf("%s#%d", d.label, d.nextMsg)
	d.mu.Unlock()
	m := client.OutgoingMessage{ClientMessageID: cmid, ConversationID: conv, MessageType: "text"}
	c := content{CMID: cmid, Device: d.label}
	if d.r.IntN(5) == 0 {
		_ = conn.Typing(ctx, conv, "composing")
	}
	if d.w.wantMedia(d.r) {
		id, sum, err := d.upload(ctx)
		if err != nil {
			// An upload in a fault may fail; nothing was promised.
			d.w.led.Add(Event{Kind: KindRefused, Device: d.label, Op: "upload", Code: codeOf(err), Err: err.Error()})
			return
		}
		m.MessageType, m.MediaID, c.SHA256 = "image", id, sum
	}
	m.Content = encodeContent(c)
	d.mu.Lock()
	d.pending = append(d.pending, pendingSend{msg: m})
	d.mu.Unlock()
}

func (d *device) upload(ctx context.Context) (id, sum string, err error) {
	img := pngImage(d.r)
	cc := *d.c
	cc.BaseURL = d.w.fronts[d.r.IntN(len(d.w.fronts))]
	up, err := cc.CreateMedia(ctx, "image/png", int64(len(img)))
	if err != nil {
		return "", "", err
	}
	if err := cc.Upload(ctx, up, bytes.NewReader(img), int64(len(img))); err != nil {
		return "", "", err
	}
	if _, err := cc.CompleteMedia(ctx, up.MediaID); err != nil {
		return "", "", err
	}
	return up.MediaID, sha(img), nil
}

// sendPending sends every unacked message in order, each until it is
// acked or refused for good; it returns why the connection is no longer
// usable, or "".
func (d *device) sendPending(ctx context.Context, conn *client.Conn, n, node int) string {
	for {
		d.mu.Lock()
		if len(d.pending) == 0 {
			d.mu.Unlock()
			return ""
		}
		p := d.pending[0]
		d.mu.Unlock()
		d.w.led.Add(Event{Kind: KindSend, Device: d.label, Conn: n, CMID: p.msg.ClientMessageID, Conv: p.msg.ConversationID,
			Content: p.msg.Content, MessageType: p.msg.MessageType})
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		d.w.inflight[node].Add(1)
		ack, err := conn.SendMessage(sctx, p.msg)
		d.w.inflight[node].Add(-1)
		cancel()
		if err == nil {
			d.w.led.Add(Event{Kind: KindAck, Device: d.label, Conn: n, CMID: ack.ClientMessageID, Msg: ack.MessageID,
				Conv: ack.ConversationID, Seq: ack.SequenceNumber, Created: ack.Timestamp})
			d.done(p)
			continue
		}
		code := client.ErrorCode(err)
		if code != "" {
			d.w.led.Add(Event{Kind: KindRefused, Device: d.label, Conn: n, CMID: p.msg.ClientMessageID, Code: code, Err: err.Error()})
		}
		switch code {
		case "forbidden", "not_found", "invalid", "too_large":
			d.done(p) // refused for good: not stored, not promised
			continue
		case "rate_limited", "internal":
			if !sleep(ctx, 500*time.Millisecond) {
				return "run over"
			}
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return noAck + sendTimeout.String()
		}
		return errString(err)
	}
}

func (d *device) done(p pendingSend) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.pending) > 0 && d.pending[0].msg.ClientMessageID == p.msg.ClientMessageID {
		d.pending = d.pending[1:]
	}
}

func (d *device) frame(n int, f client.Frame) {
	switch f.Type {
	case "message":
		d.w.frames.Add(1)
		d.w.led.Add(Event{Kind: KindDeliver, Device: d.label, Conn: n, Msg: f.MessageID, Conv: f.ConversationID,
			Seq: f.SequenceNumber, Sender: f.SenderID, MessageType: f.MessageType, Content: f.Content, Created: f.CreatedAt})
		d.mu.Lock()
		if h := d.held[f.ConversationID]; f.SequenceNumber > h.seq {
			d.held[f.ConversationID] = heldMsg{id: f.MessageID, seq: f.SequenceNumber}
		}
		d.dirty[f.ConversationID] = true
		if f.MediaID != "" {
			var c content
			if json.Unmarshal([]byte(f.Content), &c) == nil && c.SHA256 != "" {
				d.media = append(d.media, mediaRef{msg: f.MessageID, media: f.MediaID, sha: c.SHA256})
			}
		}
		d.mu.Unlock()
	case "status":
		d.w.frames.Add(1)
		d.w.led.Add(Event{Kind: KindStatus, Device: d.label, Conn: n, Msg: f.MessageID, Conv: f.ConversationID,
			Target: f.UserID, Status: f.Status, Created: f.Timestamp})
	}
}

// acker acknowledges, every 100 ms, the highest message held of each
// conversation that had deliveries on this connection; now and then it
// also marks it read.
func (d *device) acker(ctx context.Context, conn *client.Conn, n int) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-conn.Done():
			return
		case <-t.C:
		}
		d.mu.Lock()
		var ids []string
		var acks []Event
		for conv := range d.dirty {
			h := d.held[conv]
			ids = append(ids, h.id)
			acks = append(acks, Event{Kind: KindAckSent, Device: d.label, Conn: n, Conv: conv, Msg: h.id, Seq: h.seq})
		}
		clear(d.dirty)
		read := d.r.IntN(5) == 0
		d.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		slices.SortFunc(acks, func(a, b Event) int { return strings.Compare(a.Conv, b.Conv) })
		for _, e := range acks {
			d.w.led.Add(e)
		}
		if conn.Ack(ctx, ids...) != nil {
			return
		}
		if read {
			for _, e := range acks {
				d.w.led.Add(Event{Kind: KindReadSent, Device: d.label, Conn: n, Conv: e.Conv, Msg: e.Msg, Seq: e.Seq})
				if conn.Read(ctx, e.Conv, e.Msg) != nil {
					return
				}
			}
		}
	}
}

// readAll marks everything the device holds read, in the conversations
// its user is still in, on its current connection.
func (d *device) readAll(ctx context.Context) {
	d.mu.Lock()
	conn, n := d.cur, d.curN
	held := heldByConv(d.held)
	d.mu.Unlock()
	if conn == nil {
		return
	}
	in := d.user.conversations()
	for _, h := range held {
		if !slices.Contains(in, h.conv) {
			continue
		}
		d.w.led.Add(Event{Kind: KindReadSent, Device: d.label, Conn: n, Conv: h.conv, Msg: h.id, Seq: h.seq})
		_ = conn.Read(ctx, h.conv, h.id)
	}
}

type convHeld struct {
	conv string
	heldMsg
}

// heldByConv lists what is held, in conversation order.
func heldByConv(m map[string]heldMsg) []convHeld {
	out := make([]convHeld, 0, len(m))
	for c, h := range m {
		out = append(out, convHeld{c, h})
	}
	slices.SortFunc(out, func(a, b convHeld) int { return strings.Compare(a.conv, b.conv) })
	return out
}

// checkMedia downloads up to max media items the device received and
// compares their bytes with what was sent.
func (d *device) checkMedia(ctx context.Context, limit int) {
	d.mu.Lock()
	refs := slices.Clone(d.media)
	d.mu.Unlock()
	if len(refs) > limit {
		d.r.Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
		refs = refs[:limit]
	}
	for _, m := range refs {
		code := ""
		got, err := d.c.GetMedia(ctx, m.media)
		var data []byte
		if err == nil {
			data, _, err = d.c.Download(ctx, got.URL, 1<<20)
		}
		switch {
		case err != nil:
			code = codeOf(err)
		case sha(data) != m.sha:
			code = "mismatch"
		}
		d.w.led.Add(Event{Kind: KindMediaCheck, Device: d.label, Msg: m.msg, Media: m.media, Code: code, Err: errText(err)})
	}
}
