package browser

import (
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
)

// TestNavigationFailedSince: a main-frame navigation that fails after the
// document committed is remembered until the next commit (Chromium's
// error page, or another document); one that gave way to another
// navigation (net::ERR_ABORTED, canceled) or a subframe's is not.
func TestNavigationFailedSince(t *testing.T) {
	const main = cdp.FrameID("main")
	var n navigation
	start := func(loader cdp.LoaderID, frame cdp.FrameID) {
		n.observe(main, &page.EventFrameStartedNavigating{FrameID: frame, LoaderID: loader, NavigationType: page.FrameStartedNavigatingNavigationTypeDifferentDocument})
		n.observe(main, &network.EventRequestWillBeSent{Type: network.ResourceTypeDocument, FrameID: frame, RequestID: network.RequestID(loader), LoaderID: loader})
	}
	commit := func(loader cdp.LoaderID, unreachable string) {
		n.observe(main, &page.EventFrameNavigated{Frame: &cdp.Frame{ID: main, LoaderID: loader, UnreachableURL: unreachable}})
	}
	fail := func(loader cdp.LoaderID, text string, canceled bool) {
		n.observe(main, &network.EventLoadingFailed{RequestID: network.RequestID(loader), ErrorText: text, Canceled: canceled})
	}

	start("first", main)
	commit("first", "")
	start("refresh", main)
	fail("refresh", "net::ERR_UNSAFE_PORT", false)
	if got := n.failedSinceCommit(); got != "net::ERR_UNSAFE_PORT" {
		t.Fatalf("after the failure: %q", got)
	}
	commit("refresh", "http://127.0.0.1:6000/") // Chromium's error page
	if got := n.failedSinceCommit(); got != "" {
		t.Errorf("after the error page committed: %q", got)
	}

	start("replaced", main)
	fail("replaced", "net::ERR_ABORTED", true)
	start("sub", "frame-2")
	fail("sub", "net::ERR_CONNECTION_REFUSED", false)
	if got := n.failedSinceCommit(); got != "" {
		t.Errorf("a navigation given way to another, and a subframe's: %q", got)
	}
}
