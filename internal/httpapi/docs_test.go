package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/capture"
)

func getPage(t *testing.T, base, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var idRE = regexp.MustCompile(`\bid="([^"]+)"`)

func anchors(html string) []string {
	var ids []string
	for _, m := range idRE.FindAllStringSubmatch(html, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestProblemTypesResolve makes the server answer every code of the
// catalogue and follows each problem's type link to its anchor.
func TestProblemTypesResolve(t *testing.T) {
	for _, c := range pageshot.Catalogue() {
		srv := httptest.NewServer(New(Config{Capturer: capture.New(capture.Config{Renderer: failing{&pageshot.Error{Code: c.Code, Message: "provoked"}}})}))
		res, body := getPage(t, srv.URL, "/v1/screenshot?url=https://example.com/")
		srv.Close()
		var p struct {
			Type string `json:"type"`
			Code string `json:"code"`
		}
		if err := json.Unmarshal([]byte(body), &p); err != nil || p.Code != string(c.Code) || res.StatusCode != c.Status {
			t.Fatalf("%s: %d %s", c.Code, res.StatusCode, body)
		}
		path, anchor, ok := strings.Cut(p.Type, "#")
		if !ok {
			t.Fatalf("%s: type %q has no anchor", c.Code, p.Type)
		}
		docs := httptest.NewServer(New(Config{}))
		res, page := getPage(t, docs.URL, path)
		docs.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %s answered %d %s", c.Code, path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if !slices.Contains(anchors(page), anchor) {
			t.Errorf("%s: %s has no anchor %q", c.Code, path, anchor)
		}
	}
}

func TestReferencePages(t *testing.T) {
	srv := httptest.NewServer(New(Config{}))
	defer srv.Close()

	// /docs/options: one anchored row per option, with its table's values.
	res, page := getPage(t, srv.URL, "/docs/options")
	if res.StatusCode != 200 {
		t.Fatalf("/docs/options: %d", res.StatusCode)
	}
	ids := anchors(page)
	for _, d := range pageshot.OptionDocs() {
		if !slices.Contains(ids, d.Name) {
			t.Errorf("/docs/options has no row %s", d.Name)
		}
	}
	for _, want := range []string{"<code>wait_until</code>", "networkidle", "<code>1280</code>", "&#34;Europe/Paris&#34;"} {
		if !strings.Contains(page, want) {
			t.Errorf("/docs/options lacks %q", want)
		}
	}
	_, js := getPage(t, srv.URL, "/docs/options", "Accept", "application/json")
	var ref struct{ Options []pageshot.OptionDoc }
	if err := json.Unmarshal([]byte(js), &ref); err != nil || !slices.Equal(ref.Options, pageshot.OptionDocs()) {
		t.Errorf("/docs/options as JSON: %v %s", err, js[:min(len(js), 200)])
	}

	// The Markdown pages, rendered, their links between pages rewritten.
	for path, want := range map[string][]string{
		"/docs/signing":  {"<h1", "Signed URLs", "1380042aac9b27c53fc125d8f017ba508adfa1a6dde7211ff56743af891344d4", "<table>"},
		"/docs/webhooks": {"Webhooks", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", `id="verifying-the-signature"`},
		"/docs/security": {`href="/docs/webhooks"`},
		"/docs/scaling":  {"Scaling out", `href="/docs/security"`, "<table>", "--jobs=false"},
	} {
		res, page := getPage(t, srv.URL, path)
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
	if res, body := getPage(t, srv.URL, "/docs/nothing"); res.StatusCode != 404 || !strings.Contains(body, `"not_found"`) {
		t.Errorf("/docs/nothing: %d %s", res.StatusCode, body)
	}

	// Every link of the navigation and of the index resolves.
	_, index := getPage(t, srv.URL, "/docs")
	links := regexp.MustCompile(`href="(/[^"#]*)"`).FindAllStringSubmatch(index, -1)
	if len(links) < 6 {
		t.Fatalf("/docs links to %d pages", len(links))
	}
	for _, l := range links {
		if res, _ := getPage(t, srv.URL, l[1]); res.StatusCode != 200 {
			t.Errorf("%s: %d", l[1], res.StatusCode)
		}
	}
}
