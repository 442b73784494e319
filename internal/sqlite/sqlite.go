// Package sqlite is pageshot's single-node store on SQLite (the pure-Go
// modernc.org/sqlite): API keys and the usage ledger. The database is in
// WAL mode with a busy timeout and every write takes the write lock at its
// start, so a serve process and CLI commands run beside it can share one
// file safely.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/pageshot/pageshot"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements pageshot.KeyStore and pageshot.UsageStore.
type Store struct {
	db   *sql.DB
	path string
	// MinFree is the room, in bytes, the database's disk must have for a
	// new reservation; with less, reservations (and so captures and jobs)
	// answer service_unavailable with a Retry-After. Negative turns the
	// check off. Defaults to DefaultMinFree.
	MinFree int64
	stmts   statements
	reads   *readCache
}

var (
	_ pageshot.KeyStore   = (*Store)(nil)
	_ pageshot.UsageStore = (*Store)(nil)
)

// Open opens (creating if needed) the database at path and applies its
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, MinFree: DefaultMinFree}
	if err := s.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s.reads = openReadCache(ctx, s)
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// MaxOpenConns bounds the connections of a pool that OpenDB returns.
const MaxOpenConns = 8

// OpenDB opens a pool on the database at path with the settings every
// user of the file shares: WAL, a busy timeout, and transactions that take
// the write lock when they begin (_txlock=immediate), so that two
// processes or pools never both read, then fail to write.
func OpenDB(path string) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	// Writers queue for SQLite's one write lock anyway; more connections
	// than this only add open files (three each: the database, its WAL
	// and shared memory) after a burst.
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(MaxOpenConns)
	return db, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.reads.close()
	s.closeStatements()
	return s.db.Close()
}

// Migrate applies the migrations the database does not have yet, in order,
// each in its own transaction. Running it again does nothing.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", interpret(err))
	}
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
		if err := s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, time.Now().Unix())
			return err
		}); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

// Applied returns the names of the migrations the database has.
func (s *Store) Applied(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list migrations: %w", err)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// tx runs fn in a transaction. A full disk is service_unavailable (see
// interpret).
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return interpret(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return interpret(err)
	}
	return interpret(tx.Commit())
}

