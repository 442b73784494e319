package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// statements holds the statements of the request path prepared once:
// SQLite parses and plans a statement at each call otherwise, which costs
// several times the indexed lookup itself (the key, the cache entry, the
// usage of every authenticated request). database/sql prepares a *sql.Stmt
// again on each pool connection that runs it, and closes it with the pool.
type statements struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

// queryRow runs query, prepared once, and returns its row. A failed
// preparation is returned by the row's Scan.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	if st, ok := s.stmts.m[query]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if s.stmts.m == nil {
		s.stmts.m = map[string]*sql.Stmt{}
	}
	s.stmts.m[query] = st
	return st, nil
}

// closeStatements closes the prepared statements, before the pool.
func (s *Store) closeStatements() {
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	for _, st := range s.stmts.m {
		_ = st.Close()
	}
	s.stmts.m = nil
}

type rowScanner interface{ Scan(...any) error }

// errRow is a row whose Scan returns err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
