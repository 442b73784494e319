package browser

import (
	"bytes"
	"context"
	"image/png"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// anyURL lets every URL through; the captures here are of html.
type anyURL struct{}

func (anyURL) CheckURL(context.Context, *url.URL) error { return nil }

// TestPrepareBetweenCaptures: with its stock of tabs full, the browser
// prepares no tab while a capture runs, and stocks up again once the
// captures end. Real Chromium, two captures at once.
func TestPrepareBetweenCaptures(t *testing.T) {
	if _, err := FindChrome(); err != nil {
		t.Fatal(err) // make setup installs it
	}
	type start struct {
		busy    int64
		stocked bool
	}
	var (
		mu     sync.Mutex
		starts []start
	)
	prepareHook = func(inst *instance) {
		mu.Lock()
		starts = append(starts, start{inst.busy.Load(), len(inst.ready) == cap(inst.ready)})
		mu.Unlock()
	}
	t.Cleanup(func() { prepareHook = nil })
	prepared := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(starts)
	}

	p, err := New(Config{Guard: anyURL{}, Concurrency: 2, FastPNG: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	inst, err := p.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The stock is full when ready is, and each of the two fillers holds
	// a tab it cannot hand over: four tabs prepared after the launch's
	// own (which goes to ready first).
	full := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			if len(inst.ready) == cap(inst.ready) && inst.busy.Load() == 0 && prepared() >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("stock not full: %d of %d ready, %d busy, %d prepared (want %d)", len(inst.ready), cap(inst.ready), inst.busy.Load(), prepared(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	full(3)
	before := prepared()

	opts, err := pageshot.ParseOptions(pageshot.QueryOptions(url.Values{"html": {`<body style="margin:0;background:#0a0"><p>hello</p>`}}), pageshot.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c, err := p.Render(ctx, opts)
			if err != nil {
				t.Error(err)
				return
			}
			img, err := png.Decode(bytes.NewReader(c.Data))
			if err != nil {
				t.Error(err)
				return
			}
			if r, g, b, _ := img.At(640, 700).RGBA(); r>>8 != 0 || g>>8 != 0xaa || b>>8 != 0 {
				t.Errorf("pixel at (640, 700) = %d,%d,%d, want the page's green 0,170,0", r>>8, g>>8, b>>8)
			}
		})
	}
	wg.Wait()
	// Both tabs taken are replaced once the captures end.
	full(before + 2)

	mu.Lock()
	defer mu.Unlock()
	for i, s := range starts {
		if s.busy > 0 && s.stocked {
			t.Errorf("tab %d was prepared while %d captures ran with the stock full", i+1, s.busy)
		}
	}
}
