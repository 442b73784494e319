package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pageshot/pageshot"
)

var (
	_ pageshot.JobStore   = (*Store)(nil)
	_ pageshot.CacheStore = (*Store)(nil)
)

// CreateJob implements pageshot.JobStore; enqueue receives the pgx.Tx
// that stores the job. The quota units are reserved as Reserve does (the
// key's usage row locked first), in the same transaction.
func (s *Store) CreateJob(ctx context.Context, j *pageshot.Job, q pageshot.JobQuota, enqueue func(context.Context, any) error) (pageshot.Usage, bool, error) {
	var crawl []byte
	if j.Crawl != nil {
		crawl, _ = json.Marshal(j.Crawl)
	}
	defaults := string(j.Defaults)
	if defaults == "" {
		defaults = "{}"
	}
	var res *reservation
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ids := make([]string, q.Units)
		for i := range ids {
			ids[i] = pageshot.JobReservation(j.ID, i)
		}
		b := new(pgx.Batch)
		res = queueReserve(b, j.KeyID, q.Period, q.Limit, ids, q.TTL)
		if err := tx.SendBatch(ctx, b).Close(); err != nil || !res.ok {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO jobs (id, key_id, kind, status, webhook_url, crawl, defaults, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			j.ID, j.KeyID, j.Kind, string(pageshot.JobQueued), j.WebhookURL, string(crawl), defaults, j.CreatedAt); err != nil {
			return err
		}
		for i := range j.Items {
			it := &j.Items[i]
			it.JobID, it.Index, it.Status = j.ID, i, pageshot.ItemQueued
		}
		if err := insertItems(ctx, tx, j.Items); err != nil {
			return err
		}
		if enqueue != nil {
			return enqueue(ctx, tx)
		}
		return nil
	})
	var u pageshot.Usage
	if res != nil {
		u = res.u
	}
	if err != nil {
		return u, false, storeError("create job", err)
	}
	if res.ok {
		j.Status = pageshot.JobQueued
	}
	return u, res.ok, nil
}

// insertItems stores items (their JobID, Index and Status set) in one
// statement.
func insertItems(ctx context.Context, tx pgx.Tx, items []pageshot.JobItem) error {
	if len(items) == 0 {
		return nil
	}
	now := time.Now()
	var (
		jobIDs, urls, options, statuses []string
		indexes, depths                 []int32
	)
	for i := range items {
		it := &items[i]
		it.UpdatedAt = now
		jobIDs = append(jobIDs, it.JobID)
		indexes = append(indexes, int32(it.Index))
		urls = append(urls, it.URL)
		options = append(options, string(it.Options))
		depths = append(depths, int32(it.Depth))
		statuses = append(statuses, string(it.Status))
	}
	_, err := tx.Exec(ctx, `INSERT INTO job_items (job_id, idx, url, options, depth, status, updated_at)
		SELECT job_id, idx, url, options, depth, status, $7 FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[])
		AS t (job_id, idx, url, options, depth, status)`,
		jobIDs, indexes, urls, options, depths, statuses, now)
	return err
}

const itemColumns = `job_id, idx, url, options, depth, status, error_code, error_message, returned_status_code, artifact_key, format, updated_at`

func scanItem(row scanner) (*pageshot.JobItem, error) {
	var (
		it                            pageshot.JobItem
		options, status, code, format string
		updated                       time.Time
	)
	if err := row.Scan(&it.JobID, &it.Index, &it.URL, &options, &it.Depth, &status, &code, &it.ErrorMessage,
		&it.ReturnedStatusCode, &it.ArtifactKey, &format, &updated); err != nil {
		return nil, err
	}
	it.Options = json.RawMessage(options)
	it.Status, it.ErrorCode, it.Format = pageshot.ItemStatus(status), pageshot.Code(code), pageshot.Format(format)
	it.UpdatedAt = updated.UTC()
	return &it, nil
}

func collectItems(rows pgx.Rows) ([]pageshot.JobItem, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (pageshot.JobItem, error) {
		it, err := scanItem(row)
		if err != nil {
			return pageshot.JobItem{}, err
		}
		return *it, nil
	})
}

