package waittest

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestWait: a waiter wakes at the change that makes its condition true,
// and gives up when the time runs out.
func TestWait(t *testing.T) {
	var c Cond
	var n atomic.Int64
	go func() {
		for range 5 {
			n.Add(1)
			c.Changed()
		}
	}()
	if !c.Wait(time.Minute, func() bool { return n.Load() == 5 }) {
		t.Fatalf("n = %d, never 5", n.Load())
	}
	if c.Wait(10*time.Millisecond, func() bool { return n.Load() == 6 }) {
		t.Error("a condition nothing makes true held")
	}
}

// TestBuffer: a wait for text ends when another goroutine writes it.
func TestBuffer(t *testing.T) {
	var b Buffer
	go func() {
		for _, s := range []string{"starting\n", "listening on x\n"} {
			b.Write([]byte(s))
		}
	}()
	if !b.WaitFor(time.Minute, "listening") {
		t.Fatalf("no listening line in %q", b.String())
	}
	if b.WaitFor(10*time.Millisecond, "stopped") {
		t.Error("found text nobody wrote")
	}
}

// TestPoll: a poll ends once its condition holds, or says it never did.
func TestPoll(t *testing.T) {
	start := time.Now()
	if !Poll(time.Minute, time.Millisecond, func() bool { return time.Since(start) > 20*time.Millisecond }) {
		t.Error("a condition that came true was not seen")
	}
	if Poll(20*time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Error("a condition that never held was reported")
	}
}
