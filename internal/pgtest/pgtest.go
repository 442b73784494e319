// Package pgtest gives each test a database of its own on the PostgreSQL
// server named by PAGESHOT_TEST_DATABASE_URL, so that packages and tests
// can run in parallel on one server.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the variable that points the tests at a PostgreSQL server.
const EnvVar = "PAGESHOT_TEST_DATABASE_URL"

// URL creates an empty database named test_<random> on the server of
// PAGESHOT_TEST_DATABASE_URL and returns its URL; the database is dropped
// (WITH (FORCE), closing what is still connected) when t ends. The
// database in the variable's URL need not exist: the new database is
// created through the server's maintenance database, postgres. Without
// the variable, URL skips t.
func URL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvVar)
	if raw == "" {
		t.Skip("PostgreSQL tests skipped: set " + EnvVar + " to a server where the user may create databases, e.g. " +
			EnvVar + "='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' go test ./...")
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL: %q", EnvVar, raw)
	}
	admin := *base
	admin.Path = "/postgres"

	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "test_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", admin.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	db := *base
	db.Path = "/" + name
	return db.String()
}