// Job implements pageshot.JobStore.
func (s *Store) Job(ctx context.Context, id string) (*pageshot.Job, error) {
	var (
		j                       pageshot.Job
		status, crawl, defaults string
		created                 time.Time
		finished                *time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT id, key_id, kind, status, webhook_url, crawl, defaults, created_at, finished_at FROM jobs WHERE id = $1`, id).
		Scan(&j.ID, &j.KeyID, &j.Kind, &status, &j.WebhookURL, &crawl, &defaults, &created, &finished)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("job", id)
	}
	if err != nil {
		return nil, storeError("get job", err)
	}
	j.Status = pageshot.JobStatus(status)
	if crawl != "" {
		j.Crawl = new(pageshot.Crawl)
		if err := json.Unmarshal([]byte(crawl), j.Crawl); err != nil {
			return nil, fmt.Errorf("get job: crawl: %w", err)
		}
	}
	j.Defaults = json.RawMessage(defaults)
	j.CreatedAt, j.FinishedAt = created.UTC(), fromNull(finished)
	rows, _ := s.pool.Query(ctx, `SELECT `+itemColumns+` FROM job_items WHERE job_id = $1 ORDER BY idx`, id)
	if j.Items, err = collectItems(rows); err != nil {
		return nil, storeError("get job items", err)
	}
	return &j, nil
}

// Item implements pageshot.JobStore.
func (s *Store) Item(ctx context.Context, jobID string, index int) (*pageshot.JobItem, error) {
	it, err := scanItem(s.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM job_items WHERE job_id = $1 AND idx = $2`, jobID, index))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("job item", fmt.Sprintf("%s/%d", jobID, index))
	}
	if err != nil {
		return nil, storeError("get job item", err)
	}
	return it, nil
}

// lockJob locks the row of jobID until tx ends and returns its status
// (pgx.ErrNoRows for an unknown job). Every change to a job or its items
// takes it first, so that changes made by different nodes to one job
// happen one after the other: without it, two nodes finishing the last two
// items at once would each see the other's item still open, and the job
// would never be done. FOR NO KEY UPDATE does not block inserts of items
// (their foreign key takes a KEY SHARE lock).
func lockJob(ctx context.Context, tx pgx.Tx, jobID string) (pageshot.JobStatus, error) {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM jobs WHERE id = $1 FOR NO KEY UPDATE`, jobID).Scan(&status)
	return pageshot.JobStatus(status), err
}

// StartItem implements pageshot.JobStore.
func (s *Store) StartItem(ctx context.Context, jobID string, index int) (bool, error) {
	var started bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := lockJob(ctx, tx, jobID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil || status != pageshot.JobQueued && status != pageshot.JobRunning {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE job_items SET status = 'running', updated_at = $1
			WHERE job_id = $2 AND idx = $3 AND status IN ('queued', 'running')`, time.Now(), jobID, index)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		started = true
		_, err = tx.Exec(ctx, `UPDATE jobs SET status = 'running' WHERE id = $1 AND status = 'queued'`, jobID)
		return err
	})
	if err != nil {
		return false, storeError("start job item", err)
	}
	return started, nil
}

