package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
	"github.com/pageshot/pageshot/internal/cli"
)

// The real server the tests and examples use, started by TestMain: a
// pageshot node on 127.0.0.1:0 with its own Chromium, and a site it may
// capture.
var (
	serverURL string
	apiKey    string // the first key, on the default plan (limits lifted)
	// signingSecret and webhookSecret are the first key's.
	signingSecret, webhookSecret string
	targetURL                    string
	dataDir, configFile          string
)

const pageHTML = `<!doctype html><html><head><title>Test page</title>
<style>html,body{margin:0;background:#cc0000} #box{position:absolute;left:100px;top:50px;width:200px;height:100px;background:#0000ff}</style>
</head><body><div id="box"></div></body></html>`

func target() *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, pageHTML) })
	mux.HandleFunc("/embed", func(w http.ResponseWriter, r *http.Request) {
		// An <img> of the given src on a green page.
		fmt.Fprintf(w, `<!doctype html><html><body style="margin:0;background:#00ff00"><img src="%s" style="display:block;width:200px;height:100px"></body></html>`,
			html.EscapeString(r.URL.Query().Get("src")))
	})
	return httptest.NewServer(mux)
}

// testConfig has the plan of the rate-limit test; the default plan's
// limits are lifted in app.Config so that the other tests never meet them.
const testConfig = `plans:
  metered:
    rate_per_minute: 60
    max_concurrency: 8
`

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "pageshot-client-test-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	dataDir, configFile = filepath.Join(tmp, "data"), filepath.Join(tmp, "pageshot.yaml")
	if err := os.WriteFile(configFile, []byte(testConfig), 0o644); err != nil {
		panic(err)
	}
	tg := target()
	defer tg.Close()
	targetURL = tg.URL

	var announced bytes.Buffer
	a, err := app.New(app.Config{
		Addr:        "127.0.0.1:0",
		DataDir:     dataDir,
		EgressAllow: []string{"127.0.0.1/32"},
		Concurrency: 2,
		Plans: map[string]pageshot.Plan{
			pageshot.DefaultPlanName: {RatePerMinute: 1 << 20, MaxConcurrency: 1 << 10, MaxTimeout: time.Minute},
			"metered":                {RatePerMinute: 60, MaxConcurrency: 8, MaxTimeout: time.Minute},
		},
		IPRatePerMinute: 1 << 20,
		Announce:        &announced,
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		panic(err)
	}
	defer a.Stop()
	serverURL = "http://" + a.Addr()
	for name, dst := range map[string]*string{"API key": &apiKey, "signing secret": &signingSecret, "webhook secret": &webhookSecret} {
		m := regexp.MustCompile(name + `:\s+(\S+)`).FindStringSubmatch(announced.String())
		if m == nil {
			panic("no " + name + " in " + announced.String())
		}
		*dst = m[1]
	}
	return m.Run()
}

// createdKey is what pageshot keys create --json prints.
type createdKey struct {
	ID            string `json:"id"`
	Key           string `json:"key"`
	SigningSecret string `json:"signing_secret"`
	WebhookSecret string `json:"webhook_secret"`
}

// newKey creates a key on plan beside the running server, as a user does
// with pageshot keys create.
func newKey(t *testing.T, plan string) createdKey {
	t.Helper()
	var out, errOut bytes.Buffer
	args := []string{"pageshot", "keys", "create", "--name", t.Name(), "--plan", plan, "--data-dir", dataDir, "--config", configFile, "--json"}
	if code := cli.Run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("keys create: exit %d: %s", code, errOut.String())
	}
	var k createdKey
	if err := json.Unmarshal(out.Bytes(), &k); err != nil {
		t.Fatalf("keys create printed %q: %v", out.String(), err)
	}
	return k
}
