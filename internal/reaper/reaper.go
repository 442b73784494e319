// Package reaper collects the exit status of orphaned processes when
// pageshot runs as PID 1, as it does in a container started without an
// init. The kernel hands every orphan of the container to PID 1; Chromium
// leaves several (its zygote, renderers and helpers) each time its browser
// process dies or is recycled, and unless PID 1 waits for them they stay
// as <defunct> entries in the process table for good.
package reaper

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/pageshot/pageshot/internal/proc"
)

// Config configures Start. Zero fields take the defaults in their comments.
type Config struct {
	// Grace is how long a child must have been a zombie before it is
	// reaped. The children that this process started itself (the browser,
	// through os/exec) are waited for by their exec.Cmd at once; reaping
	// them here would steal that wait, so only zombies nobody collected for
	// this long are taken. Defaults to a second.
	Grace time.Duration
	// Skip, when set, names children never to reap (such as the current
	// browser's process, which its exec.Cmd waits for).
	Skip func(pid int) bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Reaper waits for orphaned zombie children. Stop ends it.
type Reaper struct {
	cfg      Config
	sigs     chan os.Signal
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu     sync.Mutex
	reaped int
}

// Start begins reaping zombie children of this process on every SIGCHLD
// and every Grace. It is meant for PID 1 (see Needed); elsewhere orphans go
// to the system's init, and the Reaper finds nothing to do.
func Start(cfg Config) *Reaper {
	if cfg.Grace <= 0 {
		cfg.Grace = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Reaper{cfg: cfg, sigs: make(chan os.Signal, 1), stop: make(chan struct{}), done: make(chan struct{})}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	go r.run()
	return r
}

// Needed reports whether this process is PID 1 of its PID namespace, the
// one that inherits orphans.
func Needed() bool { return os.Getpid() == 1 }

// Stop ends the reaper. Safe to call twice.
func (r *Reaper) Stop() {
	r.stopOnce.Do(func() {
		signal.Stop(r.sigs)
		close(r.stop)
		<-r.done
	})
}

// Reaped returns how many zombies the reaper collected.
func (r *Reaper) Reaped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reaped
}

func (r *Reaper) run() {
	defer close(r.done)
	t := time.NewTicker(max(r.cfg.Grace/2, 10*time.Millisecond))
	defer t.Stop()
	seen := map[int]time.Time{} // zombie children and when first seen
	for {
		select {
		case <-r.stop:
			return
		case <-r.sigs:
		case <-t.C:
		}
		now := time.Now()
		zombies := zombieChildren(os.Getpid())
		for pid := range seen {
			if !zombies[pid] {
				delete(seen, pid) // collected by its own exec.Cmd
			}
		}
		for pid := range zombies {
			if r.cfg.Skip != nil && r.cfg.Skip(pid) {
				continue
			}
			first, ok := seen[pid]
			if !ok {
				seen[pid] = now
				continue
			}
			if now.Sub(first) < r.cfg.Grace {
				continue
			}
			var ws syscall.WaitStatus
			got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			if err != nil && !errors.Is(err, syscall.ECHILD) {
				r.cfg.Logger.Warn("reap orphan", "pid", pid, "err", err)
			}
			delete(seen, pid)
			if got == pid {
				r.mu.Lock()
				r.reaped++
				r.mu.Unlock()
				r.cfg.Logger.Debug("reaped orphan", "pid", pid)
			}
		}
	}
}

// zombieChildren returns the children of parent that have exited and wait
// to be collected.
func zombieChildren(parent int) map[int]bool {
	out := map[int]bool{}
	all, _ := proc.List()
	for _, p := range all {
		if p.PPID == parent && p.Zombie() {
			out[p.PID] = true
		}
	}
	return out
}
