package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleychat/parley/client"
)

// WorkloadConfig shapes the simulated users.
type WorkloadConfig struct {
	Users       int           // people (default 12)
	Groups      int           // groups among them (default 3)
	GroupSize   int           // the servers' --max-group-size
	SendEvery   time.Duration // mean pause between one device's sends (default 1.5s)
	LoginEvery  time.Duration // mean pause between logins of new devices, all users together (default 15s)
	MemberEvery time.Duration // mean pause between membership changes per group and admin (default 3s)
	MediaEvery  time.Duration // mean pause between media messages, all users together (default 10s; 0: none)
}

func (c *WorkloadConfig) defaults() {
	if c.Users <= 0 {
		c.Users = 12
	}
	if c.Groups < 0 {
		c.Groups = 0
	}
	if c.SendEvery <= 0 {
		c.SendEvery = 1500 * time.Millisecond
	}
	if c.LoginEvery <= 0 {
		c.LoginEvery = 8 * time.Second
	}
	if c.MemberEvery <= 0 {
		c.MemberEvery = 3 * time.Second
	}
}

// content is what every workload message carries: the server never reads
// it, the checker matches sends to deliveries by it.
type content struct {
	CMID   string `json:"cmid"`
	Device string `json:"dev"`
	SHA256 string `json:"sha256,omitempty"` // of a media message's bytes
}

type user struct {
	id, name, pass string
	n              int

	mu      sync.Mutex
	convs   map[string]bool // conversations it believes it is in
	devices int
}

func (u *user) conversations() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.convs))
	for c, in := range u.convs {
		if in {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

func (u *user) setMember(conv string, in bool) {
	u.mu.Lock()
	u.convs[conv] = in
	u.mu.Unlock()
}

type group struct {
	id     string
	admins []*user // never removed
	mu     sync.Mutex
	in     map[*user]bool
}

// Workload drives simulated users and devices against the nodes' front
// proxies and records everything in the ledger.
type Workload struct {
	cfg    WorkloadConfig
	led    *Ledger
	fronts []string // base URLs
	seed   uint64

	users  []*user
	groups []*group

	// memberMu keeps membership changes out of a clock step and the
	// history snapshot just before it (Snapshot).
	memberMu sync.RWMutex
	draining atomic.Bool // no new sends, no voluntary disconnects
	frames   atomic.Int64
	inflight []atomic.Int64 // per node: sends waiting for their ack // messages and statuses received, to tell when the run is quiet
	wg       sync.WaitGroup

	mu      sync.Mutex
	devices []*device
	nextDev int

	mediaMu sync.Mutex
	media   map[string]string // media id -> sha256 of the bytes sent
}

// NewWorkload prepares a workload; Setup makes its users.
func NewWorkload(cfg WorkloadConfig, led *Ledger, fronts []string, seed uint64) *Workload {
	cfg.defaults()
	return &Workload{cfg: cfg, led: led, fronts: fronts, seed: seed, media: map[string]string{},
		inflight: make([]atomic.Int64, len(fronts))}
}

func (w *Workload) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(w.seed, stream))
}

func (w *Workload) front(i int) *client.Client {
	c := client.New(w.fronts[i%len(w.fronts)])
	c.HTTP = &http.Client{Timeout: 15 * time.Second}
	return c
}

