package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pageshot/pageshot"
)

var (
	_ pageshot.JobStore   = (*Store)(nil)
	_ pageshot.CacheStore = (*Store)(nil)
)

// DB returns the database, for the job queue that shares it.
func (s *Store) DB() *sql.DB { return s.db }

// CreateJob implements pageshot.JobStore; enqueue receives a *sql.Tx.
func (s *Store) CreateJob(ctx context.Context, j *pageshot.Job, q pageshot.JobQuota, enqueue func(context.Context, any) error) (pageshot.Usage, bool, error) {
	if err := s.room(); err != nil {
		return pageshot.Usage{}, false, err
	}
	var crawl []byte
	if j.Crawl != nil {
		crawl, _ = json.Marshal(j.Crawl)
	}
	defaults := string(j.Defaults)
	if defaults == "" {
		defaults = "{}"
	}
	var (
		u  pageshot.Usage
		ok bool
	)
	err := s.tx(ctx, func(tx *sql.Tx) (err error) {
		ids := make([]string, q.Units)
		for i := range ids {
			ids[i] = pageshot.JobReservation(j.ID, i)
		}
		if u, ok, err = reserveTx(ctx, tx, j.KeyID, q.Period, q.Limit, ids, q.TTL); err != nil || !ok {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (id, key_id, kind, status, webhook_url, crawl, defaults, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			j.ID, j.KeyID, j.Kind, pageshot.JobQueued, j.WebhookURL, string(crawl), defaults, unixNano(j.CreatedAt)); err != nil {
			return err
		}
		for i := range j.Items {
			it := &j.Items[i]
			it.JobID, it.Index, it.Status = j.ID, i, pageshot.ItemQueued
			if err := insertItem(ctx, tx, it); err != nil {
				return err
			}
		}
		if enqueue != nil {
			return enqueue(ctx, tx)
		}
		return nil
	})
	if err != nil {
		return u, false, fmt.Errorf("create job: %w", err)
	}
	if ok {
		j.Status = pageshot.JobQueued
	}
	return u, ok, nil
}

func insertItem(ctx context.Context, tx *sql.Tx, it *pageshot.JobItem) error {
	it.UpdatedAt = time.Now()
	_, err := tx.ExecContext(ctx, `INSERT INTO job_items (job_id, idx, url, options, depth, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		it.JobID, it.Index, it.URL, string(it.Options), it.Depth, it.Status, it.UpdatedAt.UnixNano())
	return err
}

const itemColumns = `job_id, idx, url, options, depth, status, error_code, error_message, returned_status_code, artifact_key, format, updated_at`

func scanItem(row scanner) (*pageshot.JobItem, error) {
	var (
		it      pageshot.JobItem
		options string
		updated int64
	)
	if err := row.Scan(&it.JobID, &it.Index, &it.URL, &options, &it.Depth, &it.Status, &it.ErrorCode, &it.ErrorMessage,
		&it.ReturnedStatusCode, &it.ArtifactKey, &it.Format, &updated); err != nil {
		return nil, err
	}
	it.Options = json.RawMessage(options)
	it.UpdatedAt = fromUnixNano(updated)
	return &it, nil
}

// Job implements pageshot.JobStore.
func (s *Store) Job(ctx context.Context, id string) (*pageshot.Job, error) {
	var (
		j                 pageshot.Job
		crawl, defaults   string
		created, finished int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id, key_id, kind, status, webhook_url, crawl, defaults, created_at, finished_at FROM jobs WHERE id = ?`, id).
		Scan(&j.ID, &j.KeyID, &j.Kind, &j.Status, &j.WebhookURL, &crawl, &defaults, &created, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("job", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get job: %w", err)
	}
	if crawl != "" {
		j.Crawl = new(pageshot.Crawl)
		if err := json.Unmarshal([]byte(crawl), j.Crawl); err != nil {
			return nil, fmt.Errorf("get job: crawl: %w", err)
		}
	}
	j.Defaults = json.RawMessage(defaults)
	j.CreatedAt, j.FinishedAt = fromUnixNano(created), fromUnixNano(finished)
	rows, err := s.db.QueryContext(ctx, `SELECT `+itemColumns+` FROM job_items WHERE job_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("get job items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("get job items: %w", err)
		}
		j.Items = append(j.Items, *it)
	}
	return &j, rows.Err()
}

// Item implements pageshot.JobStore.
func (s *Store) Item(ctx context.Context, jobID string, index int) (*pageshot.JobItem, error) {
	it, err := scanItem(s.db.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM job_items WHERE job_id = ? AND idx = ?`, jobID, index))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("job item", fmt.Sprintf("%s/%d", jobID, index))
	}
	if err != nil {
		return nil, fmt.Errorf("get job item: %w", err)
	}
	return it, nil
}

