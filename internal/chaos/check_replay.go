package chaos

import (
	"fmt"
	"sort"
	"time"
)

// gapState walks one device's required seqs of one conversation as its
// deliveries arrive.
type gapState struct {
	first int64 // the first seq the device ever received of the conversation
	next  int   // index in the required seqs of the next one to verify
}

type settledAck struct {
	t    time.Duration
	conn int
	seq  int64
	idx  int
}

// replay goes through the ledger in time order once more, now that the
// logs and memberships are known, for the rules that depend on what a
// device held at a moment: per-connection duplicates and order, gaps,
// membership of each delivery, expiry at connect, false receipts.
func (c *checker) replay(req map[devConv][]int64) {
	onConn := map[devConnMsg]int{}
	lastSeq := map[devConnMsg]int{} // msg field holds the conversation
	gaps := map[devConv]*gapState{}
	settled := map[devConv][]settledAck{}
	userMax := map[userConv]seqAt{} // highest seq any device of the user received so far
	for i := range c.ev {
		e := &c.ev[i]
		switch e.Kind {
		case KindAckSent:
			if c.settled(i) {
				k := devConv{e.Device, e.Conv}
				settled[k] = append(settled[k], settledAck{e.T, e.Conn, e.Seq, i})
			}
		case KindStatus:
			c.checkFalseReceipt(i, userMax)
		case KindDeliver:
			user := c.userOf(e.Device)
			if um, ok := userMax[userConv{user, e.Conv}]; !ok || e.Seq > um.seq {
				userMax[userConv{user, e.Conv}] = seqAt{e.Seq, i}
			}
			c.r.Checked[RuleDuplicateDelivery]++
			k := devConnMsg{e.Device, e.Conn, e.Msg}
			if p, dup := onConn[k]; dup {
				c.violate(RuleDuplicateDelivery, fmt.Sprintf("%s got %s (%s seq %d) twice on connection %d",
					e.Device, e.Msg, e.Conv, e.Seq, e.Conn), p, i)
				continue
			}
			onConn[k] = i
			if first := c.delivered[devMsg{e.Device, e.Msg}]; first != i {
				c.checkRedelivery(i, first, settled[devConv{e.Device, e.Conv}])
			}
			c.r.Checked[RuleOrder]++
			ck := devConnMsg{e.Device, e.Conn, e.Conv}
			if p, ok := lastSeq[ck]; ok && c.ev[p].Seq >= e.Seq {
				c.violate(RuleOrder, fmt.Sprintf("%s connection %d got %s seq %d after seq %d",
					e.Device, e.Conn, e.Conv, e.Seq, c.ev[p].Seq), p, i)
			}
			lastSeq[ck] = i
			c.checkGap(i, req, gaps)
			c.checkDeliveryMembership(i, user)
			c.checkExpiredDelivery(i)
		}
	}
}

// settled: the delivery_ack at i was surely processed, since its
// connection stayed up a while after it and no fault came near.
func (c *checker) settled(i int) bool {
	e := &c.ev[i]
	cn := c.conn(e.Device, e.Conn)
	if cn == nil || cn.close < 0 {
		return false
	}
	tc := c.ev[cn.close].T
	// A connection the device gave up on had a server that stopped
	// answering: what it was sent last may never have been read.
	if tc < e.T+settleHold || c.ev[cn.close].Code == CodeStalled {
		return false
	}
	return !c.faultDuring(e.T-faultMargin, tc+faultMargin)
}

