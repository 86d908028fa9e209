package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Kind names what an Event records.
type Kind string

// The events of a run. The generator writes them as they happen; the
// checker reads nothing else. T is always the generator's clock (time
// since the run started), taken after the thing happened for what it
// observed (a frame read, a call returned) and before it for what it did
// (a frame about to be written).
const (
	// KindUser: a user was registered. User (server id), Name (label).
	KindUser Kind = "user"
	// KindDevice: a device of User logged in (its login call returned) at
	// T. Device is its label, unique in the run. A device whose Setup is
	// true was made before any traffic and must receive everything its
	// user is sent.
	KindDevice Kind = "device"
	// KindRetire: Device was signed out by the server (a login past the
	// device limit); it can receive nothing more and is not expected to.
	KindRetire Kind = "retire"
	// KindConv: a conversation was created before traffic. Conv, Group
	// (true for a group), Members: the user ids that are members from its
	// start (a group's creator and initial participants; a 1:1's two).
	KindConv Kind = "conv"
	// KindConnOpen: Device's connection number Conn (1, 2, … per device)
	// was established: the upgrade returned at T, before any frame of it
	// was read; the dial began at Dialed. Node is the index of the node
	// it goes to.
	KindConnOpen Kind = "conn_open"
	// KindConnClose: that connection ended (read error or our close).
	// Err says how; Code CodeStalled: the device gave up on it, a send
	// unanswered for 10 s (the server had stopped answering it).
	KindConnClose Kind = "conn_close"
	// KindSend: Device is about to write a message frame: CMID, Conv,
	// Content (the exact content string), MessageType. Written for every
	// attempt, the resends with the same CMID included.
	KindSend Kind = "send"
	// KindAck: a message_ack arrived on Device/Conn: CMID, Msg (message
	// id), Conv, Seq, Created (the ack's timestamp, server Unix ms).
	KindAck Kind = "ack"
	// KindRefused: an error frame answered CMID on Device: Code (wire
	// code). A refused send is not stored; the generator may give up on
	// it (forbidden, not_found) or resend (rate_limited). With Op
	// "upload" and no CMID: a media upload failed, so its message was
	// never sent.
	KindRefused Kind = "refused"
	// KindDeliver: a message frame arrived on Device/Conn: Msg, Conv,
	// Seq, Sender (user id), MessageType, Content, Created (server Unix
	// ms). System messages have MessageType "system" and their JSON
	// content.
	KindDeliver Kind = "deliver"
	// KindAckSent: Device wrote a delivery_ack on Conn naming Msg, the
	// highest Seq it holds of Conv (acks are cumulative per conversation).
	// Writing it does not prove the server processed it.
	KindAckSent Kind = "ack_sent"
	// KindReadSent: Device wrote a read_receipt on Conn for Msg/Seq of Conv
	// (cumulative, like delivery_ack).
	KindReadSent Kind = "read_sent"
	// KindStatus: a status frame arrived on Device/Conn: Msg, Conv,
	// Target (the recipient user id), Status ("delivered", "read",
	// "expired"), Created (its timestamp, server ms).
	KindStatus Kind = "status"
	// KindMember: a membership call returned: Op ("add", "remove"),
	// Conv, Target (the user added or removed), User (who asked), Code
	// ("" on success, else the wire code, e.g. group_full). The log's
	// system messages, not this, are the record of membership.
	KindMember Kind = "member"
	// KindMediaCheck: Device fetched the media Media of message Msg and
	// Code says the result: "" (bytes match the sha256 in the content),
	// "mismatch", or the error's code. Only checks made after the faults
	// stopped count.
	KindMediaCheck Kind = "media_check"
	// KindFault: a fault began (Op "start") or ended ("end"): Fault (its
	// name), Target (a node index, "redis", "postgres", "proxy:N").
	KindFault Kind = "fault"
	// KindClock: every node's clock now runs Offset ms ahead of the wall
	// clock; written once all nodes applied it (before that some may be
	// behind). Offsets only grow.
	KindClock Kind = "clock"
	// KindPhase: the run entered a phase (Phase): "setup" (the first
	// event), "traffic" (faults and load), "drain" (faults over,
	// everything healed; devices reconnect and finish their sends), "read"
	// (each live device reads all it holds), "end" (quiet: nothing more is
	// delivered). Created is the wall clock at T, Unix ms, which ties T to
	// the servers' timestamps.
	KindPhase Kind = "phase"
	// KindHistory: after the end, one message of Conv's stored history
	// as the server returns it to a member who saw it all: Msg, Seq,
	// Sender, MessageType, Content, Created. One event per message, in
	// the order returned (oldest first). Phase PhaseSnapshot marks one
	// read just before a clock step, whose expiries delete the log's
	// early messages, membership changes included: it adds to the record
	// of the log, not to what the end history must hold.
	KindHistory Kind = "history"
	// KindPresence: at the end, before any device disconnects, User's
	// presence Status as GET /users/{id}/presence answers it.
	KindPresence Kind = "presence"
)

