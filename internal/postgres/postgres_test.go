package postgres_test

import (
	"context"
	"testing"

	"github.com/pageshot/pageshot/internal/pgtest"
	"github.com/pageshot/pageshot/internal/postgres"
	"github.com/pageshot/pageshot/internal/storetest"
)

func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Exercise(t, func(t *testing.T) storetest.Store { return open(t, pgtest.URL(t)) })
}

// TestNodes: two Stores, as two nodes hold them, on one database.
func TestNodes(t *testing.T) {
	storetest.ExerciseNodes(t, func(t *testing.T) (storetest.Store, storetest.Store) {
		url := pgtest.URL(t)
		return open(t, url), open(t, url)
	})
}