// FinishItem implements pageshot.JobStore.
func (s *Store) FinishItem(ctx context.Context, jobID string, index int, r pageshot.ItemResult) (bool, error) {
	var done bool
	reservation := pageshot.JobReservation(jobID, index)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := lockJob(ctx, tx, jobID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE job_items SET status = $1, error_code = $2, error_message = $3, returned_status_code = $4,
			artifact_key = $5, format = $6, updated_at = $7 WHERE job_id = $8 AND idx = $9 AND status IN ('queued', 'running')`,
			string(r.Status), string(r.ErrorCode), r.ErrorMessage, r.ReturnedStatusCode, r.ArtifactKey, string(r.Format), time.Now(), jobID, index)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 && r.Status == pageshot.ItemSucceeded {
			tag, err := tx.Exec(ctx, commitSQL, reservation)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				// An expired reservation is gone; the capture is charged
				// all the same, since it was delivered.
				if err := chargeTx(ctx, tx, jobID); err != nil {
					return err
				}
			}
		} else if _, err := tx.Exec(ctx, `DELETE FROM usage_reservations WHERE id = $1`, reservation); err != nil {
			return err
		}
		if done, err = finishJobIfDone(ctx, tx, jobID); err != nil || !done {
			return err
		}
		return refundJobTx(ctx, tx, jobID, false)
	})
	if err != nil {
		return false, storeError("finish job item", err)
	}
	return done, nil
}

// refundJobTx drops the quota units jobID still holds; with keepRunning,
// those of its running items stay (they settle when the items end).
func refundJobTx(ctx context.Context, tx pgx.Tx, jobID string, keepRunning bool) error {
	// Ids are "JOB/INDEX", compared byte by byte (COLLATE "C" in the
	// schema): the range of strings that start with "JOB/" uses the
	// primary key; '0' is the byte after '/'.
	q := `DELETE FROM usage_reservations WHERE id >= $1 AND id < $2`
	if keepRunning {
		q += ` AND id NOT IN (SELECT job_id || '/' || idx FROM job_items WHERE job_id = $3 AND status = 'running')`
		_, err := tx.Exec(ctx, q, jobID+"/", jobID+"0", jobID)
		return err
	}
	_, err := tx.Exec(ctx, q, jobID+"/", jobID+"0")
	return err
}

// chargeTx charges one capture to the key of jobID in the current period.
func chargeTx(ctx context.Context, tx pgx.Tx, jobID string) error {
	period, _ := pageshot.Period(time.Now())
	_, err := tx.Exec(ctx, `INSERT INTO usage AS u (key_id, period, committed) SELECT key_id, $1, 1 FROM jobs WHERE id = $2
		ON CONFLICT (key_id, period) DO UPDATE SET committed = u.committed + 1`, period, jobID)
	return err
}

// finishJobIfDone marks a running or queued job done when none of its
// items is open, and reports whether this call did. The caller holds the
// job's lock.
func finishJobIfDone(ctx context.Context, tx pgx.Tx, jobID string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE jobs SET status = 'done', finished_at = $1 WHERE id = $2 AND status IN ('queued', 'running')
		AND NOT EXISTS (SELECT 1 FROM job_items WHERE job_id = $2 AND status IN ('queued', 'running'))`, time.Now(), jobID)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// AddItems implements pageshot.JobStore.
func (s *Store) AddItems(ctx context.Context, jobID string, items []pageshot.JobItem, max int) ([]pageshot.JobItem, error) {
	var added []pageshot.JobItem
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		added = nil
		if _, err := lockJob(ctx, tx, jobID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM job_items WHERE job_id = $1`, jobID).Scan(&n); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT url FROM job_items WHERE job_id = $1`, jobID)
		urls, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		have := make(map[string]bool, len(urls))
		for _, u := range urls {
			have[u] = true
		}
		for _, it := range items {
			if n >= max {
				break
			}
			if have[it.URL] {
				continue
			}
			have[it.URL] = true
			it.JobID, it.Index, it.Status = jobID, n, pageshot.ItemQueued
			added = append(added, it)
			n++
		}
		return insertItems(ctx, tx, added)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("job", jobID)
	}
	if err != nil {
		return nil, storeError("add job items", err)
	}
	return added, nil
}

