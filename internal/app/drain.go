package app

import (
	"context"
	"errors"
	"time"
)

// ErrDrainExpired is returned by Stop (and Run) when ShutdownTimeout ran
// out before the requests in flight ended. Those were cut off and answered
// service_unavailable (retryable, with Retry-After); the command line
// exits with status 3 for it, 0 after a complete drain.
var ErrDrainExpired = errors.New("the shutdown timeout ran out before the requests in flight ended; they were answered service_unavailable")

// drained turns the error of the server's Shutdown into nil when its only
// fault is the drain's deadline, which stopEngine reports as
// ErrDrainExpired.
func drained(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// stopEngine stops the browser. When the drain's time has run out (ctx is
// done), stopping it cuts off the captures still rendering; their handlers
// then answer service_unavailable, and stopEngine waits (a few seconds at
// most) until those answers are written, before the stores they refund
// quota to are closed.
func (a *App) stopEngine(ctx context.Context) error {
	err := a.pool.Stop(ctx)
	if ctx.Err() == nil {
		return err
	}
	grace, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A second Shutdown waits for the connections still active.
	_ = a.server.Shutdown(grace)
	return errors.Join(err, ErrDrainExpired)
}
