package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pageshot/pageshot/internal/sqlite"
	"github.com/pageshot/pageshot/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) storetest.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "pageshot.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestTwoProcesses opens one file twice, as serve and a CLI command beside
// it do, and migrates again without harm.
func TestTwoProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pageshot.db")
	ctx := context.Background()
	a, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, _, ok, err := a.Reserve(ctx, "k", "p", 1, 60e9)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, _, ok, _ := b.Reserve(ctx, "k", "p", 1, 60e9); ok {
		t.Error("the second handle overshot the limit")
	}
	if err := a.Commit(ctx, r); err != nil {
		t.Fatal(err)
	}
	if u, _ := b.Usage(ctx, "k", "p"); u.Committed != 1 {
		t.Errorf("the second handle sees %+v", u)
	}
}

func TestNodes(t *testing.T) {
	storetest.ExerciseNodes(t, func(t *testing.T) (storetest.Store, storetest.Store) {
		path := filepath.Join(t.TempDir(), "pageshot.db")
		var stores [2]storetest.Store
		for i := range stores {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		return stores[0], stores[1]
	})
}