// faultDuring: a fault began, ended or was under way between from and to
// (a node paused before the ack and resumed after the close never read
// it).
func (c *checker) faultDuring(from, to time.Duration) bool {
	if c.spans == nil {
		open := map[string]time.Duration{}
		c.spans = [][2]time.Duration{}
		for _, i := range c.faults {
			e := &c.ev[i]
			k := e.Fault + "/" + e.Target
			switch e.Op {
			case "start":
				open[k] = e.T
			case "end":
				if t, ok := open[k]; ok {
					c.spans = append(c.spans, [2]time.Duration{t, e.T})
					delete(open, k)
				}
			}
		}
		for _, t := range open { // never ended: until the end of the run
			c.spans = append(c.spans, [2]time.Duration{t, 1<<63 - 1})
		}
	}
	for _, sp := range c.spans {
		if sp[0] <= to && sp[1] >= from {
			return true
		}
	}
	return len(c.faultsIn(from, to, 1)) > 0
}

// checkRedelivery: sending an unacked message again on a new connection
// is the protocol; sending one the device's settled ack covered is not.
func (c *checker) checkRedelivery(i, first int, acks []settledAck) {
	e, f := &c.ev[i], &c.ev[first]
	k := sort.Search(len(acks), func(j int) bool { return acks[j].t >= f.T })
	for ; k < len(acks); k++ {
		a := acks[k]
		if a.t > e.T {
			return
		}
		if a.conn < e.Conn && a.seq >= e.Seq {
			cn := c.conn(e.Device, a.conn)
			c.violate(RuleDuplicateDelivery, fmt.Sprintf("%s got %s (%s seq %d) again on connection %d after its ack of seq %d on connection %d settled",
				e.Device, e.Msg, e.Conv, e.Seq, e.Conn, a.seq, a.conn), first, a.idx, cn.close, i)
			return
		}
	}
}

// checkGap: when a device receives seq b, every message it must receive
// between its first seq and b is already there.
func (c *checker) checkGap(i int, req map[devConv][]int64, gaps map[devConv]*gapState) {
	e := &c.ev[i]
	k := devConv{e.Device, e.Conv}
	seqs := req[k]
	g := gaps[k]
	if g == nil {
		g = &gapState{first: e.Seq}
		g.next = sort.Search(len(seqs), func(j int) bool { return seqs[j] > e.Seq })
		gaps[k] = g
		return
	}
	cv := c.convs[e.Conv]
	for ; g.next < len(seqs) && seqs[g.next] < e.Seq; g.next++ {
		s := seqs[g.next]
		if s <= g.first {
			continue
		}
		m := cv.log[s]
		if d, ok := c.delivered[devMsg{e.Device, m.id}]; ok && c.ev[d].T <= e.T {
			continue
		}
		c.violate(RuleOrder, fmt.Sprintf("%s got %s seq %d before seq %d (%s), which it must receive",
			e.Device, e.Conv, e.Seq, s, m.id), m.send, m.ack, i)
	}
}

func (c *checker) checkDeliveryMembership(i int, user string) {
	e := &c.ev[i]
	cv := c.convs[e.Conv]
	if !cv.known || !cv.group {
		return
	}
	c.r.Checked[RuleMembership]++
	if !cv.member(user, e.Seq) {
		idx := append(cv.membershipEvents(user), i)
		c.violate(RuleMembership, fmt.Sprintf("%s (user %s) got %s seq %d (%s) while not a member",
			e.Device, user, e.Conv, e.Seq, e.Msg), idx...)
	}
}

// checkExpiredDelivery: when the connection's dial began, server time was
// already at least wall + the offset every node had applied; a message
// past retention then must not be delivered on it. (From the dial, not
// the open: the server reads the device's queue as soon as it upgrades,
// which a clock step may follow before the client hears of the upgrade.)
func (c *checker) checkExpiredDelivery(i int) {
	e := &c.ev[i]
	if c.cfg.Retention <= 0 || !c.haveWall || e.Created == 0 {
		return
	}
	cn := c.conn(e.Device, e.Conn)
	if cn == nil || cn.open < 0 {
		return
	}
	c.r.Checked[RuleExpiredDelivery]++
	t0 := c.ev[cn.open].T
	if d := c.ev[cn.open].Dialed; d > 0 {
		t0 = d
	}
	off, clk := c.offsetAt(t0)
	serverAt := c.wall(t0) + off
	if e.Created+c.cfg.Retention.Milliseconds()+c.cfg.Slack.Milliseconds() < serverAt {
		m := c.msgs[e.Msg]
		c.violate(RuleExpiredDelivery, fmt.Sprintf("%s got %s (%s seq %d, created %d) on a connection opened at server time ≥ %d, past retention %s",
			e.Device, e.Msg, e.Conv, e.Seq, e.Created, serverAt, c.cfg.Retention), ackIdx(m), clk, cn.open, i)
	}
}

