package chaos

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// CheckConfig is what the checker must know of the servers a run drove.
type CheckConfig struct {
	Retention    time.Duration // the servers' --retention; 0: nothing expires
	MaxGroupSize int           // --max-group-size; 0: not checked
	Slack        time.Duration // tolerance for clock comparisons (default 5s if 0)
}

// The rules, in the order a report prints them.
const (
	RuleDuplicateMessage  = "duplicate_message"
	RuleContent           = "content"
	RuleLostAck           = "lost_ack"
	RuleHistory           = "history"
	RuleLost              = "lost"
	RuleDuplicateDelivery = "duplicate_delivery"
	RuleOrder             = "order"
	RuleMembership        = "membership"
	RuleGroupLimit        = "group_limit"
	RuleExpiredDelivery   = "expired_delivery"
	RuleReceipt           = "receipt"
	RuleMedia             = "media"
	RulePresence          = "presence"
)

var ruleOrder = []string{
	RuleDuplicateMessage, RuleContent, RuleLostAck, RuleHistory, RuleLost,
	RuleDuplicateDelivery, RuleOrder, RuleMembership, RuleGroupLimit,
	RuleExpiredDelivery, RuleReceipt, RuleMedia, RulePresence,
}

const (
	// maxViolationsPerRule bounds what a systematic bug prints; the rest
	// are only counted.
	maxViolationsPerRule = 50
	// maxViolationEvents bounds the history printed under one violation.
	maxViolationEvents = 20
	// settleHold is how long a connection must stay open after a
	// delivery_ack for the server to have surely processed it.
	settleHold = 3 * time.Second
	// faultMargin: a fault this close to an ack may have lost it.
	faultMargin = time.Second
	// lostContext: faults this close to a lost message's ack are shown
	// with it.
	lostContext = 10 * time.Second
)

const noSeq = int64(math.MaxInt64)

// The ledger's vocabulary the checker reads: wire status names, the
// system message type and its membership events, the phases.
const (
	statusDelivered = "delivered"
	statusRead      = "read"
	statusExpired   = "expired"
	typeSystem      = "system"

	phaseDrain = "drain"
	phaseRead  = "read"
	phaseEnd   = "end"
)

type devState struct {
	label, user string
	setup       bool
	login       time.Duration
	idx         int
	retired     bool
	conns       []*connection // in order of opening
}

type connection struct {
	n           int
	open, close int // event indices, -1 if not seen
}

// window: the user is a member for from < seq < to.
type window struct {
	from, to       int64
	fromIdx, toIdx int // the events that opened and closed it, -1 if none
}

type conversation struct {
	id      string
	known   bool // a KindConv event described it
	group   bool
	idx     int
	members []string
	log     map[int64]*message
	seqs    []int64 // sorted keys of log
	windows map[string][]window
	ever    []string // users that are members at some seq, sorted
	history []int
}

// message is one entry of a conversation log as every observation of it
// agrees (the first one wins; disagreements are violations).
type message struct {
	id, conv string
	seq      int64
	sender   string // user id
	system   bool
	content  string // the send's content for workload messages, else the first seen
	created  int64
	idx      int // first event that showed it
	cmid     string
	ack      int // first ack, -1 if not acked
	send     int // first send of its cmid, -1 if unknown
	sendDev  string
}

type devMsg struct{ dev, msg string }
type devConn struct {
	dev  string
	conn int
}
type devConnMsg struct {
	dev  string
	conn int
	msg  string
}
type devConv struct{ dev, conv string }
type userConv struct{ user, conv string }

// statusKey: a status about msg and target that a device of user got.
type statusKey struct{ user, msg, target string }

type statusSeen struct{ delivered, read, expired int } // event indices, -1 if none

type seqAt struct {
	seq int64
	idx int
}

