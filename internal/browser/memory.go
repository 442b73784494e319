package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
			for _, r := range renderers(inst.pid) {
				if r.rss <= limit {
					continue
				}
				w.mu.Lock()
				w.lastKill = time.Now()
				w.mu.Unlock()
				inst.pool.memKills.Add(1)
				inst.pool.log.Warn("renderer passed the memory limit; killing it", "pid", r.pid, "rss", r.rss, "limit", limit)
				_ = syscall.Kill(r.pid, syscall.SIGKILL)
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

// process is a renderer process and its resident memory in bytes.
type process struct {
	pid int
	rss int64
}

// renderers returns the renderer processes under the browser process root.
// It follows the kernel's lists of each thread's children from root down,
// which reads a few dozen small files, rather than every process's stat on
// a busy host (this runs ten times a second per browser); without those
// lists (CONFIG_PROC_CHILDREN) it scans every process.
func renderers(root int) []process {
	if out, ok := renderersByChildren(root); ok {
		return out
	}
	return renderersByScan(root)
}

// renderersByChildren walks root's descendants through
// /proc/PID/task/TID/children. It does not descend into renderers, which
// start no processes; ok is false when the lists cannot be read.
func renderersByChildren(root int) (out []process, ok bool) {
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(root), "task", strconv.Itoa(root), "children")); err != nil {
		return nil, false
	}
	page := int64(os.Getpagesize())
	queue := []int{root}
	for len(queue) > 0 && len(queue) < 4096 {
		pid := queue[0]
		queue = queue[1:]
		dir := filepath.Join("/proc", strconv.Itoa(pid))
		if pid != root {
			cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
			if err != nil {
				continue // gone
			}
			if bytes.Contains(cmdline, []byte("--type=renderer")) {
				if statm, err := os.ReadFile(filepath.Join(dir, "statm")); err == nil {
					if f := strings.Fields(string(statm)); len(f) >= 2 {
						pages, _ := strconv.ParseInt(f[1], 10, 64)
						out = append(out, process{pid: pid, rss: pages * page})
					}
				}
				continue
			}
		}
		tasks, err := os.ReadDir(filepath.Join(dir, "task"))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			children, err := os.ReadFile(filepath.Join(dir, "task", t.Name(), "children"))
			if err != nil {
				continue
			}
			for _, c := range strings.Fields(string(children)) {
				if n, err := strconv.Atoi(c); err == nil {
					queue = append(queue, n)
				}
			}
		}
	}
	return out, true
}

// renderersByScan finds root's renderers by reading every process's
// parent.
func renderersByScan(root int) []process {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	parent := map[int]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		parent[pid], _ = strconv.Atoi(f[1])
	}
	page := int64(os.Getpagesize())
	var out []process
	for pid := range parent {
		under := false
		for q := parent[pid]; q > 1; q = parent[q] {
			if q == root {
				under = true
				break
			}
		}
		if !under {
			continue
		}
		dir := filepath.Join("/proc", strconv.Itoa(pid))
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte("--type=renderer")) {
			continue
		}
		statm, err := os.ReadFile(filepath.Join(dir, "statm"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(statm))
		if len(f) < 2 {
			continue
		}
		pages, _ := strconv.ParseInt(f[1], 10, 64)
		out = append(out, process{pid: pid, rss: pages * page})
	}
	return out
}
