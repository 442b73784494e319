package jobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

// Limits of a job.
const (
	MaxItems = 1000
	MaxDepth = 10
)

// itemOptions are options that belong to a single synchronous capture and
// make no sense on a job item.
var itemOptions = []string{"async", "webhook_url", "response_type", "cache", "cache_ttl", "store"}

// Submit checks r for caller's key and plan, stores the job and queues its
// items. Errors: invalid_request listing every problem, quota_exceeded
// when the job needs more captures than the key has left this month.
func (s *Service) Submit(ctx context.Context, key *pageshot.APIKey, plan pageshot.Plan, r *pageshot.JobRequest) (*pageshot.Job, error) {
	var problems []pageshot.FieldError
	add := func(field, msg string) { problems = append(problems, pageshot.FieldError{Field: field, Message: msg}) }
	lim := (&pageshot.Caller{Key: key, Plan: plan}).Limits(s.cfg.Limits)
	defaults := map[string]json.RawMessage{}
	if len(r.Defaults) > 0 && string(r.Defaults) != "null" {
		if err := json.Unmarshal(r.Defaults, &defaults); err != nil {
			add("defaults", "Must be an object of capture options.")
		}
	}
	for _, name := range append([]string{"url", "html"}, itemOptions...) {
		if _, ok := defaults[name]; ok {
			add("defaults."+name, "Not allowed in defaults.")
		}
	}
	if r.WebhookURL != "" {
		if u, err := url.Parse(r.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("webhook_url", "Must be an absolute http or https URL.")
		} else if err := s.cfg.Guard.CheckURL(ctx, u); err != nil {
			add("webhook_url", "Is not reachable under the egress policy: "+pageshot.AsError(err).Message)
		}
	}

	j := &pageshot.Job{ID: newJobID(), KeyID: key.ID, Kind: pageshot.JobBatch, WebhookURL: r.WebhookURL, CreatedAt: time.Now()}
	j.Defaults, _ = json.Marshal(defaults)
	needed := int64(0)
	switch {
	case r.Crawl != nil && len(r.Items) > 0:
		add("crawl", "Give items or crawl, not both.")
	case r.Crawl == nil && len(r.Items) == 0:
		add("items", "Give a list of items, or a crawl.")
	case r.Crawl != nil:
		c := r.Crawl
		j.Kind, j.Crawl = pageshot.JobCrawl, c
		if c.MaxPages < 1 || c.MaxPages > MaxItems {
			add("crawl.max_pages", fmt.Sprintf("Must be between 1 and %d.", MaxItems))
		}
		if c.MaxDepth < 0 || c.MaxDepth > MaxDepth {
			add("crawl.max_depth", fmt.Sprintf("Must be between 0 and %d.", MaxDepth))
		}
		for field, list := range map[string][]string{"crawl.include": c.Include, "crawl.exclude": c.Exclude} {
			for _, p := range list {
				if _, err := regexp.Compile(p); err != nil {
					add(field, fmt.Sprintf("%q is not a regular expression: %v", p, err))
				}
			}
		}
		opts := merge(defaults, map[string]json.RawMessage{"url": mustJSON(c.URL)})
		problems = append(problems, check(opts, "crawl.", lim, key)...)
		j.Items = []pageshot.JobItem{{URL: c.URL, Options: mustJSON(opts)}}
		needed = int64(c.MaxPages)
	default:
		if len(r.Items) > MaxItems {
			add("items", fmt.Sprintf("Has %d items; the limit is %d.", len(r.Items), MaxItems))
			break
		}
		for i, raw := range r.Items {
			prefix := "items[" + strconv.Itoa(i) + "]."
			var item map[string]json.RawMessage
			if err := json.Unmarshal(raw, &item); err != nil || item == nil {
				add(strings.TrimSuffix(prefix, "."), "Must be an object of capture options.")
				continue
			}
			for _, name := range itemOptions {
				if _, ok := item[name]; ok {
					add(prefix+name, "Not allowed on a job item.")
					delete(item, name)
				}
			}
			opts := merge(defaults, item)
			problems = append(problems, check(opts, prefix, lim, key)...)
			var u string
			_ = json.Unmarshal(opts["url"], &u)
			j.Items = append(j.Items, pageshot.JobItem{URL: u, Options: mustJSON(opts)})
		}
		needed = int64(len(r.Items))
	}
	if len(problems) > 0 {
		return nil, pageshot.InvalidRequest(problems)
	}

	period, reset := pageshot.Period(time.Now())
	q := pageshot.JobQuota{Period: period, Limit: plan.MonthlyQuota, Units: int(needed), TTL: s.cfg.JobReservationTTL}
	u, ok, err := s.cfg.Store.CreateJob(ctx, j, q, func(ctx context.Context, tx any) error {
		return s.queue.insertTx(ctx, tx, j.Items)
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		used := u.Committed + u.Reserved
		e := pageshot.QuotaExceeded(plan, used, reset)
		e.Message = fmt.Sprintf("The job needs up to %d captures; the plan %q has %d of %d left this month.",
			needed, plan.Name, max(0, plan.MonthlyQuota-used), plan.MonthlyQuota)
		return nil, e
	}
	return j, nil
}

// check validates merged options as a capture would, with each problem's
// field prefixed.
func check(opts map[string]json.RawMessage, prefix string, lim pageshot.Limits, key *pageshot.APIKey) []pageshot.FieldError {
	raw, err := pageshot.DecodeJSONOptions(bytes.NewReader(mustJSON(opts)))
	if err == nil {
		_, err = pageshot.ParseOptions(raw, lim)
	}
	if err == nil {
		return nil
	}
	e := pageshot.AsError(err)
	if len(e.Fields) == 0 {
		return []pageshot.FieldError{{Field: strings.TrimSuffix(prefix, "."), Message: e.Message}}
	}
	out := make([]pageshot.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = pageshot.FieldError{Field: prefix + f.Field, Message: f.Message}
	}
	return out
}

func merge(defaults, item map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(defaults)+len(item))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range item {
		out[k] = v
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of raw JSON and strings reach here
	}
	return b
}