type checker struct {
	spans [][2]time.Duration // each fault's start and end, made on first use
	cfg   CheckConfig
	ev    []Event
	r     *Report

	haveWall  bool
	startWall int64
	wallEnd   int64
	phase     map[string]int // first event of each phase
	clocks    []int
	oMax      int64
	faults    []int

	users     map[string]bool
	devices   map[string]*devState
	userDevs  map[string][]*devState
	convs     map[string]*conversation
	msgs      map[string]*message
	acked     []*message // in order of first ack
	ackByCMID map[string]int
	firstSend map[string]int
	byContent map[string]int // content -> first send carrying it

	delivered map[devMsg]int // first delivery
	userGot   map[devMsg]bool
	statuses  map[statusKey]*statusSeen
	readSent  map[userConv]seqAt // highest read_receipt from the read phase on
}

// Check proves from the ledger alone what the servers promise
// (docs/PROTOCOL.md §3 "Removed means removed", §4) and lists every
// violation with the events that show it. The Rule constants name the
// promises; a rule whose inputs the ledger lacks (no history, no phase
// carrying the wall clock, a conversation with no KindConv) is skipped
// for them, never guessed.
func Check(events []Event, cfg CheckConfig) *Report {
	if cfg.Slack == 0 {
		cfg.Slack = 5 * time.Second
	}
	ev := append([]Event(nil), events...)
	// The generator's goroutines stamp T before taking the ledger's lock,
	// so lines can be slightly out of order.
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].T < ev[j].T })
	c := &checker{
		cfg: cfg, ev: ev, r: newReport(),
		phase:     map[string]int{},
		users:     map[string]bool{},
		devices:   map[string]*devState{},
		userDevs:  map[string][]*devState{},
		convs:     map[string]*conversation{},
		msgs:      map[string]*message{},
		ackByCMID: map[string]int{},
		firstSend: map[string]int{},
		byContent: map[string]int{},
		delivered: map[devMsg]int{},
		userGot:   map[devMsg]bool{},
		statuses:  map[statusKey]*statusSeen{},
		readSent:  map[userConv]seqAt{},
	}
	c.build()
	c.linkSends()
	c.checkContent()
	c.buildMembership()
	c.checkLog()
	c.checkHistory()
	req := c.checkRequired()
	c.replay(req)
	c.checkReceiptsAfter()
	c.checkMedia()
	c.checkPresence()
	return c.r
}

// checkPresence: a user with a connection open when its presence was
// asked at the end is online, whatever node it is on and whatever Redis
// lost in a restart (each node registers its connections again).
func (c *checker) checkPresence() {
	for i := range c.ev {
		e := &c.ev[i]
		if e.Kind != KindPresence {
			continue
		}
		c.r.Checked[RulePresence]++
		if e.Status == "online" {
			continue
		}
		for _, d := range c.userDevs[e.User] {
			for _, cn := range d.conns {
				if cn.open >= 0 && cn.open < i && (cn.close < 0 || cn.close > i) {
					c.violate(RulePresence, fmt.Sprintf("%s is %q at the end while %s's connection %d is open",
						e.User, e.Status, d.label, cn.n), cn.open, i)
					return
				}
			}
		}
	}
}

func (c *checker) wall(t time.Duration) int64 { return c.startWall + t.Milliseconds() }

// offsetAt is the clock offset every node had applied by t.
func (c *checker) offsetAt(t time.Duration) (int64, int) {
	i := sort.Search(len(c.clocks), func(i int) bool { return c.ev[c.clocks[i]].T > t })
	if i == 0 {
		return 0, -1
	}
	return c.ev[c.clocks[i-1]].Offset, c.clocks[i-1]
}

// mayHaveExpired: by the end some node's clock may have put m past the
// retention period.
func (c *checker) mayHaveExpired(m *message) bool {
	if c.cfg.Retention <= 0 || !c.haveWall || m.created == 0 {
		return false
	}
	return m.created+c.cfg.Retention.Milliseconds() <= c.wallEnd+c.oMax+c.cfg.Slack.Milliseconds()
}

