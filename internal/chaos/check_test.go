package chaos

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const testStartWall = int64(1_700_000_000_000)

// lb builds a small ledger the way a run writes one: every event a
// little after the previous, devices' connections tracked, each stored
// message remembered so deliveries and history carry what the server
// would.
type lb struct {
	ev   []Event
	now  time.Duration
	user map[string]string // device -> user
	conn map[string]int    // device -> its current connection
	msgs map[string]Event  // msg id -> the message as delivered
	log  map[string][]string
	skip map[string]bool // messages left out of the history
	// offset is the last clock step's: servers stamp messages with it.
	offset int64
}

func newLB() *lb {
	return &lb{user: map[string]string{}, conn: map[string]int{}, msgs: map[string]Event{},
		log: map[string][]string{}, skip: map[string]bool{}}
}

func (b *lb) add(e Event) {
	b.now += 10 * time.Millisecond
	e.T = b.now
	if e.Kind == KindClock {
		b.offset = e.Offset
	}
	b.ev = append(b.ev, e)
}

func (b *lb) wall() int64 { return testStartWall + b.now.Milliseconds() }

// stamp is a server's time now: the wall, stepped.
func (b *lb) stamp() int64 { return b.wall() + b.offset }

func (b *lb) wait(d time.Duration) { b.now += d }

func (b *lb) phase(p string) {
	b.now += 10 * time.Millisecond
	b.ev = append(b.ev, Event{T: b.now, Kind: KindPhase, Phase: p, Created: testStartWall + b.now.Milliseconds()})
}

func (b *lb) device(dev, user string, setup bool) {
	b.user[dev] = user
	b.add(Event{Kind: KindDevice, User: user, Device: dev, Setup: setup})
}

func (b *lb) open(dev string) {
	b.conn[dev]++
	b.add(Event{Kind: KindConnOpen, Device: dev, Conn: b.conn[dev]})
}

func (b *lb) close(dev string) {
	b.add(Event{Kind: KindConnClose, Device: dev, Conn: b.conn[dev], Err: "closed"})
}

// send writes a send and its ack and returns the message id.
func (b *lb) send(dev, conv string, seq int64, cmid string) string {
	content := "text " + cmid
	b.add(Event{Kind: KindSend, Device: dev, CMID: cmid, Conv: conv, Content: content, MessageType: "text"})
	id := "m-" + cmid
	b.add(Event{Kind: KindAck, Device: dev, Conn: b.conn[dev], CMID: cmid, Msg: id, Conv: conv, Seq: seq, Created: b.stamp()})
	b.stored(Event{Msg: id, Conv: conv, Seq: seq, Sender: b.user[dev], MessageType: "text", Content: content, Created: b.stamp()})
	return id
}

// system stores a membership message the server wrote.
func (b *lb) system(conv string, seq int64, event, actor, user string) string {
	id := fmt.Sprintf("sys-%s-%d", conv, seq)
	b.stored(Event{Msg: id, Conv: conv, Seq: seq, Sender: actor, MessageType: "system",
		Content: fmt.Sprintf(`{"event":%q,"actor_id":%q,"user_id":%q}`, event, actor, user), Created: b.stamp()})
	return id
}

func (b *lb) stored(m Event) {
	b.msgs[m.Msg] = m
	b.log[m.Conv] = append(b.log[m.Conv], m.Msg)
}

func (b *lb) deliver(dev, msg string) {
	e := b.msgs[msg]
	e.Kind, e.Device, e.Conn = KindDeliver, dev, b.conn[dev]
	b.add(e)
}

func (b *lb) ackSent(dev, msg string) {
	m := b.msgs[msg]
	b.add(Event{Kind: KindAckSent, Device: dev, Conn: b.conn[dev], Msg: msg, Conv: m.Conv, Seq: m.Seq})
}

func (b *lb) readSent(dev, msg string) {
	m := b.msgs[msg]
	b.add(Event{Kind: KindReadSent, Device: dev, Conn: b.conn[dev], Msg: msg, Conv: m.Conv, Seq: m.Seq})
}

func (b *lb) status(dev, msg, target, status string) {
	m := b.msgs[msg]
	b.add(Event{Kind: KindStatus, Device: dev, Conn: b.conn[dev], Msg: msg, Conv: m.Conv, Target: target, Status: status, Created: b.wall()})
}

