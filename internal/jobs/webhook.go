package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/pageshot/pageshot"
)

// webhookArgs announces the end of a job.
type webhookArgs struct {
	JobID string `json:"job_id"`
}

func (webhookArgs) Kind() string { return "webhook" }

func (webhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueWebhooks, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Event is the body of a webhook delivery.
type Event struct {
	Type      string           `json:"type"` // "job.completed" or "job.canceled"
	Timestamp string           `json:"timestamp"`
	Data      pageshot.JobView `json:"data"`
}

// announce queues the webhook of j, when it has one.
func (s *Service) announce(ctx context.Context, j *pageshot.Job) error {
	if j.WebhookURL == "" {
		return nil
	}
	err := s.queue.insertWebhook(ctx, webhookArgs{JobID: j.ID})
	if err != nil {
		return fmt.Errorf("queue webhook: %w", err)
	}
	return nil
}

type webhookWorker struct {
	river.WorkerDefaults[webhookArgs]
	s *Service
}

// Work delivers the event once; any answer outside 2xx, or no answer, is
// retried by River with backoff. A URL the egress policy now refuses is
// not retried.
func (w *webhookWorker) Work(ctx context.Context, job *river.Job[webhookArgs]) error {
	s := w.s
	j, err := s.cfg.Store.Job(ctx, job.Args.JobID)
	if pageshot.ErrorCode(err) == pageshot.CodeNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	key, err := s.cfg.Store.Key(ctx, j.KeyID)
	if err != nil {
		return err
	}
	typ := "job.completed"
	if j.Status == pageshot.JobCanceled {
		typ = "job.canceled"
	}
	now := time.Now()
	body, err := json.Marshal(Event{Type: typ, Timestamp: now.UTC().Format(time.RFC3339), Data: j.View(s.cfg.BaseURL)})
	if err != nil {
		return err
	}
	// One id for every attempt, so that the receiver can drop repeats.
	id := "msg_" + j.ID
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return river.JobCancel(err)
	}
	sig, err := SignWebhook(key.WebhookSecret, id, now, body)
	if err != nil {
		return river.JobCancel(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pageshot-webhook")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	res, err := s.cfg.Webhooks.Do(req)
	if err != nil {
		if pageshot.ErrorCode(err) == pageshot.CodeURLBlocked {
			s.log.Warn("webhook refused by the egress policy", "job", j.ID, "err", err)
			return river.JobCancel(err)
		}
		s.refused.Add(1)
		return fmt.Errorf("deliver webhook: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		s.refused.Add(1)
		return fmt.Errorf("deliver webhook: the receiver answered %d", res.StatusCode)
	}
	s.delivered.Add(1)
	s.log.Info("webhook delivered", "job", j.ID, "attempt", job.Attempt)
	return nil
}

// SignWebhook returns the webhook-signature header of a delivery by the
// Standard Webhooks convention: "v1," and the base64 HMAC-SHA256, keyed
// with the bytes that secret ("whsec_" and base64) encodes, of
// "id.timestamp.body".
func SignWebhook(secret, id string, at time.Time, body []byte) (string, error) {
	return pageshot.WebhookSignature(secret, id, strconv.FormatInt(at.Unix(), 10), body)
}