// expiredAtAck: m was already past retention, by a clock every node had
// stepped, when its ack came. Nobody is owed it: a node may skip it, and
// acks of later messages may pass it before the cleanup would have told
// its sender "expired".
func (c *checker) expiredAtAck(m *message) bool {
	if c.cfg.Retention <= 0 || !c.haveWall || m.created == 0 || m.ack < 0 {
		return false
	}
	t := c.ev[m.ack].T
	off, _ := c.offsetAt(t)
	return m.created+c.cfg.Retention.Milliseconds()+c.cfg.Slack.Milliseconds() < c.wall(t)+off
}

func (c *checker) conv(id string) *conversation {
	cv := c.convs[id]
	if cv == nil {
		cv = &conversation{id: id, idx: -1, log: map[int64]*message{}}
		c.convs[id] = cv
	}
	return cv
}

func (c *checker) userOf(dev string) string {
	if d := c.devices[dev]; d != nil {
		return d.user
	}
	return ""
}

func (c *checker) conn(dev string, n int) *connection {
	d := c.devices[dev]
	if d == nil {
		return nil
	}
	for i := len(d.conns) - 1; i >= 0; i-- {
		if d.conns[i].n == n {
			return d.conns[i]
		}
	}
	return nil
}

// build reads every event once and reconstructs devices, connections and
// the conversation logs.
func (c *checker) build() {
	for i := range c.ev {
		e := &c.ev[i]
		switch e.Kind {
		case KindPhase:
			if _, ok := c.phase[e.Phase]; !ok {
				c.phase[e.Phase] = i
			}
			if e.Created != 0 && !c.haveWall {
				c.haveWall, c.startWall = true, e.Created-e.T.Milliseconds()
			}
		case KindUser:
			c.users[e.User] = true
		case KindDevice:
			if c.devices[e.Device] == nil {
				d := &devState{label: e.Device, user: e.User, setup: e.Setup, login: e.T, idx: i}
				c.devices[e.Device] = d
				c.userDevs[e.User] = append(c.userDevs[e.User], d)
			}
		case KindRetire:
			if d := c.devices[e.Device]; d != nil && !d.retired {
				d.retired = true
				c.r.Retired++
			}
		case KindConv:
			cv := c.conv(e.Conv)
			cv.known, cv.group, cv.idx, cv.members = true, e.Group, i, e.Members
		case KindConnOpen:
			if d := c.devices[e.Device]; d != nil {
				d.conns = append(d.conns, &connection{n: e.Conn, open: i, close: -1})
				c.r.Connections++
			}
		case KindConnClose:
			if cn := c.conn(e.Device, e.Conn); cn != nil && cn.close < 0 {
				cn.close = i
			}
		case KindSend:
			if _, ok := c.firstSend[e.CMID]; !ok {
				c.firstSend[e.CMID] = i
			}
			if _, ok := c.byContent[e.Content]; !ok {
				c.byContent[e.Content] = i
			}
		case KindAck:
			c.onAck(i)
		case KindDeliver:
			c.r.Deliveries++
			c.observe(i)
			k := devMsg{e.Device, e.Msg}
			if _, ok := c.delivered[k]; !ok {
				c.delivered[k] = i
			}
			c.userGot[devMsg{c.userOf(e.Device), e.Msg}] = true
		case KindHistory:
			c.observe(i)
			// A snapshot taken before a clock step only keeps the log's
			// record (its membership changes above all) that the step
			// may delete; the rules on history read the end's.
			if e.Phase != PhaseSnapshot {
				cv := c.conv(e.Conv)
				cv.history = append(cv.history, i)
			}
		case KindStatus:
			c.r.Statuses++
			k := statusKey{c.userOf(e.Device), e.Msg, e.Target}
			s := c.statuses[k]
			if s == nil {
				s = &statusSeen{-1, -1, -1}
				c.statuses[k] = s
			}
			switch e.Status {
			case statusDelivered:
				setFirst(&s.delivered, i)
			case statusRead:
				setFirst(&s.read, i)
			case statusExpired:
				setFirst(&s.expired, i)
			}
		case KindReadSent:
			if p, ok := c.phase[phaseRead]; ok && i > p {
				k := userConv{c.userOf(e.Device), e.Conv}
				if r, ok := c.readSent[k]; !ok || e.Seq > r.seq {
					c.readSent[k] = seqAt{e.Seq, i}
				}
			}
		case KindFault:
			c.faults = append(c.faults, i)
			if e.Op == "start" {
				c.r.Faults++
			}
		case KindClock:
			c.clocks = append(c.clocks, i)
			c.r.ClockSteps++
			c.oMax = max(c.oMax, e.Offset)
		}
	}
	c.r.Users = len(c.users)
	c.r.Devices = len(c.devices)
	c.r.Conversations = len(c.convs)
	if p, ok := c.phase[phaseEnd]; ok {
		c.wallEnd = c.wall(c.ev[p].T)
	} else if len(c.ev) > 0 {
		c.wallEnd = c.wall(c.ev[len(c.ev)-1].T)
	}
}