// StartItem implements pageshot.JobStore.
func (s *Store) StartItem(ctx context.Context, jobID string, index int) (bool, error) {
	var started bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE job_items SET status = 'running', updated_at = ?
			WHERE job_id = ? AND idx = ? AND status IN ('queued', 'running')
			AND (SELECT status FROM jobs WHERE id = ?) IN ('queued', 'running')`, time.Now().UnixNano(), jobID, index, jobID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		started = true
		_, err = tx.ExecContext(ctx, `UPDATE jobs SET status = 'running' WHERE id = ? AND status = 'queued'`, jobID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("start job item: %w", err)
	}
	return started, nil
}

// FinishItem implements pageshot.JobStore.
func (s *Store) FinishItem(ctx context.Context, jobID string, index int, r pageshot.ItemResult) (bool, error) {
	var done bool
	reservation := pageshot.JobReservation(jobID, index)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE job_items SET status = ?, error_code = ?, error_message = ?, returned_status_code = ?,
			artifact_key = ?, format = ?, updated_at = ? WHERE job_id = ? AND idx = ? AND status IN ('queued', 'running')`,
			r.Status, r.ErrorCode, r.ErrorMessage, r.ReturnedStatusCode, r.ArtifactKey, r.Format, time.Now().UnixNano(), jobID, index)
		if err != nil {
			return err
		}
		updated, _ := res.RowsAffected()
		if updated == 1 && r.Status == pageshot.ItemSucceeded {
			// An expired reservation is gone; the capture is charged all
			// the same, since it was delivered.
			err := commitTx(ctx, tx, reservation)
			if pageshot.ErrorCode(err) == pageshot.CodeNotFound {
				err = chargeTx(ctx, tx, jobID)
			}
			if err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `DELETE FROM usage_reservations WHERE id = ?`, reservation); err != nil {
			return err
		}
		if done, err = finishJobIfDone(ctx, tx, jobID); err != nil || !done {
			return err
		}
		return refundJobTx(ctx, tx, jobID, false)
	})
	if err != nil {
		return false, fmt.Errorf("finish job item: %w", err)
	}
	return done, nil
}

// refundJobTx drops the quota units jobID still holds; with keepRunning,
// those of its running items stay (they settle when the items end).
func refundJobTx(ctx context.Context, tx *sql.Tx, jobID string, keepRunning bool) error {
	q := `DELETE FROM usage_reservations WHERE id >= ? AND id < ?`
	if keepRunning {
		q += ` AND id NOT IN (SELECT job_id || '/' || idx FROM job_items WHERE job_id = ? AND status = 'running')`
	}
	// Ids are "JOB/INDEX": the range of strings that start with "JOB/"
	// uses the primary key; '0' is the character after '/'.
	_, err := tx.ExecContext(ctx, q, jobID+"/", jobID+"0", jobID)
	return err
}

// chargeTx charges one capture to the key of jobID in the current period.
func chargeTx(ctx context.Context, tx *sql.Tx, jobID string) error {
	period, _ := pageshot.Period(time.Now())
	_, err := tx.ExecContext(ctx, `INSERT INTO usage (key_id, period, committed) SELECT key_id, ?, 1 FROM jobs WHERE id = ?
		ON CONFLICT (key_id, period) DO UPDATE SET committed = committed + 1`, period, jobID)
	return err
}

