package chaos

import (
	"bufio"
	"net"
	"reflect"
	"testing"
	"time"
)

func TestScheduleIsTheSeeds(t *testing.T) {
	c := ScheduleConfig{Duration: 10 * time.Minute, Every: 5 * time.Second, ClockEvery: 3 * time.Minute, Nodes: 3, Cluster: true}
	a, b := Schedule(42, c), Schedule(42, c)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("one seed gave two schedules")
	}
	if reflect.DeepEqual(a, Schedule(43, c)) {
		t.Fatal("two seeds gave one schedule")
	}
	kinds := map[string]int{}
	for i, f := range a {
		kinds[f.Kind]++
		if f.At <= 0 || f.At >= c.Duration {
			t.Errorf("%v outside the traffic", f)
		}
		if i > 0 && f.At < a[i-1].At {
			t.Errorf("%v before %v", f, a[i-1])
		}
		if f.Target < 0 || f.Target >= c.Nodes {
			t.Errorf("%v: no such node", f)
		}
	}
	for _, k := range []string{FaultKill, FaultPause, FaultDrop, FaultDelay, FaultRedis, FaultPostgres} {
		if kinds[k] == 0 {
			t.Errorf("no %s fault in 10 minutes: %v", k, kinds)
		}
	}
	if kinds[FaultClock] != 3 {
		t.Errorf("clock steps = %d, want 3 (at 3, 6 and 9 minutes)", kinds[FaultClock])
	}
	c.Cluster = false
	for _, f := range Schedule(42, c) {
		if f.Kind == FaultRedis || f.Kind == FaultPostgres {
			t.Errorf("embedded schedule has %v", f)
		}
	}
}

// echo serves a line-echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn) error {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ping\n" {
		t.Fatalf("echo = %q", line)
	}
	return err
}

func TestProxyCutsRefusesAndSlows(t *testing.T) {
	p, err := NewProxy(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial()
	if err := roundTrip(t, c); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Drop()
	if err := roundTrip(t, c); err == nil {
		t.Fatal("a connection survived Drop")
	}
	if err := roundTrip(t, dial()); err != nil {
		t.Fatalf("a new connection after Drop: %v", err)
	}
	p.Refuse()
	if err := roundTrip(t, dial()); err == nil {
		t.Fatal("a connection got through while refused")
	}
	p.Accept()
	c = dial()
	if err := roundTrip(t, c); err != nil {
		t.Fatalf("after Accept: %v", err)
	}
	// The delay holds each chunk in each direction: a round trip takes
	// at least twice it. (A lower bound only: the machine may be slow.)
	p.SetDelay(50 * time.Millisecond)
	start := time.Now()
	if err := roundTrip(t, c); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("round trip with a 50ms delay took %s", d)
	}
}