// fanout delivers msg to devs, which ack it, and tells senderDev each
// recipient user got it.
func (b *lb) fanout(senderDev, msg string, devs ...string) {
	told := map[string]bool{}
	for _, d := range devs {
		b.deliver(d, msg)
		b.ackSent(d, msg)
	}
	for _, d := range devs {
		if u := b.user[d]; u != b.user[senderDev] && !told[u] {
			told[u] = true
			b.status(senderDev, msg, u, "delivered")
		}
	}
}

func (b *lb) fault(op string) { b.add(Event{Kind: KindFault, Op: op, Fault: "kill", Target: "0"}) }

// finish ends the run: drain, read, end, then the history of every
// conversation.
func (b *lb) finish() []Event {
	b.phase("drain")
	b.phase("read")
	b.phase("end")
	for _, conv := range sortedKeys(b.log) {
		for _, id := range b.log[conv] {
			if b.skip[id] {
				continue
			}
			h := b.msgs[id]
			h.Kind = KindHistory
			b.add(h)
		}
	}
	return b.ev
}

func sortedKeys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// start: alice (a1, a2), bob (b1), carol (c1), all set up and connected;
// a 1:1 "d" of alice and bob, a group "g" of the three.
func start() *lb {
	b := newLB()
	b.phase("setup")
	for _, u := range []string{"ua", "ub", "uc"} {
		b.add(Event{Kind: KindUser, User: u, Name: u})
	}
	b.device("a1", "ua", true)
	b.device("a2", "ua", true)
	b.device("b1", "ub", true)
	b.device("c1", "uc", true)
	b.add(Event{Kind: KindConv, Conv: "d", Members: []string{"ua", "ub"}})
	b.add(Event{Kind: KindConv, Conv: "g", Group: true, Members: []string{"ua", "ub", "uc"}})
	b.phase("traffic")
	for _, d := range []string{"a1", "a2", "b1", "c1"} {
		b.open(d)
	}
	return b
}

var testCfg = CheckConfig{Retention: time.Hour, MaxGroupSize: 3}

func rulesOf(r *Report) map[string]int {
	out := map[string]int{}
	for _, v := range r.Violations {
		out[v.Rule]++
	}
	return out
}

// expectClean fails on any violation and prints the report.
func expectClean(t *testing.T, ev []Event, cfg CheckConfig) *Report {
	t.Helper()
	r := Check(ev, cfg)
	if !r.OK() {
		var buf bytes.Buffer
		r.Write(&buf)
		t.Fatalf("want no violations, got:\n%s", buf.String())
	}
	return r
}

// expectOnly fails unless rule is violated and no other rule is, but
// for the consequences allowed.
func expectOnly(t *testing.T, ev []Event, cfg CheckConfig, rule string, allowed ...string) *Report {
	t.Helper()
	r := Check(ev, cfg)
	got := rulesOf(r)
	others := 0
	for k := range got {
		if k != rule && !slices.Contains(allowed, k) {
			others++
		}
	}
	if got[rule] == 0 || others > 0 {
		var buf bytes.Buffer
		r.Write(&buf)
		t.Fatalf("want only %s violations, got %v:\n%s", rule, got, buf.String())
	}
	return r
}

func TestCheckClean(t *testing.T) {
	b := start()
	m1 := b.send("a1", "d", 1, "x1")
	b.fanout("a1", m1, "b1", "a2")
	m2 := b.send("a1", "g", 1, "x2")
	b.fanout("a1", m2, "b1", "c1", "a2")
	m3 := b.send("b1", "g", 2, "x3")
	b.fanout("b1", m3, "a1", "a2", "c1")
	b.add(Event{Kind: KindMediaCheck, Device: "b1", Msg: m2, Media: "med1", Code: "mismatch"}) // during faults: does not count
	b.phase("drain")
	b.add(Event{Kind: KindMediaCheck, Device: "b1", Msg: m2, Media: "med1"})
	b.phase("read")
	b.readSent("b1", m1)
	b.status("a1", m1, "ub", "read")
	b.phase("end")
	for _, id := range []string{m1, m2, m3} {
		h := b.msgs[id]
		h.Kind = KindHistory
		b.add(h)
	}
	r := expectClean(t, b.ev, testCfg)
	if r.Messages != 3 || r.Users != 3 || r.Devices != 4 || r.Conversations != 2 || r.Connections != 4 {
		t.Errorf("counts: %+v", r)
	}
	// m1: b1, a2; m2: b1, c1, a2; m3: a1, a2, c1.
	if r.Checked[RuleLost] != 8 {
		t.Errorf("required deliveries checked = %d, want 8", r.Checked[RuleLost])
	}
	if r.StatusesVerified != 5 {
		t.Errorf("statuses verified = %d, want 5", r.StatusesVerified)
	}
	if r.Checked[RuleMedia] != 1 {
		t.Errorf("media checks = %d, want 1", r.Checked[RuleMedia])
	}
}

