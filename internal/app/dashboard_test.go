package app_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardQueriesExportedMetrics checks that every metric
// deploy/grafana/pageshot.json queries is one that GET /metrics exports,
// after the server has made a capture, and that the labels it groups and
// filters by are that metric's.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/pageshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) < 8 {
		t.Fatalf("dashboard uid %q with %d panels", dash.UID, len(dash.Panels))
	}

	s := sharedServer(t)
	tg := newTarget(t)
	wantImage(t, s.post(t, map[string]any{"url": tg.URL + "/?dashboard", "viewport_width": 300, "viewport_height": 200}), "image/png")
	exposition := string(s.get(t, "/metrics").body)

	// Families and the label names their samples carry.
	families := map[string]string{} // name → type
	labels := map[string]map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(exposition, -1) {
		families[m[1]] = m[2]
	}
	for _, m := range regexp.MustCompile(`(?m)^([a-z_:][a-z0-9_:]*)\{([^}]*)\}`).FindAllStringSubmatch(exposition, -1) {
		if labels[m[1]] == nil {
			labels[m[1]] = map[string]bool{}
		}
		for _, l := range regexp.MustCompile(`([a-z_]+)="`).FindAllStringSubmatch(m[2], -1) {
			labels[m[1]][l[1]] = true
		}
	}

	metricRE := regexp.MustCompile(`\b(pageshot_[a-z0-9_]+)(\{[^}]*\})?`)
	byRE := regexp.MustCompile(`by \(([^)]*)\)`)
	queried := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metricRE.FindAllStringSubmatch(tg.Expr, -1) {
				queried++
				sample, family := m[1], m[1]
				for _, suffix := range []string{"_bucket", "_count", "_sum"} {
					if base, ok := strings.CutSuffix(sample, suffix); ok && families[base] == "histogram" {
						family = base
					}
				}
				if _, ok := families[family]; !ok {
					t.Errorf("panel %q queries %s, which /metrics does not export", p.Title, sample)
					continue
				}
				var used []string
				for _, l := range regexp.MustCompile(`([a-z_]+)\s*(=~|!=|=)`).FindAllStringSubmatch(m[2], -1) {
					used = append(used, l[1])
				}
				if g := byRE.FindStringSubmatch(tg.Expr); g != nil {
					for _, l := range strings.Split(g[1], ",") {
						used = append(used, strings.TrimSpace(l))
					}
				}
				for _, l := range used {
					if !labels[sample][l] {
						t.Errorf("panel %q uses label %s of %s, which its samples do not have", p.Title, l, sample)
					}
				}
			}
		}
	}
	if queried < 10 {
		t.Errorf("only %d metrics queried", queried)
	}
}
