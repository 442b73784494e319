package browser

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

// idleQuiet is how long the network must stay (almost) silent for
// networkidle and networkidle2.
const idleQuiet = 500 * time.Millisecond

// open returns the URLs of the requests in flight, oldest first.
func (n *netTracker) open() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	reqs := make([]request, 0, len(n.inflight))
	for _, r := range n.inflight {
		reqs = append(reqs, r)
	}
	slices.SortFunc(reqs, func(a, b request) int { return a.start.Compare(b.start) })
	urls := make([]string, len(reqs))
	for i, r := range reqs {
		urls[i] = r.url
	}
	return urls
}

// waitNetworkIdle runs after the load event for wait_until networkidle (no
// request in flight for 500 ms) and networkidle2 (at most 2). It waits
// until the navigation timeout, and never into the part of the budget the
// picture needs: a page that has loaded but never goes quiet (a long poll,
// a live feed, analytics beacons) is then captured as it is, rather than
// failing.
func (r *renderer) waitNetworkIdle(ctx context.Context, navStart time.Time) error {
	maxOpen := 0
	switch r.o.WaitUntil {
	case pageshot.WaitNetworkIdle:
	case pageshot.WaitNetworkIdle2:
		maxOpen = 2
	default:
		return nil
	}
	end := navStart.Add(r.o.NavigationTimeout)
	if dl, ok := ctx.Deadline(); ok {
		end = minTime(end, dl.Add(-min(passReserve, r.o.Timeout/3)))
	}
	var quietSince time.Time
	for {
		now := time.Now()
		if len(r.net.open()) <= maxOpen {
			if quietSince.IsZero() {
				quietSince = now
			}
			if now.Sub(quietSince) >= idleQuiet {
				return nil
			}
		} else {
			quietSince = time.Time{}
		}
		if !now.Before(end) {
			r.t.inst.pool.log.Debug("network never went idle; capturing the loaded page", "wait_until", r.o.WaitUntil, "open", r.net.open())
			return nil
		}
		select {
		case <-time.After(pollEvery):
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// stillLoading tells, for a timeout's message, which requests were still
// in flight: "" when none.
func (r *renderer) stillLoading() string {
	open := r.net.open()
	if len(open) == 0 {
		return ""
	}
	shown := open[:min(len(open), 3)]
	for i, u := range shown {
		if len(u) > 120 {
			shown[i] = u[:120] + "…"
		}
	}
	more := ""
	if len(open) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(open)-len(shown))
	}
	noun := "requests were"
	if len(open) == 1 {
		noun = "request was"
	}
	return fmt.Sprintf(" %d %s still loading: %s%s.", len(open), noun, strings.Join(shown, ", "), more)
}