// Each case builds a ledger twice: good, which must pass, and bad, which
// differs by one change and must fail under the rule.
type ruleCase struct {
	name  string
	rule  string
	cfg   CheckConfig
	build func(bad bool) []Event
}

// consequences: rules a case's bad ledger breaks as a consequence of its
// one change, and may report besides its own.
var consequences = map[string][]string{
	// a2 gets seq 1 twice on one connection; the history holds only one.
	"two messages at one seq": {RuleOrder, RuleLostAck},
}

var ruleCases = []ruleCase{
	{"same content stored twice", RuleDuplicateMessage, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		if bad {
			dup := b.msgs[m1]
			dup.Msg, dup.Seq = "m-again", 2
			b.stored(dup)
			b.deliver("b1", "m-again")
		}
		return b.finish()
	}},
	{"cmid acked as two messages", RuleDuplicateMessage, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		if bad {
			b.add(Event{Kind: KindAck, Device: "a1", Conn: 1, CMID: "x1", Msg: "m-other", Conv: "d", Seq: 2, Created: b.wall()})
		} else {
			b.add(Event{Kind: KindAck, Device: "a1", Conn: 1, CMID: "x1", Msg: m1, Conv: "d", Seq: 1, Created: b.wall()})
		}
		return b.finish()
	}},
	{"two messages at one seq", RuleDuplicateMessage, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		seq := int64(2)
		if bad {
			seq = 1
		}
		m2 := b.send("b1", "d", seq, "x2")
		b.fanout("b1", m2, "a1", "a2")
		b.skip[m2] = bad // history holds one message per seq
		return b.finish()
	}},
	{"delivered content differs", RuleContent, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		if bad {
			e := b.msgs[m1]
			e.Content += "!"
			e.Kind, e.Device, e.Conn = KindDeliver, "b1", 1
			b.add(e)
		} else {
			b.deliver("b1", m1)
		}
		b.ackSent("b1", m1)
		b.fanout("a1", m1, "a2")
		b.status("a1", m1, "ub", "delivered")
		return b.finish()
	}},
	{"delivered sender differs", RuleContent, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		if bad {
			e := b.msgs[m1]
			e.Sender = "ub"
			b.msgs[m1] = e
		}
		b.fanout("a1", m1, "b1", "a2")
		return b.finish()
	}},
	{"acked message missing from history", RuleLostAck, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		m2 := b.send("a1", "d", 2, "x2")
		b.fanout("a1", m2, "b1", "a2")
		b.skip[m1] = bad
		return b.finish()
	}},
	{"history out of order", RuleHistory, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		m2 := b.send("a1", "d", 2, "x2")
		b.fanout("a1", m2, "b1", "a2")
		if bad {
			b.log["d"] = []string{m2, m1}
		}
		return b.finish()
	}},
	{"message never delivered", RuleLost, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "g", 1, "x1")
		if bad {
			b.fanout("a1", m1, "b1", "a2")
		} else {
			b.fanout("a1", m1, "b1", "a2", "c1")
		}
		return b.finish()
	}},
	{"other device of the sender never got it", RuleLost, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		if bad {
			b.fanout("a1", m1, "b1")
		} else {
			b.fanout("a1", m1, "b1", "a2")
		}
		return b.finish()
	}},
	{"delivered twice on one connection", RuleDuplicateDelivery, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		if bad {
			b.deliver("b1", m1)
		}
		return b.finish()
	}},
	{"redelivered after a settled ack", RuleDuplicateDelivery, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		b.wait(5 * time.Second)
		b.close("b1")
		b.open("b1")
		if bad {
			b.deliver("b1", m1)
		}
		return b.finish()
	}},
	{"out of order on a connection", RuleOrder, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		m2 := b.send("a1", "d", 2, "x2")
		if bad {
			b.fanout("a1", m2, "b1")
			b.fanout("a1", m1, "b1")
		} else {
			b.fanout("a1", m1, "b1")
			b.fanout("a1", m2, "b1")
		}
		b.fanout("a1", m1, "a2")
		b.fanout("a1", m2, "a2")
		return b.finish()
	}},
	{"gap filled only on a later connection", RuleOrder, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		m2 := b.send("a1", "d", 2, "x2")
		m3 := b.send("a1", "d", 3, "x3")
		b.fanout("a1", m1, "b1", "a2")
		if !bad {
			b.fanout("a1", m2, "b1")
		}
		b.fanout("a1", m3, "b1")
		b.close("b1")
		b.open("b1")
		if bad {
			b.fanout("a1", m2, "b1")
		}
		b.fanout("a1", m2, "a2")
		b.fanout("a1", m3, "a2")
		return b.finish()
	}},
	{"gap at a message that had not expired", RuleOrder, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		m2 := b.send("a1", "d", 2, "x2")
		b.fanout("a1", m1, "b1", "a2")
		b.fanout("a1", m2, "a2")
		b.status("a1", m2, "ub", "expired")
		if !bad {
			// m1 and m2 pass the retention period before the end: b1
			// may go from m1 to m3.
			b.wait(2 * time.Hour)
			b.skip[m1], b.skip[m2] = true, true
		}
		m3 := b.send("a1", "d", 3, "x3")
		b.fanout("a1", m3, "b1", "a2")
		return b.finish()
	}},
	{"delivered to a removed member", RuleMembership, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "g", 1, "x1")
		b.fanout("a1", m1, "b1", "c1", "a2")
		rm := b.system("g", 2, "member_removed", "ua", "uc")
		b.fanout("a1", rm, "a1", "a2", "b1")
		// c1 is not required m3: it was removed.
		m3 := b.send("a1", "g", 3, "x3")
		b.fanout("a1", m3, "b1", "a2")
		if bad {
			b.fanout("a1", m3, "c1")
		}
		return b.finish()
	}},
	{"accepted from a removed member", RuleMembership, testCfg, func(bad bool) []Event {
		b := start()
		rm := b.system("g", 1, "member_removed", "ua", "uc")
		b.fanout("a1", rm, "a1", "a2", "b1")
		if bad {
			m2 := b.send("c1", "g", 2, "x2")
			b.fanout("c1", m2, "a1", "a2", "b1")
		}
		return b.finish()
	}},
	{"group over its limit", RuleGroupLimit, testCfg, func(bad bool) []Event {
		b := start()
		b.add(Event{Kind: KindUser, User: "ud", Name: "ud"})
		if bad {
			add := b.system("g", 1, "member_added", "ua", "ud")
			b.fanout("a1", add, "a1", "a2", "b1", "c1")
		} else {
			rm := b.system("g", 1, "member_removed", "ua", "uc")
			b.fanout("a1", rm, "a1", "a2", "b1")
			add := b.system("g", 2, "member_added", "ua", "ud")
			b.fanout("a1", add, "a1", "a2", "b1")
		}
		return b.finish()
	}},
	{"delivered past retention", RuleExpiredDelivery, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "a2")
		if !bad {
			b.fanout("a1", m1, "b1")
		}
		b.add(Event{Kind: KindClock, Offset: (2 * time.Hour).Milliseconds()})
		b.close("b1")
		b.open("b1")
		if bad {
			b.fanout("a1", m1, "b1")
		}
		return b.finish()
	}},
	{"status before any delivery", RuleReceipt, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		if bad {
			b.status("a1", m1, "ub", "delivered")
		}
		b.fanout("a1", m1, "b1", "a2")
		return b.finish()
	}},
	{"no delivered status", RuleReceipt, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "a2")
		b.deliver("b1", m1)
		b.ackSent("b1", m1)
		if !bad {
			b.status("a2", m1, "ub", "delivered") // any device of the sender will do
		}
		return b.finish()
	}},
	{"no read status", RuleReceipt, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		b.phase("drain")
		b.phase("read")
		b.readSent("b1", m1)
		if !bad {
			b.status("a1", m1, "ub", "read")
		}
		b.phase("end")
		return b.ev
	}},
	{"media mismatch after the faults", RuleMedia, testCfg, func(bad bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		b.phase("drain")
		code := ""
		if bad {
			code = "mismatch"
		}
		b.add(Event{Kind: KindMediaCheck, Device: "b1", Msg: m1, Media: "med1", Code: code})
		b.phase("read")
		b.phase("end")
		return b.ev
	}},
	{"offline while connected", RulePresence, testCfg, func(bad bool) []Event {
		b := start()
		b.phase("drain")
		b.phase("read")
		b.phase("end")
		status := "online"
		if bad {
			status = "offline"
		}
		b.add(Event{Kind: KindPresence, User: "ua", Status: status})
		// Bob's only device has gone: his offline is no violation.
		b.close("b1")
		b.add(Event{Kind: KindPresence, User: "ub", Status: "offline"})
		return b.ev
	}},
}

