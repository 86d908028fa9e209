package gateway

import (
	"testing"

	"github.com/parleychat/parley/internal/messaging"
)

// TestPinger: one ping is out at a time; only the pong carrying its
// token confirms its Mark (a client's unasked pong, or a stale one,
// changes nothing); frames written while it was out ask for the next
// ping when it returns.
func TestPinger(t *testing.T) {
	var p pinger
	st := new(messaging.Service).OpenStream("u", "d")
	marks := 0
	mark := func() messaging.Mark { marks++; return st.Mark() }

	first, ok := p.ping(mark)
	if !ok || marks != 1 {
		t.Fatalf("first ping: %v after %d marks; want one, marked", ok, marks)
	}
	if _, ok := p.ping(mark); ok || marks != 1 {
		t.Fatal("a second ping went out while the first was out")
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
	second, ok := p.ping(mark)
	if !ok || second == first {
		t.Fatalf("next ping: %v, token %x after %x; want a new token", ok, second, first)
	}
	if p.pong(second[:]) {
		t.Fatal("a pong with nothing written meanwhile woke the writer")
	}
}