func setFirst(p *int, i int) {
	if *p < 0 {
		*p = i
	}
}

func (c *checker) onAck(i int) {
	e := &c.ev[i]
	if first, ok := c.ackByCMID[e.CMID]; ok {
		f := &c.ev[first]
		if f.Msg != e.Msg || f.Seq != e.Seq || f.Conv != e.Conv {
			c.violate(RuleDuplicateMessage, fmt.Sprintf("cmid %s acked twice as different messages: %s (%s seq %d) and %s (%s seq %d)",
				e.CMID, f.Msg, f.Conv, f.Seq, e.Msg, e.Conv, e.Seq), c.sendOf(e.CMID), first, i)
		}
		return
	}
	c.ackByCMID[e.CMID] = i
	m := c.observe(i)
	if m.ack < 0 {
		m.ack, m.cmid = i, e.CMID
		m.created = e.Created
		c.acked = append(c.acked, m)
	}
}

func (c *checker) sendOf(cmid string) int {
	if i, ok := c.firstSend[cmid]; ok {
		return i
	}
	return -1
}

// observe adds what event i shows of a message to its conversation log.
func (c *checker) observe(i int) *message {
	e := &c.ev[i]
	cv := c.conv(e.Conv)
	m := c.msgs[e.Msg]
	if m == nil {
		m = &message{id: e.Msg, conv: e.Conv, seq: e.Seq, idx: i, ack: -1, send: -1}
		c.msgs[e.Msg] = m
		if other := cv.log[e.Seq]; other != nil {
			c.violate(RuleDuplicateMessage, fmt.Sprintf("%s seq %d holds two messages: %s and %s", e.Conv, e.Seq, other.id, e.Msg),
				other.idx, other.ack, i)
		} else {
			cv.log[e.Seq] = m
		}
	} else if m.conv != e.Conv || m.seq != e.Seq {
		c.violate(RuleDuplicateMessage, fmt.Sprintf("message %s seen as %s seq %d and as %s seq %d", e.Msg, m.conv, m.seq, e.Conv, e.Seq),
			m.idx, m.ack, i)
		return m
	}
	if e.Kind == KindAck {
		return m
	}
	if m.sender == "" {
		m.sender = e.Sender
	}
	if m.created == 0 {
		m.created = e.Created
	}
	if e.MessageType == typeSystem {
		if !m.system && m.content != "" {
			return m
		}
		// A system message has no send to compare against: observations
		// must agree with one another.
		if m.system && m.content != e.Content {
			c.violate(RuleDuplicateMessage, fmt.Sprintf("system message %s (%s seq %d) seen with two contents", m.id, m.conv, m.seq), m.idx, i)
		}
		m.system = true
	}
	if m.content == "" {
		m.content = e.Content
	}
	return m
}

// linkSends ties every acked message to the send that made it: its
// content and sending device come from there, not from what was
// delivered.
func (c *checker) linkSends() {
	for _, m := range c.acked {
		c.r.Messages++
		if s, ok := c.firstSend[m.cmid]; ok {
			m.send, m.sendDev, m.content = s, c.ev[s].Device, c.ev[s].Content
		} else {
			m.sendDev = c.ev[m.ack].Device
		}
		m.sender = c.userOf(m.sendDev)
		m.system = false
	}
}