func TestCheckRules(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range ruleCases {
		seen[tc.rule] = true
		t.Run(tc.name, func(t *testing.T) {
			expectClean(t, tc.build(false), tc.cfg)
			expectOnly(t, tc.build(true), tc.cfg, tc.rule, consequences[tc.name]...)
		})
	}
	for _, rule := range ruleOrder {
		if !seen[rule] {
			t.Errorf("no case for rule %s", rule)
		}
	}
}

// Each excuse turns a loss into no violation; without it the same ledger
// fails as lost.
func TestCheckExcuses(t *testing.T) {
	cases := []struct {
		name  string
		build func(excused bool) []Event
	}{
		{"expired status", func(excused bool) []Event {
			b := start()
			m1 := b.send("a1", "g", 1, "x1")
			b.fanout("a1", m1, "b1", "a2")
			if excused {
				b.status("a2", m1, "uc", "expired")
			}
			return b.finish()
		}},
		{"device logged in after the send", func(excused bool) []Event {
			b := start()
			if !excused {
				b.device("c2", "uc", false)
			}
			m1 := b.send("a1", "g", 1, "x1")
			b.fanout("a1", m1, "b1", "c1", "a2")
			if excused {
				b.device("c2", "uc", false)
			}
			return b.finish()
		}},
		{"retired device", func(excused bool) []Event {
			b := start()
			m1 := b.send("a1", "g", 1, "x1")
			b.fanout("a1", m1, "b1", "a2")
			if excused {
				b.add(Event{Kind: KindRetire, Device: "c1"})
			}
			return b.finish()
		}},
		{"removed before the send", func(excused bool) []Event {
			b := start()
			if excused {
				rm := b.system("g", 1, "member_removed", "ua", "uc")
				b.fanout("a1", rm, "a1", "a2", "b1")
			}
			seq := int64(1)
			if excused {
				seq = 2
			}
			m := b.send("a1", "g", seq, "x1")
			b.fanout("a1", m, "b1", "a2")
			return b.finish()
		}},
		{"added again since (a removal alone is no excuse)", func(excused bool) []Event {
			b := start()
			b.close("c1")
			m1 := b.send("a1", "g", 1, "x1")
			b.fanout("a1", m1, "b1", "a2")
			rm := b.system("g", 2, "member_removed", "ua", "uc")
			b.fanout("a1", rm, "a1", "a2", "b1")
			if excused {
				add := b.system("g", 3, "member_added", "ua", "uc")
				b.fanout("a1", add, "a1", "a2", "b1")
			}
			b.open("c1")
			return b.finish()
		}},
		{"may have expired, another device of the user got it", func(excused bool) []Event {
			b := start()
			b.device("b2", "ub", true)
			b.open("b2")
			m1 := b.send("a1", "d", 1, "x1")
			b.fanout("a1", m1, "b1", "a2")
			if excused {
				b.add(Event{Kind: KindClock, Offset: (2 * time.Hour).Milliseconds()})
			}
			return b.finish()
		}},
		{"may have expired, sent by the user's other device", func(excused bool) []Event {
			b := start()
			m1 := b.send("a1", "d", 1, "x1")
			b.fanout("a1", m1, "b1")
			if excused {
				b.add(Event{Kind: KindClock, Offset: (2 * time.Hour).Milliseconds()})
			}
			return b.finish()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectClean(t, tc.build(true), testCfg)
			expectOnly(t, tc.build(false), testCfg, RuleLost)
		})
	}
}

