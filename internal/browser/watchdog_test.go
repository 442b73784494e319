package browser

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeBrowser answers probes until frozen, then leaves them unanswered.
type fakeBrowser struct {
	answered chan struct{} // one value per probe answered
	frozen   chan struct{}
	waiting  chan struct{} // one value per probe left unanswered
}

func (f *fakeBrowser) probe(ctx context.Context) error {
	select {
	case <-f.frozen:
		if f.waiting != nil {
			f.waiting <- struct{}{}
		}
		<-ctx.Done()
		return ctx.Err()
	default:
	}
	f.answered <- struct{}{}
	return nil
}

// TestWatchdog: a browser that answers is left alone; one that stops
// answering is reported hung, once, with the probe's error.
func TestWatchdog(t *testing.T) {
	f := &fakeBrowser{answered: make(chan struct{}, 100), frozen: make(chan struct{})}
	hung := make(chan error, 2)
	done := make(chan struct{})
	ran := make(chan struct{})
	go func() {
		watchdog{interval: 10 * time.Millisecond, probe: f.probe, hung: func(err error) { hung <- err }}.run(done)
		close(ran)
	}()
	for range 3 {
		select {
		case <-f.answered:
		case err := <-hung:
			t.Fatalf("an answering browser was reported hung: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no probe")
		}
	}
	close(f.frozen)
	select {
	case err := <-hung:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("hung with %v, want the probe's deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a frozen browser was not reported")
	}
	select {
	case <-ran: // the watchdog ends with its browser
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog did not return after reporting")
	}
	close(done)
}

// TestWatchdogStopped: a probe cut short because the browser is being
// stopped is not a hang.
func TestWatchdogStopped(t *testing.T) {
	f := &fakeBrowser{frozen: make(chan struct{}), waiting: make(chan struct{}, 1)}
	close(f.frozen)
	done := make(chan struct{})
	ran := make(chan struct{})
	hung := make(chan error, 1)
	go func() {
		// The probe's deadline (a second) is far beyond the close below.
		watchdog{interval: time.Second, probe: f.probe, hung: func(err error) { hung <- err }}.run(done)
		close(ran)
	}()
	<-f.waiting
	close(done)
	<-ran
	select {
	case err := <-hung:
		t.Errorf("a browser being stopped was reported hung: %v", err)
	default:
	}
}
