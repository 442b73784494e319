package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pageshot/pageshot"
)

// JobRequest is an async job: a batch of Items over Defaults, or a Crawl.
type JobRequest struct {
	Items    []Options `json:"items,omitempty"`
	Defaults *Options  `json:"defaults,omitempty"`
	Crawl    *Crawl    `json:"crawl,omitempty"`
	// WebhookURL receives the job's end (see VerifyWebhook).
	WebhookURL string `json:"webhook_url,omitempty"`
}

// Crawl describes a crawl job: pages reached by links from URL.
type Crawl = pageshot.Crawl

// Job states.
const (
	JobQueued   = "queued"
	JobRunning  = "running"
	JobDone     = "done"
	JobCanceled = "canceled"
)

// Item states; succeeded, failed and canceled are final.
const (
	ItemQueued    = "queued"
	ItemRunning   = "running"
	ItemSucceeded = "succeeded"
	ItemFailed    = "failed"
	ItemCanceled  = "canceled"
)

// Job is an async job as the server shows it.
type Job struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`   // batch or crawl
	Status     string    `json:"status"` // JobQueued, JobRunning, JobDone or JobCanceled
	Total      int       `json:"total"`
	Succeeded  int       `json:"succeeded"`
	Failed     int       `json:"failed"`
	WebhookURL string    `json:"webhook_url,omitempty"`
	CreatedAt  int64     `json:"created_at"`  // unix seconds
	FinishedAt *int64    `json:"finished_at"` // unix seconds, once ended
	Items      []JobItem `json:"items"`
}

// Ended reports whether the job is done or canceled.
func (j *Job) Ended() bool { return j.Status == JobDone || j.Status == JobCanceled }

// JobItem is one capture of a job.
type JobItem struct {
	Index              int     `json:"index"`
	URL                string  `json:"url"`
	Status             string  `json:"status"`
	ErrorCode          *Code   `json:"error_code"`
	ErrorMessage       *string `json:"error_message"`
	ReturnedStatusCode *int    `json:"returned_status_code"`
	ArtifactURL        *string `json:"artifact_url"`
}

// Submit creates a job (POST /v1/jobs). A failed connection is not retried,
// since the server may have created the job; retryable error answers are.
func (c *Client) Submit(ctx context.Context, r *JobRequest) (*Job, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("pageshot: encode the job: %w", err)
	}
	return c.job(ctx, request{method: http.MethodPost, path: "/v1/jobs", body: body})
}

// Get returns the job id with its items.
func (c *Client) Get(ctx context.Context, id string) (*Job, error) {
	return c.job(ctx, request{method: http.MethodGet, path: "/v1/jobs/" + url.PathEscape(id), retryConnErrors: true})
}

// Cancel cancels the items of job id that have not started and returns the
// job.
func (c *Client) Cancel(ctx context.Context, id string) (*Job, error) {
	return c.job(ctx, request{method: http.MethodDelete, path: "/v1/jobs/" + url.PathEscape(id), retryConnErrors: true})
}

func (c *Client) job(ctx context.Context, r request) (*Job, error) {
	_, data, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var j Job
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("pageshot: decode the job: %w", err)
	}
	return &j, nil
}

// Artifact returns the image of item index n of job id and its media type.
func (c *Client) Artifact(ctx context.Context, id string, n int) (data []byte, contentType string, err error) {
	res, data, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/jobs/" + url.PathEscape(id) + "/items/" + strconv.Itoa(n) + "/artifact", retryConnErrors: true})
	if err != nil {
		return nil, "", err
	}
	return data, res.Header.Get("Content-Type"), nil
}

// Wait polls job id until it is done or canceled and returns it. progress,
// if not nil, is called with the job after every poll whose counts or
// status changed, the first included. Polls start 250 ms apart and slow
// down by half each time to at most 5 s. Wait ends early with ctx's error,
// or with the error of a poll that failed after the client's retries.
func (c *Client) Wait(ctx context.Context, id string, progress func(*Job)) (*Job, error) {
	const first, most = 250 * time.Millisecond, 5 * time.Second
	delay := first
	var last *Job
	for {
		j, err := c.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if progress != nil && (last == nil || last.Status != j.Status || last.Succeeded != j.Succeeded || last.Failed != j.Failed || last.Total != j.Total) {
			progress(j)
		}
		last = j
		if j.Ended() {
			return j, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		delay = min(most, delay*3/2)
	}
}

// Usage is the key's plan and its use this period.
type Usage struct {
	KeyID string `json:"key_id"`
	Name  string `json:"name"`
	Plan  struct {
		Name           string `json:"name"`
		MonthlyQuota   int64  `json:"monthly_quota"` // 0: unlimited
		RatePerMinute  int    `json:"rate_per_minute"`
		MaxConcurrency int    `json:"max_concurrency"`
		MaxTimeout     int    `json:"max_timeout"` // seconds
	} `json:"plan"`
	Period    string `json:"period"`
	Used      int64  `json:"used"`
	InFlight  int64  `json:"in_flight"`
	Remaining *int64 `json:"remaining"` // nil when the quota is unlimited
	ResetAt   int64  `json:"reset_at"`  // unix seconds
}

// Usage returns the key's plan and usage (GET /v1/usage).
func (c *Client) Usage(ctx context.Context) (*Usage, error) {
	_, data, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/usage", retryConnErrors: true})
	if err != nil {
		return nil, err
	}
	var u Usage
	if err := json.Unmarshal(data, &u); err != nil {
		return nil, fmt.Errorf("pageshot: decode usage: %w", err)
	}
	return &u, nil
}