// CodeStalled marks a connection the device dropped for want of an ack.
const CodeStalled = "stalled"

// PhaseSnapshot marks a history read before a clock step.
const PhaseSnapshot = "snapshot"

// Event is one line of the ledger.
type Event struct {
	T    time.Duration `json:"t"`
	Kind Kind          `json:"k"`
	// Dialed, for KindConnOpen, is when the dial began: the server may
	// read the device's queue for it any time after.
	Dialed time.Duration `json:"dialed,omitempty"`

	User        string   `json:"user,omitempty"`
	Name        string   `json:"name,omitempty"`
	Device      string   `json:"dev,omitempty"`
	Setup       bool     `json:"setup,omitempty"`
	Conn        int      `json:"conn,omitempty"`
	Node        int      `json:"node,omitempty"`
	Conv        string   `json:"conv,omitempty"`
	Group       bool     `json:"group,omitempty"`
	Members     []string `json:"members,omitempty"`
	CMID        string   `json:"cmid,omitempty"`
	Msg         string   `json:"msg,omitempty"`
	Seq         int64    `json:"seq,omitempty"`
	Sender      string   `json:"sender,omitempty"`
	MessageType string   `json:"mtype,omitempty"`
	Content     string   `json:"content,omitempty"`
	Created     int64    `json:"created,omitempty"`
	Target      string   `json:"target,omitempty"`
	Status      string   `json:"status,omitempty"`
	Op          string   `json:"op,omitempty"`
	Code        string   `json:"code,omitempty"`
	Media       string   `json:"media,omitempty"`
	Fault       string   `json:"fault,omitempty"`
	Offset      int64    `json:"offset,omitempty"`
	Phase       string   `json:"phase,omitempty"`
	Err         string   `json:"err,omitempty"`
}

// Ledger records a run's events in order, in memory and, if given a
// writer, as JSON lines.
type Ledger struct {
	start time.Time

	mu     sync.Mutex
	events []Event
	w      *bufio.Writer
	werr   error
}

// NewLedger starts a ledger whose times count from now. w may be nil.
func NewLedger(w io.Writer) *Ledger {
	l := &Ledger{start: time.Now()}
	if w != nil {
		l.w = bufio.NewWriterSize(w, 1<<16)
	}
	return l
}

// Now is the ledger's clock.
func (l *Ledger) Now() time.Duration { return time.Since(l.start) }

// Add records e, stamped now unless it carries a time.
func (l *Ledger) Add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.T == 0 {
		e.T = time.Since(l.start)
	}
	l.events = append(l.events, e)
	if l.w != nil && l.werr == nil {
		b, _ := json.Marshal(e)
		b = append(b, '\n')
		_, l.werr = l.w.Write(b)
	}
}

// Len is how many events were recorded so far.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// Events returns what was recorded so far.
func (l *Ledger) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// Flush writes out what is buffered.
func (l *Ledger) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return nil
	}
	if l.werr != nil {
		return l.werr
	}
	return l.w.Flush()
}

// ReadLedger reads a ledger written by a run.
func ReadLedger(r io.Reader) ([]Event, error) {
	var out []Event
	dec := json.NewDecoder(r)
	for {
		var e Event
		err := dec.Decode(&e)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("ledger line %d: %w", len(out)+1, err)
		}
		out = append(out, e)
	}
}