// TestCheckExpiredAtAck: a message stamped before a clock step that took
// it past retention, and acked after the step, is owed to nobody.
func TestCheckExpiredAtAck(t *testing.T) {
	build := func(stepBeforeAck bool) []Event {
		b := start()
		b.close("b1")
		b.add(Event{Kind: KindSend, Device: "a1", CMID: "x1", Conv: "d", Content: "text x1", MessageType: "text"})
		created := b.wall()
		if stepBeforeAck {
			b.add(Event{Kind: KindClock, Offset: (2 * time.Hour).Milliseconds()})
		}
		b.wait(time.Second)
		b.add(Event{Kind: KindAck, Device: "a1", Conn: b.conn["a1"], CMID: "x1", Msg: "m-x1", Conv: "d", Seq: 1, Created: created})
		b.stored(Event{Msg: "m-x1", Conv: "d", Seq: 1, Sender: "ua", MessageType: "text", Content: "text x1", Created: created})
		b.fanout("a1", "m-x1", "a2")
		if !stepBeforeAck {
			b.add(Event{Kind: KindClock, Offset: (2 * time.Hour).Milliseconds()})
		}
		b.open("b1")
		return b.finish()
	}
	if r := expectClean(t, build(true), testCfg); r.ExpiredAtAck != 1 {
		t.Fatalf("ExpiredAtAck = %d, want 1", r.ExpiredAtAck)
	}
	// Stepped after its ack: b1 is owed it, and the sender's other
	// device's copy does not excuse b1 (another user).
	expectOnly(t, build(false), testCfg, RuleLost)
}

