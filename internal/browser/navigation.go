package browser

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"

	"github.com/pageshot/pageshot"
)

// navigation follows the main frame's documents. A page may replace itself
// (location.replace, location.href, location.reload, a meta refresh, a
// script of the capture) while it loads or after: the wait must follow the
// newest document, not the loader the first navigation started, which
// never fires its events once replaced.
type navigation struct {
	mu        sync.Mutex
	committed cdp.LoaderID          // the main frame's current document
	commits   int                   // cross-document commits so far
	pending   map[cdp.LoaderID]bool // navigations started, neither committed nor ended
	onCommit  func()                // called on each commit, when set
	// unreachable is the URL whose failure the current document, a
	// Chromium error page, stands for; failure is the net error of the
	// last navigation that failed.
	unreachable, failure string
	// failedSince is failure when that navigation failed, rather than
	// gave way to another, after the current document committed:
	// Chromium is about to commit its error page in its place.
	failedSince string
}

// observe records what ev tells about the main frame's navigations. It
// reports whether anything changed.
func (n *navigation) observe(main cdp.FrameID, ev any) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pending == nil {
		n.pending = map[cdp.LoaderID]bool{}
	}
	switch ev := ev.(type) {
	case *page.EventFrameStartedNavigating:
		if ev.FrameID != main || ev.NavigationType == page.FrameStartedNavigatingNavigationTypeSameDocument ||
			ev.NavigationType == page.FrameStartedNavigatingNavigationTypeHistorySameDocument {
			return false
		}
		n.pending[ev.LoaderID] = true
	case *network.EventRequestWillBeSent:
		if ev.Type != network.ResourceTypeDocument || ev.FrameID != main || string(ev.RequestID) != string(ev.LoaderID) {
			return false
		}
		n.pending[ev.LoaderID] = true
	case *page.EventFrameNavigated:
		if ev.Frame == nil || ev.Frame.ID != main {
			return false
		}
		n.committed = ev.Frame.LoaderID
		n.unreachable = ev.Frame.UnreachableURL
		n.failedSince = ""
		n.commits++
		delete(n.pending, ev.Frame.LoaderID)
		if n.onCommit != nil {
			n.onCommit()
		}
	case *network.EventLoadingFailed:
		if !n.pending[cdp.LoaderID(ev.RequestID)] {
			return false
		}
		delete(n.pending, cdp.LoaderID(ev.RequestID))
		n.failure = ev.ErrorText
		if !ev.Canceled && ev.ErrorText != "net::ERR_ABORTED" { // not one another navigation replaced
			n.failedSince = ev.ErrorText
		}
	case *page.EventFrameStoppedLoading:
		// Whatever was started has committed, failed or been dropped
		// (a 204, a download, a navigation the browser refused).
		if ev.FrameID != main || len(n.pending) == 0 {
			return false
		}
		clear(n.pending)
	default:
		return false
	}
	return true
}

// failedSinceCommit returns the net error of a navigation that failed,
// rather than gave way to another, after the current document committed;
// "" when there is none.
func (n *navigation) failedSinceCommit() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.failedSince
}

// state returns the current document, whether a navigation is under way,
// and the number of commits so far.
func (n *navigation) state() (cdp.LoaderID, bool, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.committed, len(n.pending) > 0, n.commits
}