func notFound(what, id string) error {
	return pageshot.Errorf(pageshot.CodeNotFound, "No %s %q.", what, id)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func joinScopes(scopes []pageshot.Scope) string {
	parts := make([]string, len(scopes))
	for i, sc := range scopes {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ",")
}

func splitList(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}

// CreateKey implements pageshot.KeyStore. An id in use is an error.
func (s *Store) CreateKey(ctx context.Context, k *pageshot.APIKey) error {
	signed := 0
	if k.SignedOnly {
		signed = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys
		(id, name, plan, scopes, secret_hash, signing_secret, webhook_secret, signed_only, url_allow, url_block, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Plan, joinScopes(k.Scopes), k.SecretHash, k.SigningSecret, k.WebhookSecret, signed,
		strings.Join(k.URLAllow, "\n"), strings.Join(k.URLBlock, "\n"), unixNano(k.CreatedAt), unixNano(k.ExpiresAt), unixNano(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("create key: %w", interpret(err))
	}
	return nil
}

const keyColumns = `id, name, plan, scopes, secret_hash, signing_secret, webhook_secret, signed_only, url_allow, url_block, created_at, expires_at, revoked_at`

type scanner interface{ Scan(...any) error }

func scanKey(row scanner) (*pageshot.APIKey, error) {
	var (
		k                           pageshot.APIKey
		scopes, allow, block        string
		signed                      int
		created, expires, revokedAt int64
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Plan, &scopes, &k.SecretHash, &k.SigningSecret, &k.WebhookSecret, &signed, &allow, &block, &created, &expires, &revokedAt); err != nil {
		return nil, err
	}
	for _, sc := range splitList(scopes, ",") {
		k.Scopes = append(k.Scopes, pageshot.Scope(sc))
	}
	k.SignedOnly = signed != 0
	k.URLAllow, k.URLBlock = splitList(allow, "\n"), splitList(block, "\n")
	k.CreatedAt, k.ExpiresAt, k.RevokedAt = fromUnixNano(created), fromUnixNano(expires), fromUnixNano(revokedAt)
	return &k, nil
}

// Key implements pageshot.KeyStore. While the database is unchanged, the
// key (or its absence) is read from memory (see readCache).
func (s *Store) Key(ctx context.Context, id string) (*pageshot.APIKey, error) {
	st, fresh := s.reads.now()
	if fresh {
		if v, ok := s.reads.get(st, "key:"+id); ok {
			if v == nil {
				return nil, notFound("API key", id)
			}
			k := *v.(*pageshot.APIKey) // a copy: the caller may change it
			return &k, nil
		}
	}
	k, err := scanKey(s.queryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		if fresh {
			s.reads.put(st, "key:"+id, nil)
		}
		return nil, notFound("API key", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get key: %w", err)
	}
	if fresh {
		c := *k
		s.reads.put(st, "key:"+id, &c)
	}
	return k, nil
}

// ListKeys implements pageshot.KeyStore, oldest first.
func (s *Store) ListKeys(ctx context.Context) ([]*pageshot.APIKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var keys []*pageshot.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RevokeKey implements pageshot.KeyStore. Revoking twice keeps the first
// time.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END WHERE id = ?`, unixNano(at), id)
	if err != nil {
		return fmt.Errorf("revoke key: %w", interpret(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("API key", id)
	}
	return nil
}

// Reserve implements pageshot.UsageStore.
func (s *Store) Reserve(ctx context.Context, keyID, period string, limit int64, ttl time.Duration) (string, pageshot.Usage, bool, error) {
	var (
		u  pageshot.Usage
		ok bool
	)
	if err := s.room(); err != nil {
		return "", u, false, err
	}
	id := newID()
	err := s.tx(ctx, func(tx *sql.Tx) (err error) {
		u, ok, err = reserveTx(ctx, tx, keyID, period, limit, []string{id}, ttl)
		return err
	})
	if err != nil {
		return "", u, false, fmt.Errorf("reserve usage: %w", err)
	}
	if !ok {
		id = ""
	}
	return id, u, ok, nil
}

// reserveTx reserves one unit of keyID in period per id, all or none,
// when committed plus reserved units stay within limit (0: no limit). It
// returns the usage with the new units counted when they were reserved.
// The transaction holds SQLite's write lock from its start
// (_txlock=immediate), so the count and the insert cannot interleave with
// another reservation.
func reserveTx(ctx context.Context, tx *sql.Tx, keyID, period string, limit int64, ids []string, ttl time.Duration) (pageshot.Usage, bool, error) {
	var u pageshot.Usage
	now := time.Now()
	if _, err := tx.ExecContext(ctx, `DELETE FROM usage_reservations WHERE key_id = ? AND period = ? AND expires_at <= ?`, keyID, period, now.UnixNano()); err != nil {
		return u, false, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT
		COALESCE((SELECT committed FROM usage WHERE key_id = ? AND period = ?), 0),
		(SELECT count(*) FROM usage_reservations WHERE key_id = ? AND period = ?)`,
		keyID, period, keyID, period).Scan(&u.Committed, &u.Reserved); err != nil {
		return u, false, err
	}
	if limit > 0 && u.Committed+u.Reserved+int64(len(ids)) > limit {
		return u, false, nil
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage_reservations (id, key_id, period, expires_at) VALUES (?, ?, ?, ?)`,
			id, keyID, period, now.Add(ttl).UnixNano()); err != nil {
			return u, false, err
		}
	}
	u.Reserved += int64(len(ids))
	return u, true, nil
}

// Commit implements pageshot.UsageStore. A reservation that expired and
// was dropped is not charged.
func (s *Store) Commit(ctx context.Context, reservation string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error { return commitTx(ctx, tx, reservation) })
	var pe *pageshot.Error
	if err != nil && !errors.As(err, &pe) {
		return fmt.Errorf("commit usage: %w", err)
	}
	return err
}

// commitTx turns reservation into a charged capture within tx.
func commitTx(ctx context.Context, tx *sql.Tx, reservation string) error {
	var keyID, period string
	err := tx.QueryRowContext(ctx, `DELETE FROM usage_reservations WHERE id = ? RETURNING key_id, period`, reservation).Scan(&keyID, &period)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("reservation", reservation)
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO usage (key_id, period, committed) VALUES (?, ?, 1)
		ON CONFLICT (key_id, period) DO UPDATE SET committed = committed + 1`, keyID, period)
	return err
}

// Refund implements pageshot.UsageStore. Refunding an unknown reservation
// does nothing.
func (s *Store) Refund(ctx context.Context, reservation string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM usage_reservations WHERE id = ?`, reservation); err != nil {
		return fmt.Errorf("refund usage: %w", interpret(err))
	}
	return nil
}

// Usage implements pageshot.UsageStore. While the database is unchanged
// and none of the counted reservations has expired, the answer is read
// from memory (see readCache).
func (s *Store) Usage(ctx context.Context, keyID, period string) (pageshot.Usage, error) {
	now := time.Now().UnixNano()
	cacheKey := "usage:" + keyID + "\x00" + period
	st, fresh := s.reads.now()
	if fresh {
		if v, ok := s.reads.get(st, cacheKey); ok {
			if c := v.(*cachedUsage); now < c.until {
				return c.u, nil
			}
		}
	}
	var (
		u     pageshot.Usage
		until int64 // the first expiry of a counted reservation
	)
	err := s.queryRow(ctx, `SELECT
		COALESCE((SELECT committed FROM usage WHERE key_id = ? AND period = ?), 0),
		(SELECT count(*) FROM usage_reservations WHERE key_id = ? AND period = ? AND expires_at > ?),
		COALESCE((SELECT min(expires_at) FROM usage_reservations WHERE key_id = ? AND period = ? AND expires_at > ?), 0)`,
		keyID, period, keyID, period, now, keyID, period, now).Scan(&u.Committed, &u.Reserved, &until)
	if err != nil {
		return u, fmt.Errorf("get usage: %w", err)
	}
	if fresh {
		if until == 0 {
			until = math.MaxInt64 // nothing reserved: nothing expires
		}
		s.reads.put(st, cacheKey, &cachedUsage{u: u, until: until})
	}
	return u, nil
}

// cachedUsage is a usage read, right until a counted reservation expires.
type cachedUsage struct {
	u     pageshot.Usage
	until int64 // unix nanoseconds
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
