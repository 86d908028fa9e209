package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Violation is one broken promise and the events that show it.
type Violation struct {
	Rule   string  // one of the Rule constants
	Detail string  // one line a human reads
	Events []Event // the relevant history, in time order, at most ~20
}

// Report is what Check found: the size of the run, what was verified
// and every violation (up to a cap per rule).
type Report struct {
	Users, Devices, Conversations int
	Messages                      int // acked workload messages
	Deliveries, Statuses          int
	Faults, ClockSteps            int
	Retired, Connections          int

	// Checked counts, per rule, the things verified (required deliveries
	// for "lost", deliveries for "order", …).
	Checked map[string]int
	// Required deliveries excused: the sender got an "expired" status for
	// the recipient, or the message may have expired after another device
	// of the recipient got it.
	ExcusedByStatus, ExcusedByExpiry int
	// NotRequiredRejoined: deliveries not required because the recipient
	// left the group and was added again later (docs/PROTOCOL.md: a member
	// added again sees the group from its new addition on).
	NotRequiredRejoined int
	// ExpiredAtAck: messages past retention when acked (a clock step
	// came between their stamp and their ack), required of nobody.
	ExpiredAtAck int
	// StatusesVerified: (message, recipient) pairs whose status the sender
	// was required to get.
	StatusesVerified int

	Violations []Violation
	// Dropped counts, per rule, the violations past the cap.
	Dropped map[string]int

	kept map[string]int
}

func newReport() *Report {
	return &Report{Checked: map[string]int{}, Dropped: map[string]int{}, kept: map[string]int{}}
}

// OK reports whether the run kept every promise.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// Count is the number of violations of rule, dropped ones included.
func (r *Report) Count(rule string) int { return r.kept[rule] + r.Dropped[rule] }

// violate records a violation shown by the events at idx (negative and
// repeated indices are skipped).
func (c *checker) violate(rule, detail string, idx ...int) {
	r := c.r
	if r.kept[rule] >= maxViolationsPerRule {
		r.Dropped[rule]++
		return
	}
	r.kept[rule]++
	var keep []int
	seen := map[int]bool{}
	for _, i := range idx {
		if i >= 0 && !seen[i] {
			seen[i] = true
			keep = append(keep, i)
		}
	}
	sort.Ints(keep)
	if len(keep) > maxViolationEvents {
		keep = keep[len(keep)-maxViolationEvents:]
	}
	evs := make([]Event, len(keep))
	for k, i := range keep {
		evs[k] = c.ev[i]
	}
	r.Violations = append(r.Violations, Violation{Rule: rule, Detail: detail, Events: evs})
}

// Write prints a summary, then each violation with its events, one line
// each.
func (r *Report) Write(w io.Writer) {
	verdict := "OK"
	if !r.OK() {
		n := 0
		for _, rule := range ruleOrder {
			n += r.Count(rule)
		}
		verdict = fmt.Sprintf("FAIL: %d violations", n)
	}
	fmt.Fprintf(w, "chaos check: %s\n", verdict)
	fmt.Fprintf(w, "users %d, devices %d (%d retired), conversations %d, connections %d\n",
		r.Users, r.Devices, r.Retired, r.Conversations, r.Connections)
	fmt.Fprintf(w, "messages acked %d, deliveries %d, statuses %d, faults %d, clock steps %d\n",
		r.Messages, r.Deliveries, r.Statuses, r.Faults, r.ClockSteps)
	fmt.Fprintf(w, "required deliveries %d (excused: %d by expired status, %d may have expired; not required: %d added again since, %d messages expired at their ack), statuses verified %d\n",
		r.Checked[RuleLost], r.ExcusedByStatus, r.ExcusedByExpiry, r.NotRequiredRejoined, r.ExpiredAtAck, r.StatusesVerified)
	fmt.Fprintf(w, "%-20s %10s %10s\n", "rule", "checked", "violations")
	for _, rule := range ruleOrder {
		fmt.Fprintf(w, "%-20s %10d %10d\n", rule, r.Checked[rule], r.Count(rule))
	}
	for _, rule := range ruleOrder {
		for _, v := range r.Violations {
			if v.Rule != rule {
				continue
			}
			fmt.Fprintf(w, "\n[%s] %s\n", v.Rule, v.Detail)
			for _, e := range v.Events {
				fmt.Fprintf(w, "    %s\n", FormatEvent(e))
			}
		}
		if n := r.Dropped[rule]; n > 0 {
			fmt.Fprintf(w, "\n[%s] … and %d more\n", rule, n)
		}
	}
}

// FormatEvent renders e on one line: T in seconds with ms, the kind, then
// the fields it sets.
func FormatEvent(e Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%9.3fs %-11s", e.T.Seconds(), e.Kind)
	str := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	num := func(k string, v int64) {
		if v != 0 {
			fmt.Fprintf(&b, " %s=%d", k, v)
		}
	}
	str("phase", e.Phase)
	str("user", e.User)
	str("name", e.Name)
	str("dev", e.Device)
	if e.Setup {
		b.WriteString(" setup")
	}
	num("conn", int64(e.Conn))
	num("node", int64(e.Node))
	str("conv", e.Conv)
	if e.Group {
		b.WriteString(" group")
	}
	if len(e.Members) > 0 {
		str("members", strings.Join(e.Members, ","))
	}
	str("cmid", e.CMID)
	str("msg", e.Msg)
	num("seq", e.Seq)
	str("sender", e.Sender)
	str("mtype", e.MessageType)
	if e.Content != "" {
		fmt.Fprintf(&b, " content=%q", clip(e.Content))
	}
	num("created", e.Created)
	str("target", e.Target)
	str("status", e.Status)
	str("op", e.Op)
	str("code", e.Code)
	str("media", e.Media)
	str("fault", e.Fault)
	num("offset", e.Offset)
	str("err", e.Err)
	return b.String()
}
