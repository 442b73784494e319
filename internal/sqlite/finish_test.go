package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// TestFinishItemChargeFails: when the charge of a succeeded item fails, the
// whole finishing transaction fails: the item stays running and nothing is
// charged, so that the rerun of the item can end it and charge it once.
// The item holds no unit (its unit expired and was dropped, or it is past
// the units its job reserved), so FinishItem charges the key directly; a
// trigger makes the ledger refuse that write.
func TestFinishItemChargeFails(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	period, _ := pageshot.Period(time.Now())
	j := &pageshot.Job{ID: "j", KeyID: "k", Kind: pageshot.JobBatch, CreatedAt: time.Now(),
		Items: []pageshot.JobItem{{URL: "https://a.example/", Options: []byte(`{}`)}}}
	if _, ok, err := s.CreateJob(ctx, j, pageshot.JobQuota{Period: period}, nil); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := s.StartItem(ctx, "j", 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	for _, ddl := range []string{
		`CREATE TRIGGER usage_down_insert BEFORE INSERT ON usage BEGIN SELECT RAISE(ABORT, 'ledger unavailable'); END`,
		`CREATE TRIGGER usage_down_update BEFORE UPDATE ON usage BEGIN SELECT RAISE(ABORT, 'ledger unavailable'); END`,
	} {
		if _, err := s.db.ExecContext(ctx, ddl); err != nil {
			t.Fatal(err)
		}
	}
	done, err := s.FinishItem(ctx, "j", 0, pageshot.ItemResult{Status: pageshot.ItemSucceeded, ArtifactKey: "a.png"})
	if err == nil || done {
		t.Errorf("FinishItem with a failing charge: done %v, err %v; want an error", done, err)
	}
	if it, err := s.Item(ctx, "j", 0); err != nil || it.Status != pageshot.ItemRunning || it.ArtifactKey != "" {
		t.Errorf("the item after a failed charge: %+v %v; want it still running", it, err)
	}
	if got, _ := s.Job(ctx, "j"); got == nil || got.Status != pageshot.JobRunning {
		t.Errorf("the job after a failed charge: %+v", got)
	}
	if u, err := s.Usage(ctx, "k", period); err != nil || u != (pageshot.Usage{}) {
		t.Errorf("usage after a failed charge: %+v %v", u, err)
	}

	// The ledger is back: the rerun ends the item and charges it once.
	if _, err := s.db.ExecContext(ctx, `DROP TRIGGER usage_down_insert; DROP TRIGGER usage_down_update`); err != nil {
		t.Fatal(err)
	}
	if done, err := s.FinishItem(ctx, "j", 0, pageshot.ItemResult{Status: pageshot.ItemSucceeded, ArtifactKey: "a.png"}); !done || err != nil {
		t.Fatalf("rerun: done %v, err %v", done, err)
	}
	if u, _ := s.Usage(ctx, "k", period); u != (pageshot.Usage{Committed: 1}) {
		t.Errorf("usage after the rerun: %+v, want 1 committed", u)
	}
}
