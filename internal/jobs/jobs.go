// Package jobs runs pageshot's async work on River: batch and crawl jobs
// whose items are captures, and the webhooks that announce their end. Job
// and item state lives in the store (pageshot.JobStore), which is the
// authority: River carries the work and its retries, and a River job that
// runs twice (after a crash) finds its item ended and does nothing.
package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/pageshot/pageshot"
)

// Store is what the jobs need of pageshot's store.
type Store interface {
	pageshot.JobStore
	pageshot.KeyStore
}

// Config configures a Service. Store, Capturer, Blobs, Guard and Plan are
// required.
type Config struct {
	Store Store
	// Capturer captures the items: an item is one capture of the job's
	// key, through the same service as a synchronous capture.
	Capturer pageshot.Capturer
	// Blobs holds the artifacts the Capturer stores.
	Blobs pageshot.BlobStore
	// Guard checks crawl links and webhook URLs against the egress policy.
	Guard pageshot.URLGuard
	// Webhooks sends webhook requests; it must connect through the egress
	// policy (see egress.Policy.HTTPClient).
	Webhooks *http.Client
	// BaseURL is the server's address as clients reach it, for artifact
	// links, such as http://127.0.0.1:8080.
	BaseURL string
	// Plan returns the named plan, or the default plan.
	Plan func(name string) pageshot.Plan
	// Limits are the server's option limits (a plan narrows the timeout),
	// for checking items at submission.
	Limits pageshot.Limits
	// Workers is the number of items captured at once. Defaults to 2.
	Workers int
	// MaxAttempts bounds the runs of an item that fails with a retryable
	// error. Defaults to 4.
	MaxAttempts int
	// JobTimeout bounds one run of an item. Defaults to 3 minutes.
	JobTimeout time.Duration
	// RescueAfter is how long a run may seem to run before it is taken for
	// lost (its process died) and run again. Defaults to JobTimeout plus a
	// minute.
	RescueAfter time.Duration
	// StaleAfter is how long a running item may go without a heartbeat
	// (its node beats every sixth of it) before another node takes it for
	// lost, its node having died, and runs it again. Defaults to 30 s.
	StaleAfter time.Duration
	// RetryBase is the first retry's delay; each next one doubles, up to
	// 5 minutes. Defaults to 2 s.
	RetryBase time.Duration
	// JobReservationTTL is how long the quota units a job reserves at
	// submission hold if its items never end (a store restored from an
	// old backup). Defaults to 7 days.
	JobReservationTTL time.Duration
	Logger            *slog.Logger
}

// Service submits, runs and reports jobs.
type Service struct {
	cfg   Config
	log   *slog.Logger
	queue queue
	// stopRescue ends the rescue loop; rescued is closed when it has.
	stopRescue context.CancelFunc
	rescued    chan struct{}

	succeeded, failed, delivered, refused atomic.Int64
}

// Stats counts what this process ran since it started.
type Stats struct {
	ItemsSucceeded, ItemsFailed int64
	// WebhooksDelivered counts events a receiver accepted; WebhookFailures
	// the attempts it did not (each is retried until attempts run out).
	WebhooksDelivered, WebhookFailures int64
}

// Stats returns the service's counts, for metrics.
func (s *Service) Stats() Stats {
	return Stats{
		ItemsSucceeded: s.succeeded.Load(), ItemsFailed: s.failed.Load(),
		WebhooksDelivered: s.delivered.Load(), WebhookFailures: s.refused.Load(),
	}
}

// New migrates River's tables through driver (riversqlite on the SQLite
// store's database, riverpgxv5 on the PostgreSQL store's pool) and
// prepares the service; Start runs it. The store's CreateJob hands its
// transaction to the queue, so TTx must be the store's transaction type.
func New[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], cfg Config) (*Service, error) {
	cfg.Workers = cmp.Or(cfg.Workers, 2)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, 4)
	cfg.JobTimeout = cmp.Or(cfg.JobTimeout, 3*time.Minute)
	cfg.RescueAfter = cmp.Or(cfg.RescueAfter, cfg.JobTimeout+time.Minute)
	cfg.RetryBase = cmp.Or(cfg.RetryBase, 2*time.Second)
	cfg.StaleAfter = cmp.Or(cfg.StaleAfter, 30*time.Second)
	cfg.JobReservationTTL = cmp.Or(cfg.JobReservationTTL, 7*24*time.Hour)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, log: cfg.Logger}
	if _, err := Migrate(ctx, driver, cfg.Logger); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &captureWorker{s: s})
	river.AddWorker(workers, &webhookWorker{s: s})
	client, err := river.NewClient(driver, &river.Config{
		Queues: map[string]river.QueueConfig{
			// A job's items are queued in the store's transaction, where
			// River on SQLite does not see them, and PostgreSQL's notice
			// of a second submission within FetchCooldown is dropped: a
			// poll finds those, so it comes often.
			queueCaptures: {MaxWorkers: cfg.Workers, FetchPollInterval: 200 * time.Millisecond},
			queueWebhooks: {MaxWorkers: 4},
		},
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		RetryPolicy:          backoff{base: cfg.RetryBase},
		// River's default, for the webhooks: River fetches the ones this
		// node queues at once (on PostgreSQL not one queued within
		// FetchCooldown of another), and a retry (after two seconds or
		// more) may start up to a second late. On SQLite each poll parses
		// its query again: an idle server used 16 ms of CPU a second with
		// both queues polled five times a second, 11 ms with this.
		FetchPollInterval: time.Second,
		FetchCooldown:     20 * time.Millisecond,
		Logger:            quiet(cfg.Logger),
		ErrorHandler:      &errorHandler{log: cfg.Logger},
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	s.queue = &riverQueue[TTx]{client}
	return s, nil
}

// Migrate applies the job queue's migrations through driver and returns
// how many it applied.
func Migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], log *slog.Logger) (int, error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(log)})
	if err != nil {
		return 0, fmt.Errorf("job queue: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("migrate job queue: %w", err)
	}
	return len(res.Versions), nil
}

