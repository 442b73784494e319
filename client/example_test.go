package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/client"
)

// The examples run against the real server TestMain starts: serverURL and
// apiKey stand for your server's address and your key (the first start of
// pageshot serve prints one), targetURL for the page you capture.

func ExampleClient_Screenshot() {
	c := client.New(serverURL, apiKey)
	shot, err := c.Screenshot(context.Background(), &client.Options{
		URL:           targetURL,
		Format:        client.JPEG,
		Quality:       90,
		ViewportWidth: 640, ViewportHeight: 400,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// os.WriteFile("shot.jpg", shot.Data, 0o644)
	fmt.Println(shot.ContentType, shot.Width, shot.Height, shot.ReturnedStatusCode)
	// Output: image/jpeg 640 400 200
}

func ExampleError() {
	c := client.New(serverURL, apiKey)
	_, err := c.Screenshot(context.Background(), &client.Options{URL: "http://169.254.169.254/latest/meta-data/"})
	var e *client.Error
	if errors.As(err, &e) {
		switch {
		case e.Code == client.CodeURLBlocked:
			fmt.Println("refused:", e.Code, e.Status, e.Retryable)
		case e.Code == client.CodeInvalidRequest:
			for _, f := range e.Errors {
				fmt.Println(f.Field, f.Message)
			}
		case e.Retryable:
			fmt.Println("still failing after the retries; try later")
		}
	}
	// Output: refused: url_blocked 403 false
}

func ExampleClient_Wait() {
	ctx := context.Background()
	c := client.New(serverURL, apiKey)
	job, err := c.Submit(ctx, &client.JobRequest{
		Defaults: &client.Options{ViewportWidth: 800, ViewportHeight: 600},
		Items:    []client.Options{{URL: targetURL + "/?one"}, {URL: targetURL + "/?two", Format: client.WebP}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done, err := c.Wait(ctx, job.ID, func(j *client.Job) {
		// Called when the counts change: show a progress bar here.
		_ = fmt.Sprintf("%d/%d", j.Succeeded+j.Failed, j.Total)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(done.Status, done.Succeeded, "of", done.Total)
	for _, it := range done.Items {
		_, contentType, err := c.Artifact(ctx, done.ID, it.Index)
		fmt.Println(it.Index, it.Status, contentType, err)
	}
	// Output:
	// done 2 of 2
	// 0 succeeded image/png <nil>
	// 1 succeeded image/webp <nil>
}

func ExampleSignURL() {
	keyID, _, _ := strings.Cut(apiKey, ".") // the public part of the key
	src, err := client.SignURL(serverURL, keyID, signingSecret,
		&client.Options{URL: targetURL, ViewportWidth: 400, ViewportHeight: 300},
		time.Now().Add(24*time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Put src in an <img>: it needs no key, and stops working tomorrow.
	res, err := http.Get(src)
	if err != nil {
		fmt.Println(err)
		return
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"), strings.Contains(src, apiKey))
	// Output: 200 image/png false
}

func ExampleVerifyWebhook() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // the key's webhook_secret
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := client.VerifyWebhook(secret, r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		// body is {"type": "job.completed", "data": {…the job…}}
		w.WriteHeader(http.StatusNoContent)
	})

	// docs/webhooks.md's test vector, delivered now (its timestamp is old,
	// so it is refused as a possible replay) and again with a fresh
	// timestamp and signature.
	req := httptest.NewRequest("POST", "/hook", strings.NewReader(`{"test": 2432232314}`))
	req.Header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	req.Header.Set("webhook-timestamp", "1614265330")
	req.Header.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	rec := httptest.NewRecorder()
	hook.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	now := strconv.FormatInt(time.Now().Unix(), 10)
	sig, _ := pageshot.WebhookSignature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", now, []byte(`{"test": 2432232314}`))
	req = httptest.NewRequest("POST", "/hook", strings.NewReader(`{"test": 2432232314}`))
	req.Header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	req.Header.Set("webhook-timestamp", now)
	req.Header.Set("webhook-signature", sig)
	rec = httptest.NewRecorder()
	hook.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// 401
	// 204
}

func ExampleClient_Usage() {
	c := client.New(serverURL, apiKey)
	u, err := c.Usage(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(u.Plan.Name, u.Period != "")
	// Output: default true
}

func ExampleWithRetry() {
	// Retry rate_limited, service_unavailable and the other retryable
	// answers up to 6 times, waiting what Retry-After says, or backing off
	// from 1 s with jitter; never wait more than 30 s at once.
	c := client.New(serverURL, apiKey, client.WithRetry(client.RetryPolicy{
		MaxAttempts: 6, BaseDelay: time.Second, MaxDelay: 30 * time.Second,
	}))
	_, err := c.Usage(context.Background())
	fmt.Println(err)
	// Output: <nil>
}
