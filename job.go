package pageshot

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// JobStatus is the state of an async job.
type JobStatus string

// Job states. A job is queued until one of its items starts, done when
// every item has ended, canceled when a client canceled it.
const (
	JobQueued   JobStatus = "queued"
	JobRunning  JobStatus = "running"
	JobDone     JobStatus = "done"
	JobCanceled JobStatus = "canceled"
)

// ItemStatus is the state of one capture of a job.
type ItemStatus string

// Item states; succeeded, failed and canceled are final.
const (
	ItemQueued    ItemStatus = "queued"
	ItemRunning   ItemStatus = "running"
	ItemSucceeded ItemStatus = "succeeded"
	ItemFailed    ItemStatus = "failed"
	ItemCanceled  ItemStatus = "canceled"
)

// Final reports whether s is an end state.
func (s ItemStatus) Final() bool {
	return s == ItemSucceeded || s == ItemFailed || s == ItemCanceled
}

// Job kinds.
const (
	JobBatch = "batch"
	JobCrawl = "crawl"
)

// Crawl defaults: the pages a crawl captures at most, and how many links
// deep it follows, when the request does not say.
const (
	DefaultCrawlPages = 10
	DefaultCrawlDepth = 2
)

// Crawl describes a crawl job: pages reached by links from URL.
type Crawl struct {
	URL      string   `json:"url"`
	Include  Patterns `json:"include,omitempty"` // regexps a page's full URL must match (any)
	Exclude  Patterns `json:"exclude,omitempty"` // regexps no page's URL may match
	MaxPages int      `json:"max_pages"`
	MaxDepth int      `json:"max_depth"`
	// AnyOrigin follows links to other origins; by default a crawl stays
	// on the origin of URL.
	AnyOrigin bool `json:"any_origin,omitempty"`
}

// UnmarshalJSON reads a crawl; max_pages and max_depth left out take
// DefaultCrawlPages and DefaultCrawlDepth (an explicit 0 stays 0).
func (c *Crawl) UnmarshalJSON(b []byte) error {
	type plain Crawl
	p := plain{MaxPages: DefaultCrawlPages, MaxDepth: DefaultCrawlDepth}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = Crawl(p)
	return nil
}

// Patterns is a list of regular expressions that JSON gives as one string
// or as an array of strings.
type Patterns []string

// UnmarshalJSON accepts "re" as well as ["re1", "re2"].
func (p *Patterns) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*p = Patterns{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a regular expression or a list of them")
	}
	*p = many
	return nil
}

// Job is an async batch or crawl of captures.
type Job struct {
	ID         string
	KeyID      string
	Kind       string // JobBatch or JobCrawl
	Status     JobStatus
	WebhookURL string
	Crawl      *Crawl
	// Defaults are the options every item starts from (a JSON object).
	Defaults   json.RawMessage
	CreatedAt  time.Time
	FinishedAt time.Time // zero until done or canceled

	Items []JobItem
}

// Counts returns how many of j's items there are, and how many succeeded
// and failed.
func (j *Job) Counts() (total, succeeded, failed int) {
	for _, it := range j.Items {
		switch it.Status {
		case ItemSucceeded:
			succeeded++
		case ItemFailed:
			failed++
		}
	}
	return len(j.Items), succeeded, failed
}

// JobItem is one capture of a job.
type JobItem struct {
	JobID string
	Index int // from 0, in submission (or discovery) order
	URL   string
	// Options are the item's raw options, the job's defaults merged in (a
	// JSON object).
	Options json.RawMessage
	Depth   int // crawl: links followed from the start page

	Status             ItemStatus
	ErrorCode          Code
	ErrorMessage       string
	ReturnedStatusCode int
	ArtifactKey        string // blob key of the capture, once succeeded
	Format             Format
	UpdatedAt          time.Time
}

// ItemResult is how an item ended.
type ItemResult struct {
	Status             ItemStatus // ItemSucceeded or ItemFailed
	ErrorCode          Code
	ErrorMessage       string
	ReturnedStatusCode int
	ArtifactKey        string
	Format             Format
}

// JobQuota is the quota a job reserves when it is created: Units units of
// its key in Period, within Limit (0: no limit), each held for TTL unless
// the item that spends it ends first.
type JobQuota struct {
	Period string
	Limit  int64
	Units  int
	TTL    time.Duration
}

