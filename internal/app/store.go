package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/jobs"
	"github.com/pageshot/pageshot/internal/postgres"
	"github.com/pageshot/pageshot/internal/sqlite"
)

// Store is a node's database: keys, the usage ledger, the cache index and
// jobs, on SQLite (one node) or PostgreSQL (any number of nodes).
type Store interface {
	pageshot.KeyStore
	pageshot.UsageStore
	pageshot.JobStore
	pageshot.CacheStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Applied names the store's migrations the database has.
	Applied(ctx context.Context) ([]string, error)
	Close() error
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*postgres.Store)(nil)
)

// IsPostgres reports whether databaseURL names a PostgreSQL database.
func IsPostgres(databaseURL string) bool {
	return strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://")
}

// OpenStore opens the store at databaseURL (postgres://…) or, when it is
// empty, the SQLite database under dataDir (creating the directory), and
// applies the store's migrations.
func OpenStore(ctx context.Context, dataDir, databaseURL string) (Store, error) {
	switch {
	case databaseURL == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		return sqlite.Open(ctx, DatabasePath(dataDir))
	case IsPostgres(databaseURL):
		return postgres.Open(ctx, databaseURL)
	default:
		return nil, fmt.Errorf("database URL %q: want postgres://… (or none, for SQLite under the data dir)", Redact(databaseURL))
	}
}

// Redact returns a database URL without its password, for messages.
func Redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.User == nil {
		return databaseURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// StoreName describes the store of dataDir and databaseURL for messages.
func StoreName(dataDir, databaseURL string) string {
	if databaseURL != "" {
		return Redact(databaseURL)
	}
	return DatabasePath(dataDir)
}

// MigrateQueue applies the job queue's migrations in st's database and
// returns how many it applied.
func MigrateQueue(ctx context.Context, st Store, log *slog.Logger) (int, error) {
	switch s := st.(type) {
	case *sqlite.Store:
		return jobs.Migrate(ctx, riversqlite.New(s.DB()), log)
	case *postgres.Store:
		return jobs.Migrate(ctx, riverpgxv5.New(s.Pool()), log)
	default:
		return 0, fmt.Errorf("no job queue for a %T", st)
	}
}

// newJobs returns the job service on st's database, and what to close
// after it stops. On SQLite, River keeps its queue in the same file
// through a pool of one connection, as its SQLite driver asks; on
// PostgreSQL it shares the store's pool.
func newJobs(ctx context.Context, st Store, cfg jobs.Config) (*jobs.Service, func() error, error) {
	switch s := st.(type) {
	case *sqlite.Store:
		queue, err := sqlite.OpenDB(s.Path())
		if err != nil {
			return nil, nil, err
		}
		queue.SetMaxOpenConns(1)
		svc, err := jobs.New(ctx, riversqlite.New(queue), cfg)
		if err != nil {
			queue.Close()
			return nil, nil, err
		}
		return svc, queue.Close, nil
	case *postgres.Store:
		svc, err := jobs.New(ctx, riverpgxv5.New(s.Pool()), cfg)
		return svc, func() error { return nil }, err
	default:
		return nil, nil, fmt.Errorf("no job queue for a %T", st)
	}
}
