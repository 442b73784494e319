package pgtest_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pageshot/pageshot/internal/pgtest"
)

// TestURL: the database is new and empty, named test_…, reached through a
// variable whose own database need not exist, and gone after its test.
func TestURL(t *testing.T) {
	if os.Getenv(pgtest.EnvVar) == "" {
		t.Skip("set " + pgtest.EnvVar)
	}
	base, _ := url.Parse(os.Getenv(pgtest.EnvVar))
	base.Path = "/no_such_database_" + strings.Repeat("x", 8)
	t.Setenv(pgtest.EnvVar, base.String())

	ctx := context.Background()
	var name string
	t.Run("inner", func(t *testing.T) {
		// Left open on purpose: the drop closes it (WITH (FORCE)).
		conn, err := pgx.Connect(ctx, pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := conn.QueryRow(ctx, `SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')`).Scan(&name, &tables); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "test_") || tables != 0 {
			t.Errorf("database %q with %d tables", name, tables)
		}
	})
	base.Path = "/postgres"
	conn, err := pgx.Connect(ctx, base.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&left); err != nil || left {
		t.Errorf("database %s left behind (%v)", name, err)
	}
}
