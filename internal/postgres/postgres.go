// Package postgres is pageshot's shared store on PostgreSQL (jackc/pgx v5
// with pgxpool): API keys, the usage ledger, jobs and the cache index,
// for any number of nodes on one database.
//
// Quota stays exact across nodes: every reservation of a key's units in a
// period first locks that key's and period's row of the usage table
// (SELECT … FOR UPDATE), then counts and inserts in statements that start
// after the lock is held, so that no two reservations count the same free
// unit. Operations on one job lock the job's row, so that two nodes
// finishing the job's last items agree on when it is done.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pageshot/pageshot"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the advisory lock that migrations take, so
// that processes starting together apply each migration once ("pageshot"
// in ASCII).
const migrationLock = 0x7061676573686f74

// Store implements pageshot.KeyStore, UsageStore, JobStore and CacheStore
// on one PostgreSQL database. It is safe for concurrent use, and any
// number of Stores (in any number of processes) may share the database.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ pageshot.KeyStore   = (*Store)(nil)
	_ pageshot.UsageStore = (*Store)(nil)
)

// Open connects to the database at databaseURL (a postgres:// URL or a
// key=value connection string, with pgxpool's pool_* settings) and
// applies the migrations it does not have yet.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// The quota's exactness rests on each statement seeing what committed
	// before it started (see queueReserve): READ COMMITTED, even where the
	// server's or the database's default is stricter.
	cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Pool returns the connection pool, for the job queue that shares the
// database (River's riverpgxv5 driver).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool, waiting for the connections in use to be
// returned. It returns nil; the error is for io.Closer.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Migrate applies the migrations the database does not have yet, in
// order, each in its own transaction. Each transaction first takes an
// advisory lock, so processes migrating at once apply every migration
// exactly once. Running it again does nothing.
func (s *Store) Migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
				return err
			}
			// Under the lock: CREATE TABLE IF NOT EXISTS is not safe to
			// run concurrently.
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return err
			}
			var applied bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&applied); err != nil || applied {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name)
			return err
		}); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

// Applied returns the names of the migrations the database has.
func (s *Store) Applied(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	return names, nil
}

func notFound(what, id string) error {
	return pageshot.Errorf(pageshot.CodeNotFound, "No %s %q.", what, id)
}

// isPageshot reports whether err is already a domain error, which is
// returned as it is rather than wrapped.
func isPageshot(err error) bool {
	var pe *pageshot.Error
	return errors.As(err, &pe)
}

// nullTime is t as a nullable timestamptz: NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNull is the inverse of nullTime, in UTC.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func scopeStrings(scopes []pageshot.Scope) []string {
	out := make([]string, len(scopes))
	for i, sc := range scopes {
		out[i] = string(sc)
	}
	return out
}

// list returns nil for an empty list, as the SQLite store does.
func list(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// nonNil stores an absent list as an empty array (the columns are NOT
// NULL).
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// CreateKey implements pageshot.KeyStore. An id in use is an error.
func (s *Store) CreateKey(ctx context.Context, k *pageshot.APIKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys
		(id, name, plan, scopes, secret_hash, signing_secret, webhook_secret, signed_only, url_allow, url_block, created_at, expires_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		k.ID, k.Name, k.Plan, scopeStrings(k.Scopes), nonNilBytes(k.SecretHash), k.SigningSecret, k.WebhookSecret, k.SignedOnly,
		nonNil(k.URLAllow), nonNil(k.URLBlock), k.CreatedAt, nullTime(k.ExpiresAt), nullTime(k.RevokedAt))
	if err != nil {
		return storeError("create key", err)
	}
	return nil
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const keyColumns = `id, name, plan, scopes, secret_hash, signing_secret, webhook_secret, signed_only, url_allow, url_block, created_at, expires_at, revoked_at`

type scanner interface{ Scan(...any) error }

func scanKey(row scanner) (*pageshot.APIKey, error) {
	var (
		k                  pageshot.APIKey
		scopes             []string
		allow, block       []string
		created            time.Time
		expires, revokedAt *time.Time
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Plan, &scopes, &k.SecretHash, &k.SigningSecret, &k.WebhookSecret, &k.SignedOnly,
		&allow, &block, &created, &expires, &revokedAt); err != nil {
		return nil, err
	}
	for _, sc := range scopes {
		k.Scopes = append(k.Scopes, pageshot.Scope(sc))
	}
	k.URLAllow, k.URLBlock = list(allow), list(block)
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = created.UTC(), fromNull(expires), fromNull(revokedAt)
	return &k, nil
}

// Key implements pageshot.KeyStore.
func (s *Store) Key(ctx context.Context, id string) (*pageshot.APIKey, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("API key", id)
	}
	if err != nil {
		return nil, storeError("get key", err)
	}
	return k, nil
}

// ListKeys implements pageshot.KeyStore, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*pageshot.APIKey, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*pageshot.APIKey, error) { return scanKey(row) })
	if err != nil {
		return nil, storeError("list keys", err)
	}
	return keys, nil
}

// RevokeKey implements pageshot.KeyStore. Revoking twice keeps the first
// time.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, nullTime(at), id)
	if err != nil {
		return storeError("revoke key", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("API key", id)
	}
	return nil
}

