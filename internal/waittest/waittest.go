// Package waittest lets a test wait for a condition that other goroutines
// make true (a log line written, a request received), woken by each
// change rather than by polling, and collects a server's log for it.
package waittest

import (
	"strings"
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

// Buffer collects what several goroutines write (a server's log) and lets
// a test wait for a piece of text in it. The zero value is ready to use.
type Buffer struct {
	mu      sync.Mutex
	b       strings.Builder
	written Cond
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.b.Write(p)
	b.mu.Unlock()
	b.written.Changed()
	return n, err
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// WaitFor reports whether text is written within timeout.
func (b *Buffer) WaitFor(timeout time.Duration, text string) bool {
	return b.written.Wait(timeout, func() bool { return strings.Contains(b.String(), text) })
}

// Poll asks ok every interval until it holds or timeout passes, and
// reports whether it held: for a state no event announces (another
// process's, a remote server's). The pause is a polling interval, not a
// synchronisation.
func Poll(timeout, interval time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
	return true
}
