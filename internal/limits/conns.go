package limits

import "sync"

// ConnCaps bound open connections: in all, per user and per client
// address. A zero cap is off.
type ConnCaps struct {
	Total   int
	PerUser int
	PerIP   int
}

// Names of the caps, as Conns.Open reports a refusal.
const (
	CapTotal   = "total"
	CapPerUser = "per_user"
	CapPerIP   = "per_ip"
)

// Conns counts open connections against ConnCaps. Its maps hold only keys
// with an open connection, so they are as large as the connections are
// many. Safe for concurrent use.
type Conns struct {
	caps ConnCaps

	mu     sync.Mutex
	total  int
	byUser map[string]int
	byIP   map[string]int
}

// NewConns returns a counter for caps.
func NewConns(caps ConnCaps) *Conns {
	return &Conns{caps: caps, byUser: map[string]int{}, byIP: map[string]int{}}
}

// Open admits a connection of user from ip and returns the function that
// ends it (idempotent), or, if a cap is reached, the name of that cap.
func (c *Conns) Open(user, ip string) (release func(), refused string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.caps.Total > 0 && c.total >= c.caps.Total:
		return nil, CapTotal
	case c.caps.PerUser > 0 && c.byUser[user] >= c.caps.PerUser:
		return nil, CapPerUser
	case c.caps.PerIP > 0 && c.byIP[ip] >= c.caps.PerIP:
		return nil, CapPerIP
	}
	c.total++
	c.byUser[user]++
	c.byIP[ip]++
	var once sync.Once
	return func() { once.Do(func() { c.close(user, ip) }) }, ""
}

func (c *Conns) close(user, ip string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	decr(c.byUser, user)
	decr(c.byIP, ip)
}

func decr(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}
