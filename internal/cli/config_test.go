package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

func TestPlans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pageshot.yaml")
	os.WriteFile(path, []byte(`
plans:
  default:
    monthly_quota: 0
  tiny:
    monthly_quota: 5
    rate_per_minute: 1000
    max_concurrency: 10
  slowpoke:
    max_timeout: 120s
  legacy:
    max_timeout: 90
egress:
  allow: ["127.0.0.1/32"]
`), 0o600)
	fc, err := loadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := fc.plans()
	if err != nil {
		t.Fatal(err)
	}
	def := pageshot.DefaultPlan()
	for name, want := range map[string]pageshot.Plan{
		"default":  {Name: "default", MonthlyQuota: 0, RatePerMinute: def.RatePerMinute, MaxConcurrency: def.MaxConcurrency, MaxTimeout: def.MaxTimeout},
		"tiny":     {Name: "tiny", MonthlyQuota: 5, RatePerMinute: 1000, MaxConcurrency: 10, MaxTimeout: def.MaxTimeout},
		"slowpoke": {Name: "slowpoke", MonthlyQuota: def.MonthlyQuota, RatePerMinute: def.RatePerMinute, MaxConcurrency: def.MaxConcurrency, MaxTimeout: 120 * time.Second},
		"legacy":   {Name: "legacy", MonthlyQuota: def.MonthlyQuota, RatePerMinute: def.RatePerMinute, MaxConcurrency: def.MaxConcurrency, MaxTimeout: 90 * time.Second},
	} {
		if plans[name] != want {
			t.Errorf("%s = %+v, want %+v", name, plans[name], want)
		}
	}

	none, _ := fileConfig{}.plans()
	if len(none) != 1 || none["default"] != def {
		t.Errorf("without a file: %+v", none)
	}

	for _, bad := range []string{"plans:\n  x:\n    max_timeout: soon\n", "plans:\n  x:\n    monthly_quota: -1\n", "plans:\n  x:\n    montly_quota: 5\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		fc, err := loadFile(path)
		if err == nil {
			_, err = fc.plans()
		}
		if err == nil || !strings.Contains(err.Error(), "x") && !strings.Contains(err.Error(), "montly") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