// JobReservation is the id of the quota unit that item index of job jobID
// spends: a job's units are named after its items, so that the item's end
// settles its own unit.
func JobReservation(jobID string, index int) string {
	return jobID + "/" + strconv.Itoa(index)
}

// JobStore keeps jobs and their items. Methods return a not_found *Error
// for an unknown job or item.
type JobStore interface {
	// CreateJob stores j with its items, all queued, and in the same
	// transaction reserves q.Units quota units of j.KeyID, named
	// JobReservation(j.ID, i) for i < q.Units, when the key's committed and
	// reserved units plus q.Units stay within q.Limit. It then calls
	// enqueue with that transaction (a *sql.Tx on SQLite, a pgx.Tx on
	// PostgreSQL), so that the job's work is queued exactly when the job
	// is stored. When the quota refuses, nothing is stored and ok is false,
	// with the usage that refused it.
	CreateJob(ctx context.Context, j *Job, q JobQuota, enqueue func(ctx context.Context, tx any) error) (u Usage, ok bool, err error)
	// Job returns the job with its items in index order.
	Job(ctx context.Context, id string) (*Job, error)
	// Item returns one item.
	Item(ctx context.Context, jobID string, index int) (*JobItem, error)
	// StartItem marks a queued (or, after a crash, running) item running
	// and its job running. It returns false when the item has already
	// ended or its job was canceled: the capture must not run.
	StartItem(ctx context.Context, jobID string, index int) (bool, error)
	// FinishItem records how a running item ended and, in the same
	// transaction, commits the item's quota unit (JobReservation) when it
	// succeeded, charging it even when the unit's reservation expired, or
	// refunds it otherwise, so that an item is charged exactly once. An
	// item that has already ended is left as it is. When the job is now
	// done, the units it still holds (a crawl that found fewer pages than
	// it reserved) are refunded. It reports whether the job is now done.
	FinishItem(ctx context.Context, jobID string, index int, r ItemResult) (jobDone bool, err error)
	// AddItems appends crawl items whose URL the job does not have yet, up
	// to max items in all, and returns those added with their indexes.
	AddItems(ctx context.Context, jobID string, items []JobItem, max int) ([]JobItem, error)
	// CancelJob cancels the items that have not started, marks the job
	// canceled (done, when nothing was left to cancel) and refunds every
	// unit the job holds but for those of its running items, which finish.
	CancelJob(ctx context.Context, id string) error
	// UnfinishedItems returns the items of jobs not done or canceled that
	// have not ended, for requeueing after a restart.
	UnfinishedItems(ctx context.Context) ([]JobItem, error)
	// Heartbeat records that a running item is still being worked on (its
	// UpdatedAt becomes now). An item that is not running is left alone.
	Heartbeat(ctx context.Context, jobID string, index int) error
	// ClaimStaleItems returns up to limit running items of open jobs whose
	// last heartbeat is older than before: their node died. Each is
	// claimed (its heartbeat set to now) in the same statement, so that
	// of several nodes looking at once only one gets it.
	ClaimStaleItems(ctx context.Context, before time.Time, limit int) ([]JobItem, error)
	// DeleteJobs removes up to limit jobs that ended (done or canceled)
	// before t, with their items, and returns the artifact keys they held,
	// so that their blobs can be deleted.
	DeleteJobs(ctx context.Context, before time.Time, limit int) (artifacts []string, err error)
}

// CacheEntry is a capture kept for reuse.
type CacheEntry struct {
	Key                string // hash of the normalized options and the key owner
	BlobKey            string
	Format             Format
	Width, Height      int
	ReturnedStatusCode int
	CreatedAt          time.Time
	ExpiresAt          time.Time
}

// CacheStore indexes cached captures.
type CacheStore interface {
	// CacheGet returns the entry under key that has not expired at now, or
	// a not_found *Error.
	CacheGet(ctx context.Context, key string, now time.Time) (*CacheEntry, error)
	// CachePut stores e, replacing an entry with the same key, expired or
	// not, and returns the blob key of the entry it replaced ("" when
	// none), so that the caller can delete that blob.
	CachePut(ctx context.Context, e *CacheEntry) (replaced string, err error)
	// CacheExpired removes up to limit entries expired at now and returns
	// them, so that their blobs can be deleted.
	CacheExpired(ctx context.Context, now time.Time, limit int) ([]CacheEntry, error)
}
