package browser

import (
	"time"

	"github.com/pageshot/pageshot"
)

// cutOff returns the answer of a capture that failed in inst: when the pool
// was stopping and ended inst under it (a drain whose time ran out), the
// failure is the server's, not the target's, whatever the browser said
// (typically net::ERR_ABORTED), so the capture answers
// service_unavailable, retryable elsewhere or later. Other errors pass
// unchanged.
func (p *Pool) cutOff(inst *instance, err error) error {
	if err == nil || !inst.killed.Load() {
		return err
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		return err
	}
	e := pageshot.Errorf(pageshot.CodeServiceUnavailable, "The server shut down during the capture; try again.")
	e.RetryAfter = 5 * time.Second
	e.Err = err
	return e
}