// settle waits until no navigation of the main frame is under way and its
// current document (first, the one of the first navigation) has fired the
// wait_until event.
func (r *renderer) settle(ctx context.Context, first cdp.LoaderID) error {
	want := lifecycleName[r.o.WaitUntil]
	for {
		loader, busy, _ := r.nav.state()
		if loader == "" {
			loader = first
		}
		if !busy && loader != "" && r.ev.seen(loader, want) {
			return nil
		}
		select {
		case <-r.ev.changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// follow is called after the page has had time to move (scripts, clicks,
// the delay): when it navigated since the first wait, it waits for the new
// document as for the first one, within the navigation timeout, and
// reports a refused or failed destination.
func (r *renderer) follow(ctx context.Context, commitsBefore int) error {
	if _, busy, commits := r.nav.state(); !busy && commits == commitsBefore {
		return r.egressRefusal()
	}
	ctx, cancel := context.WithTimeoutCause(ctx, r.o.NavigationTimeout, errNavBudget)
	defer cancel()
	if err := r.settle(ctx, ""); err != nil {
		return err
	}
	return r.landed()
}

// landed checks the document the main frame ended on: the egress proxy's
// refusal, or the target's error status, fail the capture.
func (r *renderer) landed() error {
	if err := r.egressRefusal(); err != nil {
		return err
	}
	status, _ := r.ev.response()
	r.nav.mu.Lock()
	unreachable, failure := r.nav.unreachable, r.nav.failure
	r.nav.mu.Unlock()
	if unreachable != "" {
		// The page moved somewhere that failed; Chromium's error page is
		// not the capture.
		return navError(cmp.Or(failure, "net::ERR_FAILED"), status, r.o.IgnoreHostErrors)
	}
	if status != 0 && (status < 200 || status > 399) && !r.o.IgnoreHostErrors {
		e := pageshot.Errorf(pageshot.CodeHostReturnedError, "The target answered with HTTP status %d.", status)
		e.ReturnedStatusCode = status
		return e
	}
	return nil
}

// signal wakes the waits of settle.
func (c *capture) signal() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// watch calls f on every commit of a new document until the returned stop
// is called.
func (n *navigation) watch(f func()) (stop func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.onCommit = f
	return func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.onCommit = nil
	}
}

// detached reports whether err is Chromium's answer to a call whose page
// went away under it, although no commit has been seen yet (the events of
// a navigation that swaps renderer processes may come after it).
func detached(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Not attached to an active page") || strings.Contains(msg, "Inspected target navigated or closed") ||
		strings.Contains(msg, "Execution context was destroyed")
}

// errMoved cancels a step whose page was replaced under it.
var errMoved = errors.New("the page navigated")

// maxMoves bounds how many times the capture follows a page that keeps
// replacing itself while it is being captured.
const maxMoves = 5

// still runs shoot, the capture of the image, on a page that stays put: a
// document committed while it runs (a meta refresh, a timer) cancels it
// (Chromium does not answer a screenshot whose page went away), and it runs
// again on the new document once that one has loaded. The capture of a
// page that keeps moving fails after maxMoves.
func (r *renderer) still(ctx context.Context, shoot func(context.Context) error) error {
	for moves := 0; ; moves++ {
		_, _, commits := r.nav.state()
		sctx, cancel := context.WithCancelCause(ctx)
		stop := r.nav.watch(func() { cancel(errMoved) })
		err := shoot(sctx)
		stop()
		cancel(nil)
		if _, _, now := r.nav.state(); now == commits {
			return err
		}
		if moves == maxMoves {
			return &pageshot.Error{Code: pageshot.CodeTimeout, Phase: pageshot.PhaseRender, Message: "The page kept navigating; it was never still long enough to be captured."}
		}
		if err := r.follow(ctx, commits); err != nil {
			return err
		}
	}
}

// prepareFollowing runs prepare on the document the page settled on. When
// a step of it fails because the page moved under it (a click on a link, a
// timer, a meta refresh: the document it worked on is gone), it follows
// the page and prepares the new document, at most maxMoves times, without
// the actions (click, scripts), which ran already and must not run twice;
// waits, styles, hidden elements, the delay and the content check apply
// to the new document. A page that moves after prepare is followed too.
// commits is the count the first wait ended at.
func (r *renderer) prepareFollowing(ctx context.Context, commits int) error {
	for moves := 0; ; moves++ {
		err := r.prepare(ctx)
		if err == nil {
			return r.follow(ctx, commits)
		}
		var pe *pageshot.Error
		_, busy, now := r.nav.state()
		if errors.As(err, &pe) || ctx.Err() != nil || (!busy && now == commits && !detached(err)) || moves == maxMoves {
			return err
		}
		if err := r.follow(ctx, commits); err != nil {
			return err
		}
		_, _, commits = r.nav.state()
		o := *r.o
		o.Click, o.Scripts = "", ""
		r.o = &o
	}
}