// finishJobIfDone marks a running or queued job done when none of its
// items is open, and reports whether this call did.
func finishJobIfDone(ctx context.Context, tx *sql.Tx, jobID string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE jobs SET status = 'done', finished_at = ? WHERE id = ? AND status IN ('queued', 'running')
		AND NOT EXISTS (SELECT 1 FROM job_items WHERE job_id = ? AND status IN ('queued', 'running'))`, time.Now().UnixNano(), jobID, jobID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AddItems implements pageshot.JobStore.
func (s *Store) AddItems(ctx context.Context, jobID string, items []pageshot.JobItem, max int) ([]pageshot.JobItem, error) {
	var added []pageshot.JobItem
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM job_items WHERE job_id = ?`, jobID).Scan(&n); err != nil {
			return err
		}
		for _, it := range items {
			if n >= max {
				break
			}
			var dup int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM job_items WHERE job_id = ? AND url = ?`, jobID, it.URL).Scan(&dup); err != nil {
				return err
			}
			if dup > 0 {
				continue
			}
			it.JobID, it.Index, it.Status = jobID, n, pageshot.ItemQueued
			if err := insertItem(ctx, tx, &it); err != nil {
				return err
			}
			added = append(added, it)
			n++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add job items: %w", err)
	}
	return added, nil
}

// CancelJob implements pageshot.JobStore.
func (s *Store) CancelJob(ctx context.Context, id string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM jobs WHERE id = ?`, id).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("job", id)
		}
		if err != nil || status == string(pageshot.JobDone) || status == string(pageshot.JobCanceled) {
			return err
		}
		now := time.Now().UnixNano()
		if _, err := tx.ExecContext(ctx, `UPDATE job_items SET status = 'canceled', updated_at = ? WHERE job_id = ? AND status = 'queued'`, now, id); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `UPDATE jobs SET status = 'canceled', finished_at = ? WHERE id = ?`, now, id); err != nil {
			return err
		}
		return refundJobTx(ctx, tx, id, true)
	})
	var pe *pageshot.Error
	if err != nil && !errors.As(err, &pe) {
		return fmt.Errorf("cancel job: %w", err)
	}
	return err
}

// UnfinishedItems implements pageshot.JobStore.
func (s *Store) UnfinishedItems(ctx context.Context) ([]pageshot.JobItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+itemColumns+` FROM job_items
		WHERE status IN ('queued', 'running') AND job_id IN (SELECT id FROM jobs WHERE status IN ('queued', 'running'))
		ORDER BY job_id, idx`)
	if err != nil {
		return nil, fmt.Errorf("list unfinished items: %w", err)
	}
	defer rows.Close()
	var items []pageshot.JobItem
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("list unfinished items: %w", err)
		}
		items = append(items, *it)
	}
	return items, rows.Err()
}