// CancelJob implements pageshot.JobStore.
func (s *Store) CancelJob(ctx context.Context, id string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := lockJob(ctx, tx, id)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("job", id)
		}
		if err != nil || status == pageshot.JobDone || status == pageshot.JobCanceled {
			return err
		}
		now := time.Now()
		if _, err := tx.Exec(ctx, `UPDATE job_items SET status = 'canceled', updated_at = $1 WHERE job_id = $2 AND status = 'queued'`, now, id); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE jobs SET status = 'canceled', finished_at = $1 WHERE id = $2`, now, id); err != nil {
			return err
		}
		return refundJobTx(ctx, tx, id, true)
	})
	if err != nil && !isPageshot(err) {
		return storeError("cancel job", err)
	}
	return err
}

// UnfinishedItems implements pageshot.JobStore.
func (s *Store) UnfinishedItems(ctx context.Context) ([]pageshot.JobItem, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+itemColumns+` FROM job_items
		WHERE status IN ('queued', 'running') AND job_id IN (SELECT id FROM jobs WHERE status IN ('queued', 'running'))
		ORDER BY job_id, idx`)
	items, err := collectItems(rows)
	if err != nil {
		return nil, storeError("list unfinished items", err)
	}
	return items, nil
}

// Heartbeat implements pageshot.JobStore.
func (s *Store) Heartbeat(ctx context.Context, jobID string, index int) error {
	if _, err := s.pool.Exec(ctx, `UPDATE job_items SET updated_at = $1 WHERE job_id = $2 AND idx = $3 AND status = 'running'`,
		time.Now(), jobID, index); err != nil {
		return storeError("job item heartbeat", err)
	}
	return nil
}

// ClaimStaleItems implements pageshot.JobStore. SKIP LOCKED leaves the
// items another node is claiming (or finishing) at the same moment to it.
func (s *Store) ClaimStaleItems(ctx context.Context, before time.Time, limit int) ([]pageshot.JobItem, error) {
	rows, _ := s.pool.Query(ctx, `UPDATE job_items SET updated_at = $1
		WHERE (job_id, idx) IN (SELECT i.job_id, i.idx FROM job_items i JOIN jobs j ON j.id = i.job_id
			WHERE i.status = 'running' AND i.updated_at < $2 AND j.status IN ('queued', 'running')
			ORDER BY i.updated_at LIMIT $3 FOR UPDATE OF i SKIP LOCKED)
		RETURNING `+itemColumns, time.Now(), before, limit)
	items, err := collectItems(rows)
	if err != nil {
		return nil, storeError("claim stale items", err)
	}
	return items, nil
}

// DeleteJobs implements pageshot.JobStore. Nodes sweeping at once take
// different jobs (SKIP LOCKED).
func (s *Store) DeleteJobs(ctx context.Context, before time.Time, limit int) ([]string, error) {
	var artifacts []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id FROM jobs WHERE status IN ('done', 'canceled') AND finished_at < $1
			ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED`, before, limit)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		rows, _ = tx.Query(ctx, `DELETE FROM job_items WHERE job_id = ANY($1) AND artifact_key <> '' RETURNING artifact_key`, ids)
		if artifacts, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM jobs WHERE id = ANY($1)`, ids) // and their other items
		return err
	})
	if err != nil {
		return nil, storeError("delete jobs", err)
	}
	return artifacts, nil
}

// CacheGet implements pageshot.CacheStore.
func (s *Store) CacheGet(ctx context.Context, key string, now time.Time) (*pageshot.CacheEntry, error) {
	var (
		e                pageshot.CacheEntry
		format           string
		created, expires time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT key, blob_key, format, width, height, returned_status_code, created_at, expires_at
		FROM cache_entries WHERE key = $1 AND expires_at > $2`, key, now).
		Scan(&e.Key, &e.BlobKey, &format, &e.Width, &e.Height, &e.ReturnedStatusCode, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("cache entry", key)
	}
	if err != nil {
		return nil, storeError("get cache entry", err)
	}
	e.Format = pageshot.Format(format)
	e.CreatedAt, e.ExpiresAt = created.UTC(), expires.UTC()
	return &e, nil
}

// CachePut implements pageshot.CacheStore. Of two nodes putting one key at
// once, the second names the blob of the first as replaced, so that no
// blob is left behind.
func (s *Store) CachePut(ctx context.Context, e *pageshot.CacheEntry) (string, error) {
	var replaced string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for {
			// The row, locked, as the last put left it; or, when there is
			// none, an insert that loses to a concurrent one and tries again.
			err := tx.QueryRow(ctx, `SELECT blob_key FROM cache_entries WHERE key = $1 FOR UPDATE`, e.Key).Scan(&replaced)
			if err == nil {
				_, err = tx.Exec(ctx, `UPDATE cache_entries SET blob_key = $2, format = $3, width = $4, height = $5,
					returned_status_code = $6, created_at = $7, expires_at = $8 WHERE key = $1`,
					e.Key, e.BlobKey, string(e.Format), e.Width, e.Height, e.ReturnedStatusCode, e.CreatedAt, e.ExpiresAt)
				return err
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			replaced = ""
			tag, err := tx.Exec(ctx, `INSERT INTO cache_entries (key, blob_key, format, width, height, returned_status_code, created_at, expires_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO NOTHING`,
				e.Key, e.BlobKey, string(e.Format), e.Width, e.Height, e.ReturnedStatusCode, e.CreatedAt, e.ExpiresAt)
			if err != nil || tag.RowsAffected() == 1 {
				return err
			}
		}
	})
	if err != nil {
		return "", storeError("put cache entry", err)
	}
	return replaced, nil
}

// CacheExpired implements pageshot.CacheStore. Nodes sweeping at once
// take different entries (SKIP LOCKED), and an entry being replaced is
// left to its new owner.
func (s *Store) CacheExpired(ctx context.Context, now time.Time, limit int) ([]pageshot.CacheEntry, error) {
	rows, _ := s.pool.Query(ctx, `DELETE FROM cache_entries WHERE key IN
		(SELECT key FROM cache_entries WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING key, blob_key`, now, limit)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pageshot.CacheEntry, error) {
		var e pageshot.CacheEntry
		err := row.Scan(&e.Key, &e.BlobKey)
		return e, err
	})
	if err != nil {
		return nil, storeError("expire cache entries", err)
	}
	return out, nil
}
