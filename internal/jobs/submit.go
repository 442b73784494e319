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

// Request is the body of POST /v1/jobs: a batch (Items, with Defaults) or
// a crawl.
type Request struct {
	Items      []json.RawMessage `json:"items"`
	Defaults   json.RawMessage   `json:"defaults"`
	Crawl      *pageshot.Crawl   `json:"crawl"`
	WebhookURL string            `json:"webhook_url"`
}

// Limits of a job.
const (
	MaxItems        = 1000
	DefaultMaxPages = 10
	DefaultMaxDepth = 2
	MaxDepth        = 10
)

// itemOptions are options that belong to a single synchronous capture and
// make no sense on a job item.
var itemOptions = []string{"async", "webhook_url", "response_type", "cache", "cache_ttl", "store"}

// DecodeRequest reads a job request, reporting every problem at once as an
// invalid_request.
func DecodeRequest(body []byte) (*Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, pageshot.InvalidRequest([]pageshot.FieldError{{Field: "", Message: "The body is not a job: " + err.Error()}})
	}
	return &r, nil
}

// Submit checks r for caller's key and plan, stores the job and queues its
// items. Errors: invalid_request listing every problem, quota_exceeded
// when the job needs more captures than the key has left this month.
func (s *Service) Submit(ctx context.Context, key *pageshot.APIKey, plan pageshot.Plan, r *Request) (*pageshot.Job, error) {
	var problems []pageshot.FieldError
	add := func(field, msg string) { problems = append(problems, pageshot.FieldError{Field: field, Message: msg}) }
	lim := s.cfg.Limits
	if plan.MaxTimeout > 0 {
		lim.MaxTimeout = plan.MaxTimeout
	}
	lim = plan.FullPageLimits(lim)
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
		if c.MaxPages == 0 {
			c.MaxPages = DefaultMaxPages
		}
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

	if plan.MonthlyQuota > 0 {
		period, reset := pageshot.Period(time.Now())
		u, err := s.cfg.Store.Usage(ctx, key.ID, period)
		if err != nil {
			return nil, err
		}
		if used := u.Committed + u.Reserved; used+needed > plan.MonthlyQuota {
			e := pageshot.QuotaExceeded(plan, used, reset)
			e.Message = fmt.Sprintf("The job needs up to %d captures; the plan %q has %d of %d left this month.",
				needed, plan.Name, max(0, plan.MonthlyQuota-used), plan.MonthlyQuota)
			return nil, e
		}
	}
	if err := s.cfg.Store.CreateJob(ctx, j); err != nil {
		return nil, err
	}
	if err := s.enqueue(ctx, j.Items); err != nil {
		return nil, err
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

// JobView is a job as the API shows it.
type JobView struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"`
	Total      int        `json:"total"`
	Succeeded  int        `json:"succeeded"`
	Failed     int        `json:"failed"`
	WebhookURL string     `json:"webhook_url,omitempty"`
	CreatedAt  int64      `json:"created_at"`
	FinishedAt *int64     `json:"finished_at"`
	Items      []ItemView `json:"items"`
}

// ItemView is a job item as the API shows it.
type ItemView struct {
	Index              int     `json:"index"`
	URL                string  `json:"url"`
	Status             string  `json:"status"`
	ErrorCode          *string `json:"error_code"`
	ErrorMessage       *string `json:"error_message"`
	ReturnedStatusCode *int    `json:"returned_status_code"`
	ArtifactURL        *string `json:"artifact_url"`
}

// View returns j as the API shows it; base is the server's URL, for the
// artifact links.
func View(j *pageshot.Job, base string) JobView {
	total, ok, failed := j.Counts()
	v := JobView{
		ID: j.ID, Kind: j.Kind, Status: string(j.Status), Total: total, Succeeded: ok, Failed: failed,
		WebhookURL: j.WebhookURL, CreatedAt: j.CreatedAt.Unix(), Items: make([]ItemView, len(j.Items)),
	}
	if !j.FinishedAt.IsZero() {
		t := j.FinishedAt.Unix()
		v.FinishedAt = &t
	}
	for i, it := range j.Items {
		iv := ItemView{Index: it.Index, URL: it.URL, Status: string(it.Status)}
		if it.ErrorCode != "" {
			code, msg := string(it.ErrorCode), it.ErrorMessage
			iv.ErrorCode, iv.ErrorMessage = &code, &msg
		}
		if it.ReturnedStatusCode != 0 {
			rs := it.ReturnedStatusCode
			iv.ReturnedStatusCode = &rs
		}
		if it.ArtifactKey != "" {
			u := base + "/v1/jobs/" + j.ID + "/items/" + strconv.Itoa(it.Index) + "/artifact"
			iv.ArtifactURL = &u
		}
		v.Items[i] = iv
	}
	return v
}