func (c *checker) checkContent() {
	for i := range c.ev {
		e := &c.ev[i]
		if (e.Kind != KindDeliver && e.Kind != KindHistory) || e.MessageType == typeSystem {
			continue
		}
		c.r.Checked[RuleContent]++
		m := c.msgs[e.Msg]
		send := -1
		if m != nil && m.ack >= 0 {
			send = m.send
		} else if s, ok := c.byContent[e.Content]; ok {
			// Stored but its ack never arrived: the content (which holds
			// the cmid) still names its send.
			send = s
		} else {
			c.violate(RuleContent, fmt.Sprintf("%s %s (%s seq %d) matches no send", e.Kind, e.Msg, e.Conv, e.Seq), i)
			continue
		}
		if send < 0 {
			continue
		}
		s := &c.ev[send]
		if e.Content != s.Content {
			c.violate(RuleContent, fmt.Sprintf("%s %s (%s seq %d) content %q differs from its send's %q",
				e.Kind, e.Msg, e.Conv, e.Seq, clip(e.Content), clip(s.Content)), send, ackIdx(m), i)
		}
		if u := c.userOf(s.Device); e.Sender != u {
			c.violate(RuleContent, fmt.Sprintf("%s %s (%s seq %d) names sender %s, sent by %s's device %s",
				e.Kind, e.Msg, e.Conv, e.Seq, e.Sender, u, s.Device), c.devices[s.Device].idx, send, ackIdx(m), i)
		}
	}
}