// newJobID returns "job_" and 20 random base32 characters.
func newJobID() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return "job_" + strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// Job returns the job id of key, or not_found (also for another key's
// job, whose existence is not revealed).
func (s *Service) Job(ctx context.Context, key *pageshot.APIKey, id string) (*pageshot.Job, error) {
	j, err := s.cfg.Store.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.KeyID != key.ID {
		return nil, pageshot.Errorf(pageshot.CodeNotFound, "No job %q.", id)
	}
	return j, nil
}

// Cancel cancels what has not run of key's job id and returns the job.
func (s *Service) Cancel(ctx context.Context, key *pageshot.APIKey, id string) (*pageshot.Job, error) {
	if _, err := s.Job(ctx, key, id); err != nil {
		return nil, err
	}
	if err := s.cfg.Store.CancelJob(ctx, id); err != nil {
		return nil, err
	}
	j, err := s.cfg.Store.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.Status == pageshot.JobCanceled {
		if err := s.announce(ctx, j); err != nil {
			s.log.Error("queue webhook", "job", id, "err", err)
		}
	}
	return j, nil
}

// Artifact returns the capture of item n of key's job id: not_found while
// the item has none.
func (s *Service) Artifact(ctx context.Context, key *pageshot.APIKey, id string, n int) ([]byte, string, error) {
	j, err := s.Job(ctx, key, id)
	if err != nil {
		return nil, "", err
	}
	if n < 0 || n >= len(j.Items) || j.Items[n].ArtifactKey == "" {
		return nil, "", pageshot.Errorf(pageshot.CodeNotFound, "Item %d of job %s has no artifact.", n, id)
	}
	return s.cfg.Blobs.Get(ctx, j.Items[n].ArtifactKey)
}
