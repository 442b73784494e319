package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/pageshot/pageshot"
)

// memoryScan is how often the renderers' resident memory is read.
const memoryScan = 100 * time.Millisecond

// memoryWatch records how the browser's page targets end, and kills a
// renderer whose resident memory passes the pool's MaxRendererMemory. The
// V8 heap limit (--js-flags=--max-old-space-size) stops a page that fills
// the JavaScript heap; this stops one that grows elsewhere (array buffers,
// images, canvases, DOM), which V8's limit does not count.
type memoryWatch struct {
	mu sync.Mutex
	// crashed holds the termination status Chromium reported for each
	// crashed target ("oom", "killed", "crashed", …).
	crashed map[target.ID]string
	// lastKill is when this watch last killed a renderer for its memory.
	lastKill time.Time
	// lastOOM is when the browser's output last said that a renderer ran
	// out of JavaScript heap.
	lastOOM time.Time
	changed chan struct{} // closed and replaced when any of the above changes
	partial []byte        // the output's last unfinished line
}

func newMemoryWatch() *memoryWatch {
	return &memoryWatch{crashed: map[target.ID]string{}, changed: make(chan struct{})}
}

// oomLines are what Chromium's renderers print when they end for want of
// memory: V8's heap limit (blink's v8_oom.cc) and Oilpan's.
var oomLines = [][]byte{[]byte("V8 javascript OOM"), []byte("Out of memory")}

// Write reads the browser's output (stdout and stderr of every Chromium
// process) for out-of-memory reports, and discards it.
func (w *memoryWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := append(w.partial, b...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		data = data[i+1:]
		for _, m := range oomLines {
			if bytes.Contains(line, m) {
				w.lastOOM = time.Now()
				w.notify()
				break
			}
		}
	}
	// Keep at most one line's tail, bounded.
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	w.partial = append(w.partial[:0], data...)
	return len(b), nil
}

// notify wakes the waiters; w.mu is held.
func (w *memoryWatch) notify() {
	close(w.changed)
	w.changed = make(chan struct{})
}

// watchMemory starts following inst's targets and renderers until it
// retires or dies.
func (inst *instance) watchMemory() {
	w := inst.mem
	_ = chromedp.ListenBrowser(inst.ctx, func(ev any) {
		if ev, ok := ev.(*target.EventTargetCrashed); ok {
			w.mu.Lock()
			w.crashed[ev.TargetID] = ev.Status
			w.notify()
			w.mu.Unlock()
		}
	})
	limit := inst.pool.cfg.MaxRendererMemory
	if limit <= 0 || inst.pid <= 0 {
		return
	}
	go func() {
		f := rendererFinder{root: inst.pid}
		t := time.NewTicker(memoryScan)
		defer t.Stop()
		for {
			select {
			case <-inst.quit:
				return
			case <-inst.lost:
				return
			case <-t.C:
			}
			if inst.busy.Load() == 0 {
				continue // only the prepared blank tabs: nothing grows
			}
			for _, r := range f.renderers() {
				if r.RSS <= limit {
					continue
				}
				w.mu.Lock()
				w.lastKill = time.Now()
				w.mu.Unlock()
				inst.pool.memKills.Add(1)
				inst.pool.log.Warn("renderer passed the memory limit; killing it", "pid", r.PID, "rss", r.RSS, "limit", limit)
				_ = syscall.Kill(r.PID, syscall.SIGKILL)
			}
		}
	}()
}

// cause waits (until ctx ends) for Chromium's report of the crash of the
// target id, and says whether memory caused it: Chromium reported the
// renderer out of memory (status "oom", or an out-of-memory line in its
// output around the crash — V8's heap limit ends a renderer with a plain
// "crashed"), or it was killed while this watch had just killed one for its
// size. Several renderers failing within seconds of each other may be
// confused; none is then retried, which errs on the safe side.
func (w *memoryWatch) cause(ctx context.Context, id target.ID) (heap, size bool) {
	for {
		w.mu.Lock()
		status, ok := w.crashed[id]
		recent := func(t time.Time) bool { return !t.IsZero() && time.Since(t) < 5*time.Second }
		heap = status == "oom" || ok && recent(w.lastOOM)
		size = ok && status == "killed" && recent(w.lastKill)
		ch := w.changed
		w.mu.Unlock()
		if heap || size {
			return heap, size
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, false
		}
	}
}

// outOfMemory turns a renderer crash that came from memory into
// page_too_large, which is not retryable: the same page would take the
// same memory again.
func (p *Pool) outOfMemory(t *tab, err error) error {
	var pe *pageshot.Error
	if !errors.As(err, &pe) || pe.Code != pageshot.CodePageCrashed {
		return err
	}
	// The browser's event and output may come a moment after the page's
	// own event.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	heap, size := t.inst.mem.cause(ctx, t.targetID)
	switch {
	case heap:
		return &pageshot.Error{Code: pageshot.CodePageTooLarge, Message: fmt.Sprintf("The page ran out of memory: it passed the JavaScript heap limit of %d bytes.", p.cfg.RendererHeapLimit), Err: err}
	case size:
		return &pageshot.Error{Code: pageshot.CodePageTooLarge, Message: fmt.Sprintf("The page used more than %d bytes of memory.", p.cfg.MaxRendererMemory), Err: err}
	}
	return err
}