// Setup registers the users, logs in their first devices and makes the
// conversations, before any fault.
func (w *Workload) Setup(ctx context.Context) error {
	r := w.rng(1)
	run := fmt.Sprintf("%x", r.Uint32())
	for i := range w.cfg.Users {
		u := &user{name: fmt.Sprintf("c%s_%d", run, i), pass: "chaos-password-" + run, n: i, convs: map[string]bool{}}
		got, err := w.front(i).Register(ctx, u.name, u.pass, fmt.Sprintf("User %d", i))
		if err != nil {
			return fmt.Errorf("register: %w", err)
		}
		u.id = got.UserID
		w.users = append(w.users, u)
		w.led.Add(Event{Kind: KindUser, User: u.id, Name: u.name})
	}
	// Each user's first device, and a second for every third user, so
	// that a user's own messages reach its other device.
	for _, u := range w.users {
		n := 1 + boolInt(u.n%3 == 0)
		for range n {
			if _, err := w.login(ctx, u, true); err != nil {
				return err
			}
		}
	}
	// 1:1s: a ring, and each user with one more at random.
	pairs := map[[2]int]bool{}
	for i := range w.users {
		j := (i + 1) % len(w.users)
		k := r.IntN(len(w.users))
		for _, o := range []int{j, k} {
			if o == i {
				continue
			}
			p := [2]int{min(i, o), max(i, o)}
			if pairs[p] {
				continue
			}
			pairs[p] = true
			a, b := w.users[p[0]], w.users[p[1]]
			conv, err := w.dev0(a).c.CreateDirect(ctx, b.id)
			if err != nil {
				return fmt.Errorf("create 1:1: %w", err)
			}
			a.setMember(conv.ConversationID, true)
			b.setMember(conv.ConversationID, true)
			w.led.Add(Event{Kind: KindConv, Conv: conv.ConversationID, Members: []string{a.id, b.id}})
		}
	}
	for g := range w.cfg.Groups {
		owner := w.users[(g*5)%len(w.users)]
		size := max(2, w.cfg.GroupSize-2)
		members := []*user{owner}
		for _, i := range r.Perm(len(w.users)) {
			if len(members) == size {
				break
			}
			if w.users[i] != owner {
				members = append(members, w.users[i])
			}
		}
		ids := make([]string, 0, len(members)-1)
		for _, m := range members[1:] {
			ids = append(ids, m.id)
		}
		conv, err := w.dev0(owner).c.CreateGroup(ctx, fmt.Sprintf("Group %d", g), ids)
		if err != nil {
			return fmt.Errorf("create group: %w", err)
		}
		// A second admin, so two admins change membership at once and
		// race each other for the last places.
		if _, err := w.dev0(owner).c.SetRole(ctx, conv.ConversationID, members[1].id, "admin"); err != nil {
			return fmt.Errorf("make admin: %w", err)
		}
		gr := &group{id: conv.ConversationID, admins: []*user{owner, members[1]}, in: map[*user]bool{}}
		all := []string{owner.id}
		for _, m := range members {
			gr.in[m] = true
			m.setMember(conv.ConversationID, true)
		}
		all = append(all, ids...)
		w.groups = append(w.groups, gr)
		w.led.Add(Event{Kind: KindConv, Conv: conv.ConversationID, Group: true, Members: all})
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dev0 is the user's first device (setup is single-threaded).
func (w *Workload) dev0(u *user) *device {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range w.devices {
		if d.user == u {
			return d
		}
	}
	return nil
}

func (w *Workload) login(ctx context.Context, u *user, setup bool) (*device, error) {
	w.mu.Lock()
	w.nextDev++
	n := w.nextDev
	w.mu.Unlock()
	label := fmt.Sprintf("u%d/d%d", u.n, n)
	c := w.front(n)
	s, err := c.LoginDevice(ctx, u.name, u.pass, label)
	if err != nil {
		return nil, fmt.Errorf("login %s: %w", label, err)
	}
	d := &device{w: w, user: u, label: label, token: s.Token, setup: setup, r: w.rng(uint64(1000 + n)), held: map[string]heldMsg{}}
	d.c = c.WithToken(s.Token)
	w.led.Add(Event{Kind: KindDevice, User: u.id, Device: label, Setup: setup})
	w.mu.Lock()
	w.devices = append(w.devices, d)
	w.mu.Unlock()
	return d, nil
}

// Run starts every device and the membership and login actors; they go on
// until ctx ends.
func (w *Workload) Run(ctx context.Context) {
	w.mu.Lock()
	devs := slices.Clone(w.devices)
	w.mu.Unlock()
	for _, d := range devs {
		w.wg.Go(func() { d.run(ctx) })
	}
	for gi, g := range w.groups {
		for ai, a := range g.admins {
			r := w.rng(uint64(100 + gi*10 + ai))
			w.wg.Go(func() { w.memberActor(ctx, r, g, a) })
		}
	}
	w.wg.Go(func() { w.loginActor(ctx, w.rng(2)) })
}

// Drain stops new sends and voluntary disconnects; devices go on
// resending what is not acked.
func (w *Workload) Drain() { w.draining.Store(true) }

// Wait waits for every actor to end.
func (w *Workload) Wait() { w.wg.Wait() }

// InFlight reports how many sends to node wait for their ack now.
func (w *Workload) InFlight(node int) int64 { return w.inflight[node].Load() }

// Pending reports how many sends are still waiting for their ack.
func (w *Workload) Pending() int {
	w.mu.Lock()
	devs := slices.Clone(w.devices)
	w.mu.Unlock()
	n := 0
	for _, d := range devs {
		d.mu.Lock()
		n += len(d.pending)
		d.mu.Unlock()
	}
	return n
}

// pause sleeps for a random time of the given mean (exponential, so
// actors act as a Poisson process), or until ctx ends.
func pause(ctx context.Context, r *rand.Rand, mean time.Duration) bool {
	return sleep(ctx, time.Duration(r.ExpFloat64()*float64(mean)))
}

func (w *Workload) memberActor(ctx context.Context, r *rand.Rand, g *group, admin *user) {
	for pause(ctx, r, w.cfg.MemberEvery) {
		if w.draining.Load() {
			return
		}
		g.mu.Lock()
		var in, out []*user
		for _, u := range w.users {
			if g.in[u] {
				if !slices.Contains(g.admins, u) {
					in = append(in, u)
				}
			} else {
				out = append(out, u)
			}
		}
		g.mu.Unlock()
		add := len(in) == 0 || (len(out) > 0 && r.IntN(2) == 0)
		var target *user
		if add {
			target = out[r.IntN(len(out))]
		} else {
			target = in[r.IntN(len(in))]
		}
		// Through a session still signed in: logins past the device
		// limit sign the oldest out.
		d := w.anyLive(admin)
		if d == nil {
			continue
		}
		w.changeMember(ctx, r, d.c, g, admin, target, add)
	}
}

func (w *Workload) changeMember(ctx context.Context, r *rand.Rand, c *client.Client, g *group, admin, target *user, add bool) {
	w.memberMu.RLock()
	defer w.memberMu.RUnlock()
	cc := *c
	cc.BaseURL = w.fronts[r.IntN(len(w.fronts))]
	op := "remove"
	var err error
	if add {
		op = "add"
		_, err = cc.AddParticipant(ctx, g.id, target.id)
	} else {
		err = cc.RemoveParticipant(ctx, g.id, target.id)
	}
	w.led.Add(Event{Kind: KindMember, Op: op, Conv: g.id, Target: target.id, User: admin.id, Code: codeOf(err), Err: errText(err)})
	if err == nil {
		g.mu.Lock()
		g.in[target] = add
		g.mu.Unlock()
		target.setMember(g.id, add)
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	if c := client.ErrorCode(err); c != "" {
		return c
	}
	return "transport"
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// loginActor logs users in on new devices. Past the device limit the
// server signs out a user's oldest session: those devices retire.
func (w *Workload) loginActor(ctx context.Context, r *rand.Rand) {
	for pause(ctx, r, w.cfg.LoginEvery) {
		if w.draining.Load() {
			return
		}
		u := w.users[r.IntN(len(w.users))]
		d, err := w.login(ctx, u, false)
		if err != nil {
			continue // a login during a fault may fail; it is not a promise
		}
		w.wg.Go(func() { d.run(ctx) })
	}
}

// png makes a small distinct image: its bytes are what the recipients
// must download.
func pngImage(r *rand.Rand) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16+r.IntN(16), 16+r.IntN(16)))
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	img.Set(0, 0, color.RGBA{A: 255})
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var errRetired = errors.New("device signed out")

func encodeContent(c content) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// wantMedia decides whether a new message carries an image: about one in
// MediaEvery across all devices.
func (w *Workload) wantMedia(r *rand.Rand) bool {
	if w.cfg.MediaEvery <= 0 {
		return false
	}
	w.mu.Lock()
	n := len(w.devices)
	w.mu.Unlock()
	p := float64(w.cfg.SendEvery) / float64(w.cfg.MediaEvery) / float64(max(1, n))
	return r.Float64() < p
}