// quiet passes River's own log on at warning level and above.
func quiet(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

const (
	queueCaptures = "captures"
	queueWebhooks = "webhooks"
)

// Start runs the workers (until Stop) and queues again the items of unfinished jobs
// that have no River job waiting (a crash between storing a job and
// queueing its items); River's uniqueness keeps the others from doubling.
func (s *Service) Start(ctx context.Context) error {
	// River runs until its context ends; the service until Stop, however
	// short-lived the context of its start.
	if err := s.queue.start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	items, err := s.cfg.Store.UnfinishedItems(ctx)
	if err != nil {
		return err
	}
	if len(items) > 0 {
		s.log.Info("resuming unfinished job items", "items", len(items))
		if err := s.enqueue(ctx, items); err != nil {
			return err
		}
	}
	rescueCtx, cancel := context.WithCancel(context.Background())
	s.stopRescue, s.rescued = cancel, make(chan struct{})
	go s.rescueLoop(rescueCtx)
	return nil
}

// Stop stops taking work and waits for the items running (at most until
// ctx ends, then cancels them: they are run again after a restart).
func (s *Service) Stop(ctx context.Context) error {
	if s.stopRescue != nil {
		s.stopRescue()
		<-s.rescued
	}
	return s.queue.stop(ctx)
}

// enqueue queues one capture per item.
func (s *Service) enqueue(ctx context.Context, items []pageshot.JobItem) error {
	return s.queue.insertTx(ctx, nil, items)
}

// queue is River over one driver, seen without its transaction type.
type queue interface {
	start(ctx context.Context) error
	// stop waits for running work until ctx ends, then cancels it.
	stop(ctx context.Context) error
	// insertTx queues one capture per item, in tx when it is not nil.
	insertTx(ctx context.Context, tx any, items []pageshot.JobItem) error
	// insertWebhook queues the webhook of a job.
	insertWebhook(ctx context.Context, args webhookArgs) error
	// insertParams queues the jobs of params.
	insertParams(ctx context.Context, params []river.InsertManyParams) error
}

type riverQueue[TTx any] struct{ c *river.Client[TTx] }

func (q *riverQueue[TTx]) start(ctx context.Context) error { return q.c.Start(ctx) }

func (q *riverQueue[TTx]) stop(ctx context.Context) error {
	err := q.c.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = q.c.StopAndCancel(stopCtx)
	}
	return err
}

func (q *riverQueue[TTx]) insertTx(ctx context.Context, tx any, items []pageshot.JobItem) error {
	params := make([]river.InsertManyParams, len(items))
	for i, it := range items {
		params[i] = river.InsertManyParams{Args: captureArgs{JobID: it.JobID, Index: it.Index}}
	}
	for start := 0; start < len(params); start += 500 {
		batch := params[start:min(start+500, len(params))]
		var err error
		if tx == nil {
			_, err = q.c.InsertMany(ctx, batch)
		} else if t, ok := tx.(TTx); ok {
			_, err = q.c.InsertManyTx(ctx, t, batch)
		} else {
			err = fmt.Errorf("a %T is not this queue's transaction", tx)
		}
		if err != nil {
			return fmt.Errorf("queue job items: %w", err)
		}
	}
	return nil
}

func (q *riverQueue[TTx]) insertParams(ctx context.Context, params []river.InsertManyParams) error {
	_, err := q.c.InsertMany(ctx, params)
	return err
}

func (q *riverQueue[TTx]) insertWebhook(ctx context.Context, args webhookArgs) error {
	_, err := q.c.Insert(ctx, args, nil)
	return err
}

// backoff retries after base, 2×base, 4×base, … at most 5 minutes.
type backoff struct{ base time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base << min(max(job.Attempt-1, 0), 16)
	return time.Now().Add(min(d, 5*time.Minute))
}

type errorHandler struct{ log *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.Info("job run failed; River retries it", "kind", job.Kind, "id", job.ID, "attempt", job.Attempt, "err", err)
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, v any, trace string) *river.ErrorHandlerResult {
	h.log.Error("job run panicked", "kind", job.Kind, "id", job.ID, "panic", v, "trace", trace)
	return nil
}
