package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/sqlite"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), append([]string{"pageshot"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestKeysCreateRefuses: keys create refuses an empty name, control
// characters and a past expiry, and stores nothing then.
func TestKeysCreateRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for _, c := range []struct{ name, want string }{
		{"", "must not be empty"},
		{"  ", "must not be empty"},
		{"evil\x1b[2J", "control characters"},
		{"two\nlines", "control characters"},
		{strings.Repeat("n", maxKeyName+1), "more than"},
	} {
		code, _, stderr := runCLI(t, "keys", "create", "--name", c.name, "--data-dir", dir)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("--name %q: exit %d, %q", c.name, code, stderr)
		}
	}
	code, _, stderr := runCLI(t, "keys", "create", "--name", "late", "--expires", "2020-01-01T00:00:00Z", "--data-dir", dir)
	if code == 0 || !strings.Contains(stderr, "has passed") {
		t.Errorf("past expiry: exit %d, %q", code, stderr)
	}
	if code, out, _ := runCLI(t, "keys", "list", "--json", "--data-dir", dir); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("keys were stored: %d %s", code, out)
	}
	if code, _, stderr := runCLI(t, "keys", "create", "--name", "fine", "--expires", time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "--data-dir", dir); code != 0 {
		t.Errorf("a good key was refused: %s", stderr)
	}
}

// TestKeysListEscapes: a name with control characters, stored before keys
// create refused them, is printed escaped, never raw to the terminal.
func TestKeysListEscapes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(dir, 0o700)
	st, err := sqlite.Open(context.Background(), app.DatabasePath(dir))
	if err != nil {
		t.Fatal(err)
	}
	k, _, _ := pageshot.NewKey("evil\x1b]0;pwned\x07\r\nname", pageshot.DefaultPlanName, pageshot.AllScopes(), time.Now())
	if err := st.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	st.Close()
	for _, args := range [][]string{{"keys", "list"}, {"usage"}} {
		code, out, stderr := runCLI(t, append(args, "--data-dir", dir)...)
		if code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
		if strings.ContainsAny(out, "\x1b\x07\r") || !strings.Contains(out, `evil\x1b]0;pwned\a\r\nname`) {
			t.Errorf("%v printed %q", args, out)
		}
	}
}

// TestUsageStore: usage (and keys list) from a directory without a store
// says so instead of creating an empty one; a key whose plan is not in
// the config given is reported with unknown limits, not the default's.
func TestUsageStore(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nothing-here")
	for _, args := range [][]string{{"usage"}, {"keys", "list"}, {"keys", "revoke", "key_x"}} {
		code, _, stderr := runCLI(t, append(args, "--data-dir", missing)...)
		if code == 0 || !strings.Contains(stderr, "no store at") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("usage created %s", missing)
	}

	dir := filepath.Join(t.TempDir(), "data")
	config := filepath.Join(t.TempDir(), "pageshot.yaml")
	os.WriteFile(config, []byte("plans:\n  tiny:\n    monthly_quota: 5\n"), 0o600)
	if code, _, stderr := runCLI(t, "keys", "create", "--name", "t", "--plan", "tiny", "--config", config, "--data-dir", dir); code != 0 {
		t.Fatal(stderr)
	}
	var rows []usageRow
	_, out, _ := runCLI(t, "usage", "--json", "--data-dir", dir)
	if json.Unmarshal([]byte(out), &rows); len(rows) != 1 || !rows[0].PlanUnknown || rows[0].Remaining != nil {
		t.Errorf("without --config: %s", out)
	}
	if _, out, _ := runCLI(t, "usage", "--data-dir", dir); !strings.Contains(out, "unknown (plan not in --config)") {
		t.Errorf("without --config: %s", out)
	}
	_, out, _ = runCLI(t, "usage", "--json", "--config", config, "--data-dir", dir)
	rows = nil
	if json.Unmarshal([]byte(out), &rows); len(rows) != 1 || rows[0].PlanUnknown || rows[0].Limit != 5 || rows[0].Remaining == nil || *rows[0].Remaining != 5 {
		t.Errorf("with --config: %s", out)
	}
}
