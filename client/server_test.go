package client_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	_ "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pageshot/pageshot/client"
)

// near reports whether c is within tol of want in every channel.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(x uint32, y uint8) bool { v := int(x>>8) - int(y); return v <= tol && v >= -tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

var (
	red   = color.RGBA{0xcc, 0, 0, 255}
	blue  = color.RGBA{0, 0, 0xff, 255}
	green = color.RGBA{0, 0xff, 0, 255}
)

func decode(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode the capture: %v", err)
	}
	return img
}

// wantPixels checks sampled pixels of img.
func wantPixels(t *testing.T, img image.Image, want map[image.Point]color.RGBA) {
	t.Helper()
	for p, c := range want {
		if got := img.At(p.X, p.Y); !near(got, c, 8) {
			t.Errorf("pixel %v = %v, want %v", p, got, c)
		}
	}
}

// retries records the retries a client makes.
type retries struct {
	mu    sync.Mutex
	errs  []error
	waits []time.Duration
}

func (r *retries) policy() client.RetryPolicy {
	return client.RetryPolicy{MaxAttempts: 3, OnRetry: func(_ int, err error, wait time.Duration) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.errs, r.waits = append(r.errs, err), append(r.waits, wait)
	}}
}

func (r *retries) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

// TestAgainstServer is a program using only the client against a real
// server: every call below goes through package client.
func TestAgainstServer(t *testing.T) {
	ctx := context.Background()
	var rec retries
	c := client.New(serverURL, apiKey, client.WithRetry(rec.policy()))

	t.Run("capture", func(t *testing.T) {
		shot, err := c.Screenshot(ctx, &client.Options{URL: targetURL + "/", ViewportWidth: 400, ViewportHeight: 300})
		if err != nil {
			t.Fatal(err)
		}
		if shot.Format != client.PNG || shot.Width != 400 || shot.Height != 300 || shot.ReturnedStatusCode != 200 || shot.RequestID == "" {
			t.Errorf("capture: %+v", *shot)
		}
		img := decode(t, shot.Data)
		if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 300 {
			t.Fatalf("image is %v", b)
		}
		wantPixels(t, img, map[image.Point]color.RGBA{{10, 10}: red, {150, 75}: blue, {350, 250}: red})

		// The json answer of a stored capture carries its URL.
		shot, err = c.Screenshot(ctx, &client.Options{URL: targetURL + "/", ViewportWidth: 400, ViewportHeight: 300, Store: true, ResponseType: client.ResponseJSON})
		if err != nil {
			t.Fatal(err)
		}
		if shot.URL == "" || shot.Data != nil || shot.Bytes == 0 || shot.Width != 400 {
			t.Fatalf("json capture: %+v", *shot)
		}
		res, err := http.Get(shot.URL)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := io.ReadAll(res.Body)
		res.Body.Close()
		wantPixels(t, decode(t, stored), map[image.Point]color.RGBA{{150, 75}: blue})
	})

	t.Run("url_blocked is a typed error, not retried", func(t *testing.T) {
		before := rec.count()
		_, err := c.Screenshot(ctx, &client.Options{URL: "http://10.1.2.3/"})
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("err = %v, want a *client.Error", err)
		}
		if e.Code != client.CodeURLBlocked || e.Status != 403 || e.Retryable || e.Reason == "" || e.RequestID == "" ||
			e.Type != "/docs/errors#url_blocked" || string(e.Members["reason"]) == "" {
			t.Errorf("error: %+v", *e)
		}
		if n := rec.count() - before; n != 0 {
			t.Errorf("retried %d times", n)
		}
		// invalid_request lists every problem.
		_, err = c.Screenshot(ctx, &client.Options{URL: targetURL, Quality: 50, Delay: 20000})
		if !errors.As(err, &e) || e.Code != client.CodeInvalidRequest || len(e.Errors) != 2 {
			t.Errorf("invalid request: %v", err)
		}
	})

	t.Run("rate_limited is retried after its Retry-After", func(t *testing.T) {
		k := newKey(t, "metered")
		// Spend the key's burst without retrying, until the server refuses.
		spender := client.New(serverURL, k.Key, client.WithoutRetry())
		var limited *client.Error
		for i := 0; i < 200 && limited == nil; i++ {
			_, err := spender.Usage(ctx)
			if err != nil && !errors.As(err, &limited) {
				t.Fatal(err)
			}
		}
		if limited == nil || limited.Code != client.CodeRateLimited || !limited.Retryable || limited.RetryAfter <= 0 {
			t.Fatalf("no rate_limited answer with a Retry-After: %+v", limited)
		}
		// A Retry-After longer than the policy's MaxDelay ends the retries
		// with the server's error, at once.
		var impatient retries
		p := impatient.policy()
		p.MaxDelay = limited.RetryAfter / 2
		_, err := client.New(serverURL, k.Key, client.WithRetry(p)).Usage(ctx)
		if !isCode(err, client.CodeRateLimited) || impatient.count() != 0 {
			t.Fatalf("with MaxDelay %v: %v after %d retries", p.MaxDelay, err, impatient.count())
		}

		var r retries
		metered := client.New(serverURL, k.Key, client.WithRetry(r.policy()))
		shot, err := metered.Screenshot(ctx, &client.Options{URL: targetURL + "/", ViewportWidth: 400, ViewportHeight: 300})
		if err != nil {
			t.Fatal(err)
		}
		wantPixels(t, decode(t, shot.Data), map[image.Point]color.RGBA{{150, 75}: blue})
		if len(r.errs) != 1 {
			t.Fatalf("%d retries (%v), want 1", len(r.errs), r.errs)
		}
		var e *client.Error
		if !errors.As(r.errs[0], &e) || e.Code != client.CodeRateLimited || e.RetryAfter <= 0 {
			t.Fatalf("retried after %v", r.errs[0])
		}
		if r.waits[0] != e.RetryAfter {
			t.Errorf("waited %v, but Retry-After said %v", r.waits[0], e.RetryAfter)
		}
	})

	t.Run("job waited to its end with progress", func(t *testing.T) {
		j, err := c.Submit(ctx, &client.JobRequest{
			Defaults: &client.Options{ViewportWidth: 400, ViewportHeight: 300},
			Items:    []client.Options{{URL: targetURL + "/?a"}, {URL: targetURL + "/?b"}, {URL: "http://10.1.2.3/"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var seen []client.Job
		done, err := c.Wait(ctx, j.ID, func(j *client.Job) { seen = append(seen, *j) })
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != client.JobDone || done.Total != 3 || done.Succeeded != 2 || done.Failed != 1 {
			t.Fatalf("job ended %+v", done)
		}
		if len(seen) == 0 || seen[len(seen)-1].Status != client.JobDone || seen[len(seen)-1].Succeeded != 2 {
			t.Fatalf("progress reported %+v", seen)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i].Succeeded+seen[i].Failed < seen[i-1].Succeeded+seen[i-1].Failed {
				t.Errorf("progress went back: %+v then %+v", seen[i-1], seen[i])
			}
		}
		if it := done.Items[2]; it.Status != client.ItemFailed || it.ErrorCode == nil || *it.ErrorCode != client.CodeURLBlocked {
			t.Errorf("item 2: %+v", it)
		}
		data, ct, err := c.Artifact(ctx, j.ID, 0)
		if err != nil || ct != "image/png" {
			t.Fatalf("artifact: %v %q", err, ct)
		}
		wantPixels(t, decode(t, data), map[image.Point]color.RGBA{{10, 10}: red, {150, 75}: blue})
		if _, _, err := c.Artifact(ctx, j.ID, 2); !isCode(err, client.CodeNotFound) {
			t.Errorf("artifact of a failed item: %v", err)
		}
	})

	t.Run("a signed URL loads in Chromium's img", func(t *testing.T) {
		keyID, _, _ := strings.Cut(apiKey, ".")
		signed, err := client.SignURL(serverURL, keyID, signingSecret,
			&client.Options{URL: targetURL + "/", ViewportWidth: 200, ViewportHeight: 100}, time.Now().Add(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		// pageshot's Chromium renders a page whose <img> is the signed URL.
		shot, err := c.Screenshot(ctx, &client.Options{URL: targetURL + "/embed?src=" + url.QueryEscape(signed), ViewportWidth: 400, ViewportHeight: 200})
		if err != nil {
			t.Fatal(err)
		}
		wantPixels(t, decode(t, shot.Data), map[image.Point]color.RGBA{{10, 10}: red, {150, 75}: blue, {300, 50}: green, {100, 150}: green})

		// Altered, it is refused.
		u, _ := url.Parse(signed)
		q := u.Query()
		q.Set("viewport_width", "300")
		u.RawQuery = q.Encode()
		res, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 || res.Header.Get("X-Error-Code") != "invalid_signature" {
			t.Errorf("altered URL: %d %s", res.StatusCode, res.Header.Get("X-Error-Code"))
		}
	})

	t.Run("a webhook verified", func(t *testing.T) {
		verified := make(chan error, 4)
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if err := client.VerifyWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", r.Header, body, time.Now()); err == nil {
				verified <- errors.New("verified with another key's secret")
			}
			verified <- client.VerifyWebhook(webhookSecret, r.Header, body, time.Now())
		}))
		defer hook.Close()
		j, err := c.Submit(ctx, &client.JobRequest{Items: []client.Options{{URL: targetURL + "/?hook"}}, WebhookURL: hook.URL + "/hook"})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-verified:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("no webhook for job %s", j.ID)
		}
	})
}

func isCode(err error, code client.Code) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Code == code
}