// TestCheckExpiredDeliveryFromTheDial: a connection whose dial began
// before a clock step may be served its queue before the step, even if
// the client hears of the upgrade after it.
func TestCheckExpiredDeliveryFromTheDial(t *testing.T) {
	build := func(dialedBefore bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "a2")
		b.close("b1")
		b.wait(10 * time.Millisecond)
		before := b.now
		b.wait(10 * time.Millisecond)
		b.add(Event{Kind: KindClock, Offset: (2 * time.Hour).Milliseconds()})
		b.wait(10 * time.Millisecond)
		dialed := b.now
		if dialedBefore {
			dialed = before
		}
		b.wait(10 * time.Millisecond)
		b.conn["b1"]++
		b.add(Event{Kind: KindConnOpen, Device: "b1", Conn: b.conn["b1"], Dialed: dialed})
		b.fanout("a1", m1, "b1")
		return b.finish()
	}
	expectClean(t, build(true), testCfg)
	expectOnly(t, build(false), testCfg, RuleExpiredDelivery)
}

// The server may not have processed an ack when a fault came near it or
// its connection closed soon after: sending the message again is then the
// protocol. Only a settled ack makes a redelivery a duplicate.
func TestCheckRedeliveryUnsettled(t *testing.T) {
	cases := []struct {
		name    string
		fault   bool
		hold    time.Duration
		allowed bool
	}{
		{"settled", false, 4 * time.Second, false},
		{"fault before the close", true, 4 * time.Second, true},
		{"closed too soon", false, 2 * time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := start()
			m1 := b.send("a1", "d", 1, "x1")
			b.fanout("a1", m1, "b1", "a2")
			b.wait(tc.hold / 2)
			if tc.fault {
				b.fault("start")
			}
			b.wait(tc.hold / 2)
			b.close("b1")
			b.open("b1")
			b.deliver("b1", m1)
			ev := b.finish()
			if tc.allowed {
				expectClean(t, ev, testCfg)
			} else {
				expectOnly(t, ev, testCfg, RuleDuplicateDelivery)
			}
		})
	}
}

