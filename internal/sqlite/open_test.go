package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// openTemp opens a new store in t's temporary directory, closed when t
// ends.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "pageshot.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
