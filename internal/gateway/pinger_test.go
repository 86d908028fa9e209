package gateway

import (
	"testing"
	"time"

	"github.com/parleychat/parley/internal/messaging"
)

// TestPinger: one ping is out at a time; only the pong carrying its
// token confirms its Mark (a client's unasked pong, or a stale one,
// changes nothing); frames written while it was out ask for the next
// ping when it returns, and pings are pingGap apart: one asked for
// sooner is left to a timer, armed once.
func TestPinger(t *testing.T) {
	var p pinger
	st := new(messaging.Service).OpenStream("u", "d")
	marks := 0
	mark := func() messaging.Mark { marks++; return st.Mark() }
	t0 := time.Unix(1_800_000_000, 0)

	first, ok, _ := p.ping(t0, mark)
	if !ok || marks != 1 {
		t.Fatalf("first ping: %v after %d marks; want one, marked", ok, marks)
	}
	if _, ok, wait := p.ping(t0.Add(time.Second), mark); ok || wait != 0 || marks != 1 {
		t.Fatal("a second ping went out, or was timed, while the first was out")
	}
	for _, bad := range [][]byte{nil, []byte("hello"), {0, 0, 0, 0, 0, 0, 0, 9}} {
		if p.pong(bad) || p.out == 0 {
			t.Fatalf("pong %q was taken for the ping", bad)
		}
	}
	if wake := p.pong(first[:]); !wake || p.out != 0 {
		t.Fatalf("the ping's pong: wake %v, out %d; want a wake (frames came meanwhile) and none out", wake, p.out)
	}
	if p.pong(first[:]) {
		t.Fatal("a repeated pong woke the writer")
	}

	// Asked again too soon: not sent, a timer for the rest of the gap,
	// and only one.
	_, ok, wait := p.ping(t0.Add(pingGap/5), mark)
	if ok || wait != pingGap*4/5 {
		t.Fatalf("a ping %v after the last: sent %v, wait %v; want none and a wait of %v", pingGap/5, ok, wait, pingGap*4/5)
	}
	if _, ok, wait := p.ping(t0.Add(pingGap/2), mark); ok || wait != 0 {
		t.Fatalf("asked again before the timer: sent %v, wait %v; want neither", ok, wait)
	}
	if !p.fire() {
		t.Fatal("the timer did not call for the ping that is due")
	}
	second, ok, _ := p.ping(t0.Add(pingGap), mark)
	if !ok || second == first || marks != 2 {
		t.Fatalf("next ping: %v, token %x after %x; want a new token, marked", ok, second, first)
	}
	if p.pong(second[:]) {
		t.Fatal("a pong with nothing written meanwhile woke the writer")
	}
}
