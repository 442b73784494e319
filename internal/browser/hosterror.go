package browser

import (
	"context"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// emptyErrorResponse is what Chromium's error page is replaced with when the
// target answers an error status with an empty body and ignore_host_errors
// is on.
const emptyErrorResponse = "<!doctype html><html><head></head><body></body></html>"

// showEmptyResponse puts the empty document the target served in place of
// the error page Chromium shows for an error status without a body, so that
// ignore_host_errors captures what the target answered, not the browser's
// own message.
func (r *renderer) showEmptyResponse(ctx context.Context) error {
	_, err := chromedp.Call(ctx, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: r.mainFrame(), HTML: emptyErrorResponse})
	return err
}