// A node paused well before the ack and resumed after the close never
// read it: a fault under way all along unsettles it too.
func TestCheckRedeliveryUnderAFault(t *testing.T) {
	build := func(fault bool) []Event {
		b := start()
		if fault {
			b.fault("start")
		}
		b.wait(5 * time.Second)
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		b.wait(4 * time.Second)
		b.close("b1")
		b.wait(2 * time.Second)
		if fault {
			b.fault("end")
		}
		b.open("b1")
		b.deliver("b1", m1)
		return b.finish()
	}
	expectClean(t, build(true), testCfg)
	expectOnly(t, build(false), testCfg, RuleDuplicateDelivery)
}

// A connection the device dropped for want of an ack had a server that
// stopped answering: its last acks are not settled.
func TestCheckRedeliveryAfterAStall(t *testing.T) {
	build := func(stalled bool) []Event {
		b := start()
		m1 := b.send("a1", "d", 1, "x1")
		b.fanout("a1", m1, "b1", "a2")
		b.wait(4 * time.Second)
		e := Event{Kind: KindConnClose, Device: "b1", Conn: b.conn["b1"], Err: "closed"}
		if stalled {
			e.Code = CodeStalled
		}
		b.add(e)
		b.open("b1")
		b.deliver("b1", m1)
		return b.finish()
	}
	expectClean(t, build(true), testCfg)
	expectOnly(t, build(false), testCfg, RuleDuplicateDelivery)
}

func TestCheckCapsViolations(t *testing.T) {
	b := start()
	for i := range maxViolationsPerRule + 7 {
		m := b.send("a1", "g", int64(i+1), fmt.Sprintf("x%d", i))
		b.fanout("a1", m, "b1", "a2")
	}
	r := expectOnly(t, b.finish(), testCfg, RuleLost)
	if len(r.Violations) != maxViolationsPerRule || r.Dropped[RuleLost] != 7 || r.Count(RuleLost) != maxViolationsPerRule+7 {
		t.Fatalf("kept %d, dropped %d", len(r.Violations), r.Dropped[RuleLost])
	}
}

func TestReportWrite(t *testing.T) {
	b := start()
	m1 := b.send("a1", "g", 1, "x1")
	b.fanout("a1", m1, "b1", "a2")
	ev := b.finish()
	r := expectOnly(t, ev, testCfg, RuleLost)
	var buf bytes.Buffer
	r.Write(&buf)
	out := buf.String()
	var ack Event
	for _, e := range ev {
		if e.Kind == KindAck {
			ack = e
		}
	}
	for _, want := range []string{"FAIL", "[lost] c1 (user uc) never received m-x1", FormatEvent(ack), "    0.170s ack "} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	buf.Reset()
	Check(nil, testCfg).Write(&buf)
	if !strings.HasPrefix(buf.String(), "chaos check: OK") {
		t.Errorf("empty report: %s", buf.String())
	}
}

func TestReadLedgerRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	l := NewLedger(&buf)
	for _, e := range start().finish() {
		l.Add(e)
	}
	l.Add(Event{Kind: KindConv, Conv: "g2", Group: true, Members: []string{"ua", "ub"}})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLedger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := l.Events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %v\nwant %v", got, want)
	}
	if _, err := ReadLedger(strings.NewReader("{\"t\":1}\n{oops")); err == nil {
		t.Fatal("a broken line read without error")
	}
}

// A clock step deletes the early log, membership changes with it: the
// snapshot read before the step is what tells the checker that carol was
// removed, and so must not receive what followed.
func TestCheckSnapshotKeepsMembership(t *testing.T) {
	build := func(snapshot bool) []Event {
		b := start()
		// No device was on to receive the removal before it expired.
		rm := b.system("g", 1, "member_removed", "ua", "uc")
		b.skip[rm] = true // expired by the step: gone from the end history
		if snapshot {
			h := b.msgs[rm]
			h.Kind, h.Phase = KindHistory, PhaseSnapshot
			b.add(h)
		}
		b.add(Event{Kind: KindClock, Offset: (2 * time.Hour).Milliseconds()})
		m := b.send("a1", "g", 2, "x1")
		b.fanout("a1", m, "b1", "a2")
		return b.finish()
	}
	expectClean(t, build(true), testCfg)
	// Without it carol looks a member still, who never got message 2.
	expectOnly(t, build(false), testCfg, RuleLost)
}
