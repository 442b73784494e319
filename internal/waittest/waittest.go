// Package waittest lets a test wait for a condition that other goroutines
// make true (a log line written, a request received), woken by each
// change rather than by polling.
package waittest

import (
	"sync"
	"time"
)

// Cond is a condition that goroutines change and tests wait on. The zero
// value is ready to use.
type Cond struct {
	mu sync.Mutex
	ch chan struct{} // closed at the next change
}

// Changed wakes every waiter; call it after each change to what the
// waiters look at.
func (c *Cond) Changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// next returns the channel the next change closes.
func (c *Cond) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Wait reports whether ok holds within timeout: ok is asked at once and
// after every change.
func (c *Cond) Wait(timeout time.Duration, ok func() bool) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		changed := c.next() // before ok, so that no change is missed
		if ok() {
			return true
		}
		select {
		case <-changed:
		case <-t.C:
			return ok()
		}
	}
}
