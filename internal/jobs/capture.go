package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/pageshot/pageshot"
)

// captureArgs names one item; everything else is read from the store when
// the item runs, so a rerun sees the item's current state.
type captureArgs struct {
	JobID string `json:"job_id"`
	Index int    `json:"index"`
	// Rescue tells a run queued for an item whose node died (see
	// rescue.go) from the item's first one, which River still holds as
	// running: the two must not be taken for duplicates.
	Rescue int64 `json:"rescue,omitempty"`
}

func (captureArgs) Kind() string { return "capture" }

func (captureArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: queueCaptures, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type captureWorker struct {
	river.WorkerDefaults[captureArgs]
	s *Service
}

// Work runs one item: it captures, uploads the artifact, and records the
// end of the item with its charge in one store transaction. A retryable
// failure (connection refused, the target's 503, a storage outage) returns
// an error so that River runs the item again after a backoff, until its
// attempts are spent; any other failure ends the item.
func (w *captureWorker) Work(ctx context.Context, job *river.Job[captureArgs]) error {
	s := w.s
	a := job.Args
	j, err := s.cfg.Store.Job(ctx, a.JobID)
	if pageshot.ErrorCode(err) == pageshot.CodeNotFound {
		return nil // deleted
	}
	if err != nil {
		return err
	}
	if a.Index >= len(j.Items) || j.Items[a.Index].Status.Final() {
		return nil
	}
	item := j.Items[a.Index]
	started, err := s.cfg.Store.StartItem(ctx, a.JobID, a.Index)
	if err != nil || !started {
		return err
	}
	defer s.beat(ctx, a.JobID, a.Index)()
	key, err := s.cfg.Store.Key(ctx, j.KeyID)
	if err != nil {
		return err
	}
	// A key revoked or expired since the job was submitted runs nothing
	// more. The item's quota unit was reserved with the job; finish
	// settles it.
	if err := key.Usable(time.Now()); err != nil {
		return s.finish(ctx, j, item, failure(err))
	}
	c := &pageshot.Caller{Key: key, Plan: s.cfg.Plan(key.Plan)}
	result, links, err := s.capture(ctx, j, item, c)
	if err != nil {
		e := pageshot.AsError(err)
		if e.Retryable() && job.Attempt < s.cfg.MaxAttempts && ctx.Err() == nil {
			return err // River runs it again; the unit stays reserved
		}
		return s.finish(ctx, j, item, failure(err))
	}
	if j.Kind == pageshot.JobCrawl && j.Crawl != nil && item.Depth < j.Crawl.MaxDepth {
		// Before the item ends: a job whose last open item ended is done,
		// and must not be while its new pages wait to be added.
		if err := s.follow(ctx, j, item, links); err != nil {
			return err
		}
	}
	return s.finish(ctx, j, item, result)
}

// capture captures the item for c through the capture service, which
// takes the key's concurrency slot (waiting for it) and stores the
// artifact; the item's quota unit was reserved with the job.
func (s *Service) capture(ctx context.Context, j *pageshot.Job, item pageshot.JobItem, c *pageshot.Caller) (pageshot.ItemResult, []string, error) {
	raw, err := pageshot.DecodeJSONOptions(bytes.NewReader(item.Options))
	if err != nil {
		return pageshot.ItemResult{}, nil, err
	}
	// The format decides the artifact's name, so the options are parsed
	// here, for the caller, exactly as the service would.
	opts, err := pageshot.ParseOptions(raw, c.Limits(s.cfg.Limits))
	if err != nil {
		return pageshot.ItemResult{}, nil, err
	}
	res, err := s.cfg.Capturer.Capture(ctx, &pageshot.CaptureRequest{
		Caller: c, Raw: raw, Wait: true, Prepaid: true,
		ArtifactKey:  ArtifactKey(j.ID, item.Index, opts.Format),
		CollectLinks: j.Kind == pageshot.JobCrawl,
	})
	if err != nil {
		return pageshot.ItemResult{}, nil, err
	}
	return pageshot.ItemResult{
		Status: pageshot.ItemSucceeded, ReturnedStatusCode: res.Capture.ReturnedStatusCode,
		ArtifactKey: res.BlobKey, Format: res.Capture.Format,
	}, res.Capture.Links, nil
}

// ArtifactKey is the blob key of an item's capture.
func ArtifactKey(jobID string, index int, f pageshot.Format) string {
	return jobID + "-" + strconv.Itoa(index) + "." + f.Extension()
}

func failure(err error) pageshot.ItemResult {
	e := pageshot.AsError(err)
	return pageshot.ItemResult{
		Status: pageshot.ItemFailed, ErrorCode: e.Code, ErrorMessage: e.Message,
		ReturnedStatusCode: e.ReturnedStatusCode,
	}
}

// finish records the end of item and, when it ended the job, queues the
// job's webhook.
func (s *Service) finish(ctx context.Context, j *pageshot.Job, item pageshot.JobItem, r pageshot.ItemResult) error {
	ctx = context.WithoutCancel(ctx)
	done, err := s.cfg.Store.FinishItem(ctx, j.ID, item.Index, r)
	if err != nil {
		return err
	}
	if r.Status == pageshot.ItemFailed {
		s.failed.Add(1)
		s.log.Info("job item failed", "job", j.ID, "index", item.Index, "code", r.ErrorCode)
	} else {
		s.succeeded.Add(1)
	}
	if done {
		s.log.Info("job done", "job", j.ID)
		return s.announce(ctx, j)
	}
	return nil
}

// follow adds the pages item links to that the crawl may visit.
func (s *Service) follow(ctx context.Context, j *pageshot.Job, item pageshot.JobItem, links []string) error {
	c := j.Crawl
	start, err := url.Parse(c.URL)
	if err != nil {
		return nil
	}
	include, err1 := compile(c.Include)
	exclude, err2 := compile(c.Exclude)
	if err1 != nil || err2 != nil {
		return nil // checked at submission
	}
	var defaults map[string]json.RawMessage
	if err := json.Unmarshal(j.Defaults, &defaults); err != nil || defaults == nil {
		defaults = map[string]json.RawMessage{}
	}
	seen := map[string]bool{}
	var next []pageshot.JobItem
	for _, l := range links {
		u, err := url.Parse(l)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		u.Fragment = ""
		target := u.String()
		if seen[target] || len(target) > pageshot.MaxURLLength {
			continue
		}
		seen[target] = true
		if !c.AnyOrigin && (u.Scheme != start.Scheme || u.Host != start.Host) {
			continue
		}
		if !matchesAny(include, target, true) || matchesAny(exclude, target, false) {
			continue
		}
		// Every discovered link passes the egress policy before it is
		// queued; the browser's proxy checks it again when it is fetched.
		if err := s.cfg.Guard.CheckURL(ctx, u); err != nil {
			s.log.Debug("crawl link refused", "job", j.ID, "url", target, "err", err)
			continue
		}
		defaults["url"], _ = json.Marshal(target)
		opts, _ := json.Marshal(defaults)
		next = append(next, pageshot.JobItem{URL: target, Options: opts, Depth: item.Depth + 1})
	}
	if len(next) == 0 {
		return nil
	}
	added, err := s.cfg.Store.AddItems(ctx, j.ID, next, c.MaxPages)
	if err != nil || len(added) == 0 {
		return err
	}
	return s.enqueue(ctx, added)
}

func compile(patterns []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

// matchesAny reports whether one of res matches s; an empty list gives
// empty.
func matchesAny(res []*regexp.Regexp, s string, empty bool) bool {
	if len(res) == 0 {
		return empty
	}
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