// Reserve implements pageshot.UsageStore in one round trip: the
// statements of queueReserve sent as one batch, which PostgreSQL runs in
// one (implicit) transaction.
func (s *Store) Reserve(ctx context.Context, keyID, period string, limit int64, ttl time.Duration) (string, pageshot.Usage, bool, error) {
	id := newID()
	b := new(pgx.Batch)
	res := queueReserve(b, keyID, period, limit, []string{id}, ttl)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return "", res.u, false, storeError("reserve usage", err)
	}
	if !res.ok {
		return "", res.u, false, nil
	}
	return id, res.u, true, nil
}

// reservation is the outcome of queueReserve, filled when its batch runs.
type reservation struct {
	u  pageshot.Usage
	ok bool
}

// queueReserve queues on b the statements that reserve one unit of keyID
// in period per id, all or none, when committed plus reserved units stay
// within limit (0: no limit); each unit expires ttl after the
// transaction's start. b must run in one transaction (a batch alone, or
// one sent on a pgx.Tx). The outcome, with the new units counted when
// they were reserved, is in the result once the batch has run.
//
// With a limit, the statements first lock the (key, period) row of usage. In READ
// COMMITTED each later statement takes its snapshot when it starts, after
// the lock is held, so it sees every reservation and commit of the
// transactions that held the lock before: the count cannot be stale and
// two nodes can never both take the last unit. Open makes READ COMMITTED
// the isolation of every connection, whatever the server's default.
func queueReserve(b *pgx.Batch, keyID, period string, limit int64, ids []string, ttl time.Duration) *reservation {
	res := new(reservation)
	// Expired reservations no longer count; dropping them here keeps the
	// table small. SKIP LOCKED: never wait for a row another transaction is
	// committing or refunding (nor deadlock with it).
	b.Queue(`DELETE FROM usage_reservations WHERE id IN (SELECT id FROM usage_reservations
		WHERE key_id = $1 AND period = $2 AND expires_at <= now() FOR UPDATE SKIP LOCKED)`, keyID, period)
	b.Queue(`INSERT INTO usage (key_id, period) VALUES ($1, $2) ON CONFLICT (key_id, period) DO NOTHING`, keyID, period)
	if limit > 0 {
		// Without a limit there is nothing to overshoot, and reservations
		// of the key need not wait for each other.
		b.Queue(`SELECT 1 FROM usage WHERE key_id = $1 AND period = $2 FOR UPDATE`, keyID, period)
	}
	b.Queue(`WITH u AS (
			SELECT committed, (SELECT count(*) FROM usage_reservations r WHERE r.key_id = $1 AND r.period = $2 AND r.expires_at > now()) AS reserved
			FROM usage WHERE key_id = $1 AND period = $2),
		ins AS (
			INSERT INTO usage_reservations (id, key_id, period, expires_at)
			SELECT id, $1, $2, now() + $5::bigint * interval '1 microsecond' FROM unnest($3::text[]) AS id, u
			WHERE $4::bigint <= 0 OR u.committed + u.reserved + cardinality($3::text[]) <= $4::bigint
			RETURNING 1)
		SELECT u.committed, u.reserved, (SELECT count(*) FROM ins) FROM u`,
		keyID, period, ids, limit, ttl.Microseconds()).QueryRow(func(row pgx.Row) error {
		var inserted int64
		if err := row.Scan(&res.u.Committed, &res.u.Reserved, &inserted); err != nil {
			return err
		}
		n := int64(len(ids))
		res.ok = limit <= 0 || res.u.Committed+res.u.Reserved+n <= limit
		if res.ok != (inserted == n) {
			return fmt.Errorf("reserved %d of %d units", inserted, n)
		}
		if res.ok {
			res.u.Reserved += n
		}
		return nil
	})
	return res
}

// commitSQL turns the reservation $1 into a charged capture in one
// statement: no rows when the reservation is gone.
const commitSQL = `WITH r AS (DELETE FROM usage_reservations WHERE id = $1 RETURNING key_id, period)
	INSERT INTO usage AS u (key_id, period, committed) SELECT key_id, period, 1 FROM r
	ON CONFLICT (key_id, period) DO UPDATE SET committed = u.committed + 1`

// Commit implements pageshot.UsageStore. A reservation that expired and
// was dropped is not charged (not_found).
func (s *Store) Commit(ctx context.Context, reservation string) error {
	tag, err := s.pool.Exec(ctx, commitSQL, reservation)
	if err != nil {
		return storeError("commit usage", err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("reservation", reservation)
	}
	return nil
}

// Refund implements pageshot.UsageStore. Refunding an unknown reservation
// does nothing.
func (s *Store) Refund(ctx context.Context, reservation string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM usage_reservations WHERE id = $1`, reservation); err != nil {
		return storeError("refund usage", err)
	}
	return nil
}

// Usage implements pageshot.UsageStore.
func (s *Store) Usage(ctx context.Context, keyID, period string) (pageshot.Usage, error) {
	var u pageshot.Usage
	err := s.pool.QueryRow(ctx, `SELECT
		COALESCE((SELECT committed FROM usage WHERE key_id = $1 AND period = $2), 0),
		(SELECT count(*) FROM usage_reservations WHERE key_id = $1 AND period = $2 AND expires_at > now())`,
		keyID, period).Scan(&u.Committed, &u.Reserved)
	if err != nil {
		return u, storeError("get usage", err)
	}
	return u, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
