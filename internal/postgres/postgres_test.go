package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/pageshot/pageshot"
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

// TestNodesUnderStricterDefault: the same on a database whose default
// isolation is REPEATABLE READ, where a reservation's count would read the
// snapshot taken before it waited for the lock; the store keeps to READ
// COMMITTED and stays exact.
func TestNodesUnderStricterDefault(t *testing.T) {
	storetest.ExerciseNodes(t, func(t *testing.T) (storetest.Store, storetest.Store) {
		url := pgtest.URL(t)
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DO $$ BEGIN
			EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = %L', current_database(), 'repeatable read'); END $$`); err != nil {
			t.Fatal(err)
		}
		return open(t, url), open(t, url)
	})
}

// TestMigrateConcurrently: processes starting at once on an empty
// database all open it, and each migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := postgres.Open(ctx, url)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s := open(t, url)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrating again: %v", err)
	}
	names, err := s.Applied(ctx)
	if err != nil || fmt.Sprint(names) != "[migrations/0001_keys_usage.sql migrations/0002_jobs_cache.sql]" {
		t.Errorf("applied %v %v", names, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
}

func TestOpenFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=5"); err == nil {
		t.Error("opened a database nobody serves")
	}
	if _, err := postgres.Open(ctx, "mysql://x"); err == nil {
		t.Error("opened a URL of another database")
	}
}

type itemArgs struct {
	Job   string `json:"job"`
	Index int    `json:"index"`
}

func (itemArgs) Kind() string { return "pgtest_item" }

// TestCreateJobEnqueuesInRiver: the transaction CreateJob hands to
// enqueue is the pgx.Tx that River's riverpgxv5 driver inserts with, so a
// job and its queue entries are stored together or not at all.
func TestCreateJobEnqueuesInRiver(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.URL(t))
	driver := riverpgxv5.New(s.Pool())
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatal(err)
	}
	client, err := river.NewClient(driver, &river.Config{}) // insert only
	if err != nil {
		t.Fatal(err)
	}
	enqueue := func(fail error) func(context.Context, any) error {
		return func(ctx context.Context, tx any) error {
			ptx, ok := tx.(pgx.Tx)
			if !ok {
				return fmt.Errorf("enqueue got a %T, want a pgx.Tx", tx)
			}
			if _, err := client.InsertManyTx(ctx, ptx, []river.InsertManyParams{{Args: itemArgs{"j", 0}}, {Args: itemArgs{"j", 1}}}); err != nil {
				return err
			}
			return fail
		}
	}
	queued := func() (n int) {
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	q := pageshot.JobQuota{Period: "p", Limit: 3, Units: 2, TTL: time.Hour}
	j := &pageshot.Job{ID: "j", KeyID: "k", Kind: pageshot.JobBatch, CreatedAt: time.Now(),
		Items: []pageshot.JobItem{{URL: "https://a.example/", Options: []byte(`{}`)}, {URL: "https://b.example/", Options: []byte(`{}`)}}}
	if _, ok, err := s.CreateJob(ctx, j, q, enqueue(nil)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if n := queued(); n != 2 {
		t.Errorf("%d River jobs after a job of two items, want 2", n)
	}

	boom := errors.New("boom")
	j2 := &pageshot.Job{ID: "j2", KeyID: "k", Kind: pageshot.JobBatch, CreatedAt: time.Now(), Items: j.Items[:1]}
	q.Units = 1
	if _, _, err := s.CreateJob(ctx, j2, q, enqueue(boom)); !errors.Is(err, boom) {
		t.Fatalf("create: %v, want %v", err, boom)
	}
	if n := queued(); n != 2 {
		t.Errorf("%d River jobs after a failed create, want 2: its insert was not rolled back", n)
	}
	if u, _ := s.Usage(ctx, "k", "p"); u != (pageshot.Usage{Reserved: 2}) {
		t.Errorf("usage %+v after a failed create, want the first job's 2 units", u)
	}
	q.Units = 2 // 2 + 2 > 3: refused before anything is queued
	if _, ok, err := s.CreateJob(ctx, &pageshot.Job{ID: "j3", KeyID: "k", Kind: pageshot.JobBatch, Items: j.Items}, q, enqueue(nil)); ok || err != nil {
		t.Fatalf("a job past the quota: %v %v", ok, err)
	}
	if n := queued(); n != 2 {
		t.Errorf("%d River jobs after a refused create, want 2", n)
	}
}

// TestFinishItemChargeFails: when the charge of a succeeded item fails, the
// whole finishing transaction fails: the item stays running and nothing is
// charged, so that its rerun ends it and charges it once. The item holds
// no unit (its job reserved none), so FinishItem charges the key directly;
// a trigger makes the ledger refuse that write.
func TestFinishItemChargeFails(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.URL(t))
	period, _ := pageshot.Period(time.Now())
	j := &pageshot.Job{ID: "j", KeyID: "k", Kind: pageshot.JobBatch, CreatedAt: time.Now(),
		Items: []pageshot.JobItem{{URL: "https://a.example/", Options: []byte(`{}`)}}}
	if _, ok, err := s.CreateJob(ctx, j, pageshot.JobQuota{Period: period}, nil); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := s.StartItem(ctx, "j", 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// CreateJob made the (key, period) row; the charge is its update.
	if _, err := s.Pool().Exec(ctx, `CREATE FUNCTION ledger_down() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'ledger unavailable'; END $$;
		CREATE TRIGGER ledger_down BEFORE INSERT OR UPDATE ON usage FOR EACH ROW EXECUTE FUNCTION ledger_down()`); err != nil {
		t.Fatal(err)
	}
	done, err := s.FinishItem(ctx, "j", 0, pageshot.ItemResult{Status: pageshot.ItemSucceeded, ArtifactKey: "a.png"})
	if err == nil || done {
		t.Errorf("FinishItem with a failing charge: done %v, err %v; want an error", done, err)
	}
	if it, err := s.Item(ctx, "j", 0); err != nil || it.Status != pageshot.ItemRunning || it.ArtifactKey != "" {
		t.Errorf("the item after a failed charge: %+v %v; want it still running", it, err)
	}
	if u, err := s.Usage(ctx, "k", period); err != nil || u != (pageshot.Usage{}) {
		t.Errorf("usage after a failed charge: %+v %v", u, err)
	}
	if _, err := s.Pool().Exec(ctx, `DROP TRIGGER ledger_down ON usage`); err != nil {
		t.Fatal(err)
	}
	if done, err := s.FinishItem(ctx, "j", 0, pageshot.ItemResult{Status: pageshot.ItemSucceeded, ArtifactKey: "a.png"}); !done || err != nil {
		t.Fatalf("rerun: done %v, err %v", done, err)
	}
	if u, _ := s.Usage(ctx, "k", period); u != (pageshot.Usage{Committed: 1}) {
		t.Errorf("usage after the rerun: %+v, want 1 committed", u)
	}
}
