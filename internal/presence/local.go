package presence

import (
	"context"
	"sync"
	"time"
)

// Local is the Directory of a single node: every connection is here.
type Local struct {
	mu       sync.Mutex
	conns    map[string]int
	onChange func(Change)
}

// NewLocal returns an empty local directory.
func NewLocal() *Local { return &Local{conns: map[string]int{}} }

// Connected implements Directory. A single node's hub knows its devices:
// this counts users alone.
func (l *Local) Connected(_ context.Context, userID, _ string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns[userID]++
	return l.conns[userID] == 1, nil
}

// Disconnected implements Directory.
func (l *Local) Disconnected(_ context.Context, userID, _ string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns[userID]--
	if l.conns[userID] > 0 {
		return false, nil
	}
	delete(l.conns, userID)
	return true, nil
}

// DeviceConnected implements Directory: the hub knows devices.
func (l *Local) DeviceConnected(context.Context, string, string) error { return nil }

// DeviceDisconnected implements Directory.
func (l *Local) DeviceDisconnected(context.Context, string, string) error { return nil }

// Online implements Directory.
func (l *Local) Online(_ context.Context, ids []string) (map[string]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = l.conns[id] > 0
	}
	return out, nil
}

// Announce implements Directory: the change goes straight to this node.
func (l *Local) Announce(_ context.Context, c Change) error {
	l.mu.Lock()
	h := l.onChange
	l.mu.Unlock()
	if h != nil {
		h(c)
	}
	return nil
}

// Watch implements Directory; every change is local anyway.
func (l *Local) Watch(context.Context, string) {}

// Unwatch implements Directory.
func (l *Local) Unwatch(context.Context, string) {}

// Handle implements Directory. A single node never loses a user silently.
func (l *Local) Handle(onChange func(Change), _ func(string, time.Time)) {
	l.mu.Lock()
	l.onChange = onChange
	l.mu.Unlock()
}
