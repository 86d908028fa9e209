package gateway

import "sync"

// connectWorkers is how many goroutines run the store queries of
// connects. SQLite (a C library translated to Go) calls deep: a fresh
// goroutine grows its stack four or five times over each query, which
// was a quarter of a connect's CPU in a reconnect storm. A few long-lived
// workers keep their grown stacks, and bound the connects that hit the
// store at once; with PostgreSQL, as many as the store's pool (16 by
// default) keep every pooled connection busy.
const connectWorkers = 16

// workers runs functions on a fixed set of long-lived goroutines.
type workers struct {
	jobs chan func()
	wg   sync.WaitGroup
}

func newWorkers(n int) *workers {
	w := &workers{jobs: make(chan func())}
	for range n {
		w.wg.Go(func() {
			for fn := range w.jobs {
				fn()
			}
		})
	}
	return w
}

// run runs fn on a worker and returns when it has.
func (w *workers) run(fn func()) {
	done := make(chan struct{})
	w.jobs <- func() {
		defer close(done)
		fn()
	}
	<-done
}

// stop ends the workers once the jobs under way are done.
func (w *workers) stop() {
	close(w.jobs)
	w.wg.Wait()
}
