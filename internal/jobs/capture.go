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
	key, err := s.cfg.Store.Key(ctx, j.KeyID)
	if err != nil {
		return err
	}
	// A key revoked or expired since the job was submitted runs nothing
	// more.
	now := time.Now()
	if err := key.Usable(now); err != nil {
		return s.finish(ctx, j, item, failure(err), "")
	}
	plan := s.cfg.Plan(key.Plan)

	period, reset := pageshot.Period(now)
	reservation, u, ok, err := s.cfg.Store.Reserve(ctx, key.ID, period, plan.MonthlyQuota, s.cfg.ReservationTTL)
	if err != nil {
		return err
	}
	if !ok {
		return s.finish(ctx, j, item, failure(pageshot.QuotaExceeded(plan, u.Committed+u.Reserved, reset)), "")
	}

	result, links, err := s.capture(ctx, j, item, key, plan)
	if err != nil {
		e := pageshot.AsError(err)
		if e.Retryable() && job.Attempt < s.cfg.MaxAttempts && ctx.Err() == nil {
			if rerr := s.cfg.Store.Refund(context.WithoutCancel(ctx), reservation); rerr != nil {
				s.log.Error("refund usage", "err", rerr)
			}
			return err
		}
		return s.finish(ctx, j, item, failure(err), reservation)
	}
	if j.Kind == pageshot.JobCrawl && j.Crawl != nil && item.Depth < j.Crawl.MaxDepth {
		// Before the item ends: a job whose last open item ended is done,
		// and must not be while its new pages wait to be added.
		if err := s.follow(ctx, j, item, links); err != nil {
			_ = s.cfg.Store.Refund(context.WithoutCancel(ctx), reservation)
			return err
		}
	}
	return s.finish(ctx, j, item, result, reservation)
}

// capture renders the item and stores the artifact.
func (s *Service) capture(ctx context.Context, j *pageshot.Job, item pageshot.JobItem, key *pageshot.APIKey, plan pageshot.Plan) (pageshot.ItemResult, []string, error) {
	raw, err := pageshot.DecodeJSONOptions(bytes.NewReader(item.Options))
	if err != nil {
		return pageshot.ItemResult{}, nil, err
	}
	lim := s.cfg.Limits
	if plan.MaxTimeout > 0 {
		lim.MaxTimeout = plan.MaxTimeout
	}
	lim = plan.FullPageLimits(lim)
	opts, err := pageshot.ParseOptions(raw, lim)
	if err != nil {
		return pageshot.ItemResult{}, nil, err
	}
	if opts.URL != "" {
		if err := key.CheckURL(opts.URL); err != nil {
			return pageshot.ItemResult{}, nil, err
		}
		if len(key.URLBlock) > 0 || len(key.URLAllow) > 0 {
			opts.URLCheck = key.CheckURL // every redirect too
		}
	}
	opts.CollectLinks = j.Kind == pageshot.JobCrawl
	c, err := s.cfg.Renderer.Render(ctx, opts)
	if err != nil {
		return pageshot.ItemResult{}, nil, err
	}
	if c.FinalURL != "" {
		if err := key.CheckURL(c.FinalURL); err != nil {
			return pageshot.ItemResult{}, nil, err
		}
	}
	blobKey := ArtifactKey(j.ID, item.Index, c.Format)
	if err := s.cfg.Blobs.Put(ctx, blobKey, c.Data, c.Format.ContentType()); err != nil {
		return pageshot.ItemResult{}, nil, err
	}
	return pageshot.ItemResult{
		Status: pageshot.ItemSucceeded, ReturnedStatusCode: c.ReturnedStatusCode,
		ArtifactKey: blobKey, Format: c.Format,
	}, c.Links, nil
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
func (s *Service) finish(ctx context.Context, j *pageshot.Job, item pageshot.JobItem, r pageshot.ItemResult, reservation string) error {
	ctx = context.WithoutCancel(ctx)
	done, err := s.cfg.Store.FinishItem(ctx, j.ID, item.Index, r, reservation)
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