// checkFalseReceipt: a delivered or read status needs a device of its
// target to have received the message (or a later one: acks are
// cumulative) before it.
func (c *checker) checkFalseReceipt(i int, userMax map[userConv]seqAt) {
	e := &c.ev[i]
	if e.Status != statusDelivered && e.Status != statusRead {
		return
	}
	m := c.msgs[e.Msg]
	if m == nil {
		return
	}
	c.r.Checked[RuleReceipt]++
	if um, ok := userMax[userConv{e.Target, m.conv}]; ok && um.seq >= m.seq {
		return
	}
	c.violate(RuleReceipt, fmt.Sprintf("status %s of %s (%s seq %d) for %s arrived before any device of %s received it",
		e.Status, m.id, m.conv, m.seq, e.Target, e.Target), m.send, m.ack, i)
}

// checkReceiptsAfter: by the end, every sender holds a status for each
// recipient that got its message and has been a member since, and "read"
// where that recipient read it in the read phase.
func (c *checker) checkReceiptsAfter() {
	for _, m := range c.acked {
		cv := c.convs[m.conv]
		if !cv.known || c.mayHaveExpired(m) {
			continue
		}
		for _, u := range cv.everMembers() {
			if u == m.sender || !cv.memberSince(u, m.seq) {
				continue
			}
			got := -1
			for _, d := range c.userDevs[u] {
				if di, ok := c.delivered[devMsg{d.label, m.id}]; ok && !d.retired {
					got = di
					break
				}
			}
			if got < 0 {
				continue
			}
			c.r.StatusesVerified++
			st := c.statuses[statusKey{m.sender, m.id, u}]
			if st == nil || (st.delivered < 0 && st.read < 0) {
				c.violate(RuleReceipt, fmt.Sprintf("%s's devices never got a delivered status of %s (%s seq %d) for %s",
					m.sender, m.id, m.conv, m.seq, u), m.send, m.ack, got)
				continue
			}
			if r, ok := c.readSent[userConv{u, m.conv}]; ok && r.seq >= m.seq && st.read < 0 {
				c.violate(RuleReceipt, fmt.Sprintf("%s's devices never got a read status of %s (%s seq %d) for %s, who read it",
					m.sender, m.id, m.conv, m.seq, u), m.send, m.ack, got, r.idx, st.delivered)
			}
		}
	}
}

// checkMedia: media fetched once the faults were over must match.
func (c *checker) checkMedia() {
	p, ok := c.phase[phaseDrain]
	if !ok {
		return
	}
	for i := p; i < len(c.ev); i++ {
		e := &c.ev[i]
		if e.Kind != KindMediaCheck {
			continue
		}
		// Media goes with its message when that expires, and only
		// members who saw the message since may fetch it: one removed (or
		// removed and added again) meanwhile is refused, rightly.
		if m := c.msgs[e.Msg]; m != nil {
			if c.mayHaveExpired(m) {
				continue
			}
			if cv := c.convs[m.conv]; cv != nil && cv.known && !cv.memberSince(c.userOf(e.Device), m.seq) {
				continue
			}
		}
		c.r.Checked[RuleMedia]++
		if e.Code != "" {
			c.violate(RuleMedia, fmt.Sprintf("%s fetched media %s of %s after the faults ended: %s", e.Device, e.Media, e.Msg, e.Code),
				ackIdx(c.msgs[e.Msg]), p, i)
		}
	}
}