func ackIdx(m *message) int {
	if m == nil {
		return -1
	}
	return m.ack
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

type systemContent struct {
	Event  string `json:"event"`
	UserID string `json:"user_id"`
}

// buildMembership replays each group's system messages in seq order:
// membership is what the log says, not what the membership calls
// returned.
func (c *checker) buildMembership() {
	for _, cv := range c.convs {
		cv.seqs = make([]int64, 0, len(cv.log))
		for s := range cv.log {
			cv.seqs = append(cv.seqs, s)
		}
		sort.Slice(cv.seqs, func(i, j int) bool { return cv.seqs[i] < cv.seqs[j] })
		if !cv.known || !cv.group {
			continue
		}
		c.r.Checked[RuleGroupLimit]++
		cv.windows = map[string][]window{}
		size := 0
		for _, u := range cv.members {
			if _, ok := cv.windows[u]; !ok {
				cv.windows[u] = []window{{from: 0, to: noSeq, fromIdx: cv.idx, toIdx: -1}}
				size++
			}
		}
		c.checkSize(cv, size, 0)
		for _, s := range cv.seqs {
			m := cv.log[s]
			if !m.system {
				continue
			}
			var sc systemContent
			if json.Unmarshal([]byte(m.content), &sc) != nil || sc.UserID == "" {
				continue
			}
			ws := cv.windows[sc.UserID]
			open := len(ws) > 0 && ws[len(ws)-1].to == noSeq
			switch sc.Event {
			case "member_added", "member_joined":
				if !open {
					cv.windows[sc.UserID] = append(ws, window{from: s, to: noSeq, fromIdx: m.idx, toIdx: -1})
					size++
					c.checkSize(cv, size, s)
				}
			case "member_removed", "member_left", "account_deleted":
				if open {
					ws[len(ws)-1].to, ws[len(ws)-1].toIdx = s, m.idx
					size--
				}
			}
		}
	}
}

func (c *checker) checkSize(cv *conversation, size int, seq int64) {
	if c.cfg.MaxGroupSize <= 0 || size <= c.cfg.MaxGroupSize {
		return
	}
	idx := []int{cv.idx}
	for _, ws := range cv.windows {
		for _, w := range ws {
			if w.from <= seq && w.to > seq && w.fromIdx != cv.idx {
				idx = append(idx, w.fromIdx)
			}
		}
	}
	c.violate(RuleGroupLimit, fmt.Sprintf("%s has %d members after seq %d, limit %d", cv.id, size, seq, c.cfg.MaxGroupSize), idx...)
}

// member: is user a member of cv at seq? A conversation with no KindConv
// event is unknown and everyone passes.
func (cv *conversation) member(user string, seq int64) bool {
	if !cv.known {
		return true
	}
	if !cv.group {
		for _, u := range cv.members {
			if u == user {
				return true
			}
		}
		return false
	}
	for _, w := range cv.windows[user] {
		if w.from < seq && seq < w.to {
			return true
		}
	}
	return false
}

// rejoinedAfter: was user added to cv again, in a later membership
// window than the one holding seq?
func (cv *conversation) rejoinedAfter(user string, seq int64) bool {
	if !cv.known || !cv.group {
		return false
	}
	for _, w := range cv.windows[user] {
		if w.from > seq {
			return true
		}
	}
	return false
}

// everMembers: the users that are members at some seq.
func (cv *conversation) everMembers() []string {
	if !cv.group {
		return cv.members
	}
	if cv.ever == nil {
		cv.ever = make([]string, 0, len(cv.windows))
		for u := range cv.windows {
			cv.ever = append(cv.ever, u)
		}
		sort.Strings(cv.ever)
	}
	return cv.ever
}

// memberSince: user has been a member from seq on, without a break, to
// the end. A member removed and added again reads, and is tracked, from
// its new addition only.
func (cv *conversation) memberSince(user string, seq int64) bool {
	if !cv.group {
		return cv.member(user, seq)
	}
	ws := cv.windows[user]
	return len(ws) > 0 && ws[len(ws)-1].to == noSeq && cv.member(user, seq) && ws[len(ws)-1].from < seq
}

// membershipEvents: what made user a member of cv or not.
func (cv *conversation) membershipEvents(user string) []int {
	idx := []int{cv.idx}
	for _, w := range cv.windows[user] {
		idx = append(idx, w.fromIdx, w.toIdx)
	}
	return idx
}

// checkLog: no two messages of a conversation carry the same content (the
// generator puts the cmid in each), and every acked sender was a member.
func (c *checker) checkLog() {
	for _, cv := range c.convs {
		seen := make(map[string]*message, len(cv.log))
		for _, s := range cv.seqs {
			m := cv.log[s]
			c.r.Checked[RuleDuplicateMessage]++
			if m.system {
				continue
			}
			if o := seen[m.content]; o != nil {
				c.violate(RuleDuplicateMessage, fmt.Sprintf("%s stores one send twice: %s (seq %d) and %s (seq %d)",
					cv.id, o.id, o.seq, m.id, m.seq), c.sendOf(o.cmid), o.idx, o.ack, m.idx, m.ack)
				continue
			}
			seen[m.content] = m
		}
	}
	for _, m := range c.acked {
		cv := c.convs[m.conv]
		if !cv.known || !cv.group {
			continue
		}
		c.r.Checked[RuleMembership]++
		if !cv.member(m.sender, m.seq) {
			idx := append([]int{m.send, m.ack}, cv.membershipEvents(m.sender)...)
			c.violate(RuleMembership, fmt.Sprintf("%s accepted %s (seq %d) from %s, not a member at that seq",
				cv.id, m.id, m.seq, m.sender), idx...)
		}
	}
}

// checkHistory: the end history holds every acked message that cannot
// have expired, oldest first. Gaps are not checked: retention deletes.
func (c *checker) checkHistory() {
	inHistory := map[string]bool{}
	for _, cv := range c.convs {
		for k, i := range cv.history {
			e := &c.ev[i]
			inHistory[e.Msg] = true
			c.r.Checked[RuleHistory]++
			if k > 0 {
				if p := &c.ev[cv.history[k-1]]; e.Seq <= p.Seq {
					c.violate(RuleHistory, fmt.Sprintf("%s history has seq %d after seq %d", cv.id, e.Seq, p.Seq), cv.history[k-1], i)
				}
			}
		}
	}
	for _, m := range c.acked {
		cv := c.convs[m.conv]
		if len(cv.history) == 0 {
			continue
		}
		c.r.Checked[RuleLostAck]++
		if !inHistory[m.id] && !c.mayHaveExpired(m) {
			c.violate(RuleLostAck, fmt.Sprintf("acked %s (%s seq %d, cmid %s) is missing from the end history",
				m.id, m.conv, m.seq, m.cmid), m.send, m.ack, cv.history[0], cv.history[len(cv.history)-1])
		}
	}
}

// checkRequired applies the delivery rule to every acked message and
// every device, and returns for each device and conversation the sorted
// seqs it must receive without gaps (live or not, excuses aside).
func (c *checker) checkRequired() map[devConv][]int64 {
	req := map[devConv][]int64{}
	for _, m := range c.acked {
		cv := c.convs[m.conv]
		if !cv.known {
			continue
		}
		if c.expiredAtAck(m) {
			c.r.ExpiredAtAck++
			continue
		}
		expires := c.mayHaveExpired(m)
		sendT := c.ev[m.ack].T
		if m.send >= 0 {
			sendT = c.ev[m.send].T
		}
		for _, u := range cv.everMembers() {
			if !cv.member(u, m.seq) {
				continue
			}
			// A member added again starts anew: what its devices had not
			// received of an earlier membership is not theirs any more
			// (docs/PROTOCOL.md), even on a connection that lost the live
			// event to a fault and filled the gap after the addition.
			hasRejoined := cv.rejoinedAfter(u, m.seq)
			for _, d := range c.userDevs[u] {
				// A device that logs in later starts from what its user
				// already acknowledged.
				if d.label == m.sendDev || !(d.setup || sendT > d.login) {
					continue
				}
				if _, got := c.delivered[devMsg{d.label, m.id}]; hasRejoined && !got {
					if !d.retired {
						c.r.NotRequiredRejoined++
					}
					continue
				}
				if !expires {
					k := devConv{d.label, m.conv}
					req[k] = append(req[k], m.seq)
				}
				if d.retired {
					continue
				}
				c.r.Checked[RuleLost]++
				if _, ok := c.delivered[devMsg{d.label, m.id}]; ok {
					continue
				}
				if st := c.statuses[statusKey{m.sender, m.id, u}]; st != nil && st.expired >= 0 {
					c.r.ExcusedByStatus++
					continue
				}
				// The server tells a sender when its message expired for
				// another user; for the sender's own other devices, and for
				// a device whose user got it on another, nothing says so.
				if expires && (u == m.sender || c.userGot[devMsg{u, m.id}]) {
					c.r.ExcusedByExpiry++
					continue
				}
				c.violate(RuleLost, fmt.Sprintf("%s (user %s) never received %s (%s seq %d, cmid %s) sent by %s",
					d.label, u, m.id, m.conv, m.seq, m.cmid, m.sendDev), c.lostContext(m, d)...)
			}
		}
	}
	for _, s := range req {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	return req
}

// lostContext: the send and ack, the device's connections around the ack
// and the faults near it.
func (c *checker) lostContext(m *message, d *devState) []int {
	idx := []int{m.send, m.ack, d.idx}
	at := c.ev[m.ack].T
	k := sort.Search(len(d.conns), func(i int) bool { return c.ev[d.conns[i].open].T > at })
	for j := max(0, k-2); j < min(len(d.conns), k+2); j++ {
		idx = append(idx, d.conns[j].open, d.conns[j].close)
	}
	if n := len(d.conns); n > 0 && k+2 < n {
		idx = append(idx, d.conns[n-1].open, d.conns[n-1].close)
	}
	return append(idx, c.faultsIn(at-lostContext, at+lostContext, 8)...)
}

// faultsIn lists up to limit fault events with from <= T <= to.
func (c *checker) faultsIn(from, to time.Duration, limit int) []int {
	k := sort.Search(len(c.faults), func(i int) bool { return c.ev[c.faults[i]].T >= from })
	var out []int
	for ; k < len(c.faults) && c.ev[c.faults[k]].T <= to && len(out) < limit; k++ {
		out = append(out, c.faults[k])
	}
	return out
}