// Heartbeat implements pageshot.JobStore.
func (s *Store) Heartbeat(ctx context.Context, jobID string, index int) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE job_items SET updated_at = ? WHERE job_id = ? AND idx = ? AND status = 'running'`,
		time.Now().UnixNano(), jobID, index); err != nil {
		return fmt.Errorf("job item heartbeat: %w", interpret(err))
	}
	return nil
}

// ClaimStaleItems implements pageshot.JobStore.
func (s *Store) ClaimStaleItems(ctx context.Context, before time.Time, limit int) ([]pageshot.JobItem, error) {
	rows, err := s.db.QueryContext(ctx, `UPDATE job_items SET updated_at = ?
		WHERE rowid IN (SELECT job_items.rowid FROM job_items JOIN jobs ON jobs.id = job_items.job_id
			WHERE job_items.status = 'running' AND job_items.updated_at < ? AND jobs.status IN ('queued', 'running')
			ORDER BY job_items.updated_at LIMIT ?)
		RETURNING `+itemColumns, time.Now().UnixNano(), before.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("claim stale items: %w", interpret(err))
	}
	defer rows.Close()
	var items []pageshot.JobItem
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("claim stale items: %w", err)
		}
		items = append(items, *it)
	}
	return items, rows.Err()
}

// DeleteJobs implements pageshot.JobStore.
func (s *Store) DeleteJobs(ctx context.Context, before time.Time, limit int) ([]string, error) {
	var artifacts []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM jobs WHERE status IN ('done', 'canceled') AND finished_at > 0 AND finished_at < ?
			ORDER BY finished_at LIMIT ?`, before.UnixNano(), limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			keys, err := tx.QueryContext(ctx, `DELETE FROM job_items WHERE job_id = ? RETURNING artifact_key`, id)
			if err != nil {
				return err
			}
			for keys.Next() {
				var k string
				if err := keys.Scan(&k); err != nil {
					keys.Close()
					return err
				}
				if k != "" {
					artifacts = append(artifacts, k)
				}
			}
			keys.Close()
			if _, err := tx.ExecContext(ctx, `DELETE FROM jobs WHERE id = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete jobs: %w", err)
	}
	return artifacts, nil
}

// CacheGet implements pageshot.CacheStore. While the database is
// unchanged, an entry read once is served from memory until it expires
// (see readCache).
func (s *Store) CacheGet(ctx context.Context, key string, now time.Time) (*pageshot.CacheEntry, error) {
	st, fresh := s.reads.now()
	if fresh {
		if v, ok := s.reads.get(st, "cache:"+key); ok {
			if e := v.(*pageshot.CacheEntry); e.ExpiresAt.After(now) {
				c := *e
				return &c, nil
			}
		}
	}
	var (
		e                pageshot.CacheEntry
		created, expires int64
	)
	err := s.queryRow(ctx, `SELECT key, blob_key, format, width, height, returned_status_code, created_at, expires_at
		FROM cache_entries WHERE key = ? AND expires_at > ?`, key, now.UnixNano()).
		Scan(&e.Key, &e.BlobKey, &e.Format, &e.Width, &e.Height, &e.ReturnedStatusCode, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("cache entry", key)
	}
	if err != nil {
		return nil, fmt.Errorf("get cache entry: %w", err)
	}
	e.CreatedAt, e.ExpiresAt = fromUnixNano(created), fromUnixNano(expires)
	if fresh {
		c := e
		s.reads.put(st, "cache:"+key, &c)
	}
	return &e, nil
}

// CachePut implements pageshot.CacheStore.
func (s *Store) CachePut(ctx context.Context, e *pageshot.CacheEntry) (string, error) {
	var replaced string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT blob_key FROM cache_entries WHERE key = ?`, e.Key).Scan(&replaced)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO cache_entries (key, blob_key, format, width, height, returned_status_code, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET blob_key = excluded.blob_key, format = excluded.format,
			width = excluded.width, height = excluded.height, returned_status_code = excluded.returned_status_code,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
			e.Key, e.BlobKey, e.Format, e.Width, e.Height, e.ReturnedStatusCode, unixNano(e.CreatedAt), unixNano(e.ExpiresAt))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("put cache entry: %w", err)
	}
	return replaced, nil
}

// CacheExpired implements pageshot.CacheStore.
func (s *Store) CacheExpired(ctx context.Context, now time.Time, limit int) ([]pageshot.CacheEntry, error) {
	rows, err := s.db.QueryContext(ctx, `DELETE FROM cache_entries WHERE key IN
		(SELECT key FROM cache_entries WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) RETURNING key, blob_key`, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("expire cache entries: %w", err)
	}
	defer rows.Close()
	var out []pageshot.CacheEntry
	for rows.Next() {
		var e pageshot.CacheEntry
		if err := rows.Scan(&e.Key, &e.BlobKey); err != nil {
			return nil, fmt.Errorf("expire cache entries: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
