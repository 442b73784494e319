package client_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"encoding/json"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/api"
	"github.com/pageshot/pageshot/client"
)

// mdTable returns the cells of the rows of the first table after heading
// in a markdown file, backticks removed.
func mdTable(t *testing.T, path, after string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, after)
	if i < 0 {
		t.Fatalf("%s has no %q", path, after)
	}
	var rows [][]string
	started := false
	for _, line := range strings.Split(s[i:], "\n") {
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		if strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| |") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.Trim(strings.TrimSpace(c), "`"))
		}
		rows = append(rows, cells)
	}
	return rows
}

// TestSignURLVectors signs docs/signing.md's test vectors with SignURL.
func TestSignURLVectors(t *testing.T) {
	rows := mdTable(t, "../docs/signing.md", "## Test vectors")[1:] // skip the header
	opts := []*client.Options{
		{URL: "https://example.com/", Format: client.PNG},
		{URL: "https://example.com/a b?x=1&y=ü", HideSelectors: []string{"#b", "#a"}, FullPage: true},
	}
	if len(rows) != len(opts) {
		t.Fatalf("docs/signing.md has %d vectors, the test knows %d", len(rows), len(opts))
	}
	for i, row := range rows {
		sent, err := url.ParseQuery(row[0])
		if err != nil {
			t.Fatal(err)
		}
		signed, err := client.SignURL("http://pageshot.test/", sent.Get("access_key"), "sig_test_secret", opts[i], time.Unix(1767225600, 0))
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(signed)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if got := q.Get("signature"); got != row[2] {
			t.Errorf("vector %d: signature %s, want %s", i, got, row[2])
		}
		if got := pageshot.CanonicalQuery(q); got != row[1] {
			t.Errorf("vector %d: canonical query\n %s, want\n %s", i, got, row[1])
		}
		if u.Host != "pageshot.test" || u.Path != "/v1/screenshot" {
			t.Errorf("vector %d: %s", i, signed)
		}
	}
	// A whole key given by mistake: only its public id travels.
	signed, _ := client.SignURL("http://pageshot.test", "key_abc.SECRET", "s", &client.Options{URL: "https://example.com/"}, time.Now())
	if strings.Contains(signed, "SECRET") || !strings.Contains(signed, "access_key=key_abc&") {
		t.Errorf("signed URL %s", signed)
	}
	if _, err := client.SignURL("http://pageshot.test", "k", "s", &client.Options{URL: "https://example.com/", Async: true}, time.Now()); err == nil {
		t.Error("async was put in a GET URL")
	}
}

// TestVerifyWebhookVector checks docs/webhooks.md's vector, and refusals.
func TestVerifyWebhookVector(t *testing.T) {
	v := map[string]string{}
	for _, row := range mdTable(t, "../docs/webhooks.md", "Test vector") {
		v[row[0]] = row[1]
	}
	h := http.Header{}
	h.Set("webhook-id", v["webhook-id"])
	h.Set("webhook-timestamp", v["webhook-timestamp"])
	h.Set("webhook-signature", "v1,bm90IGl0 "+v["webhook-signature"]) // several signatures, one valid
	ts, _ := strconv.ParseInt(v["webhook-timestamp"], 10, 64)
	at := time.Unix(ts, 0).Add(time.Minute)
	body := []byte(v["body"])
	if err := client.VerifyWebhook(v["secret"], h, body, at); err != nil {
		t.Fatalf("the vector does not verify: %v (%v)", err, v)
	}
	for name, c := range map[string]struct {
		body []byte
		at   time.Time
		h    func(http.Header)
	}{
		"altered body":   {append(body, ' '), at, nil},
		"too late":       {body, at.Add(10 * time.Minute), nil},
		"too early":      {body, at.Add(-10 * time.Minute), nil},
		"no signature":   {body, at, func(h http.Header) { h.Del("webhook-signature") }},
		"other id":       {body, at, func(h http.Header) { h.Set("webhook-id", "msg_other") }},
		"bad timestamp":  {body, at, func(h http.Header) { h.Set("webhook-timestamp", "soon") }},
		"v1 prefix only": {body, at, func(h http.Header) { h.Set("webhook-signature", "v1,") }},
	} {
		h2 := h.Clone()
		if c.h != nil {
			c.h(h2)
		}
		if err := client.VerifyWebhook(v["secret"], h2, c.body, c.at); !errors.Is(err, client.ErrWebhookSignature) {
			t.Errorf("%s: err = %v, want ErrWebhookSignature", name, err)
		}
	}
}

// TestCodesAreTheCatalogue checks that client has a constant for every
// code of the server's catalogue, named as the server names it, and none
// other.
func TestCodesAreTheCatalogue(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	root, err := parser.ParseFile(token.NewFileSet(), "../errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{} // root constant name → code
	ast.Inspect(root, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Values) == 1 {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				values[vs.Names[0].Name], _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || !strings.HasPrefix(vs.Names[0].Name, "Code") {
			return true
		}
		sel, ok := vs.Values[0].(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != vs.Names[0].Name {
			t.Errorf("client.%s is not pageshot.%s", vs.Names[0].Name, vs.Names[0].Name)
			return true
		}
		codes = append(codes, values[sel.Sel.Name])
		return true
	})
	var catalogue []string
	for _, c := range pageshot.Catalogue() {
		catalogue = append(catalogue, string(c.Code))
	}
	slices.Sort(codes)
	slices.Sort(catalogue)
	if !slices.Equal(codes, catalogue) {
		t.Errorf("client codes differ from the catalogue:\n client    %v\n catalogue %v", codes, catalogue)
	}
}

// TestOptionsAreTheAPIs compares client.Options with the ScreenshotOptions
// of api/openapi.yaml: the same names, each of a JSON type the
// description allows.
func TestOptionsAreTheAPIs(t *testing.T) {
	b, err := api.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	// types returns the JSON types a schema allows, following $ref and
	// anyOf.
	var types func(s map[string]any) []string
	types = func(s map[string]any) []string {
		if ref, ok := s["$ref"].(string); ok {
			return types(doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")])
		}
		var out []string
		switch v := s["type"].(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, e := range v {
				out = append(out, e.(string))
			}
		}
		alts, _ := s["anyOf"].([]any)
		for _, a := range alts {
			out = append(out, types(a.(map[string]any))...)
		}
		return out
	}
	props, _ := doc.Components.Schemas["ScreenshotOptions"]["properties"].(map[string]any)
	if len(props) < 30 {
		t.Fatalf("ScreenshotOptions has %d properties", len(props))
	}
	rt := reflect.TypeFor[client.Options]()
	var names []string
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		names = append(names, name)
		p, ok := props[name].(map[string]any)
		if !ok {
			continue
		}
		if allowed, want := types(p), jsonType(f.Type); !slices.Contains(allowed, want) {
			t.Errorf("%s: Go field %s is a JSON %s; the description allows %v", name, f.Name, want, allowed)
		}
	}
	slices.Sort(names)
	if described := slices.Sorted(maps.Keys(props)); !slices.Equal(names, described) {
		t.Errorf("client.Options differ from ScreenshotOptions:\n client    %v\n described %v", names, described)
	}
}

func jsonType(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		return "array"
	default:
		return "object"
	}
}

// TestQueryParsesAsTheBody: the GET form of options that SignURL signs
// means what the JSON body means to the server.
func TestQueryParsesAsTheBody(t *testing.T) {
	o := &client.Options{
		URL: "https://example.com/a b?x=1", Format: client.JPEG, Quality: 70, ViewportWidth: 640, DeviceScaleFactor: 1.5,
		ErrorOnSelectorNotFound: client.Bool(false), Selector: "#main > p", HideSelectors: []string{"#a", ".b"},
		Headers: map[string]string{"X-One": "1", "X-Two": "a: b"}, Cookies: []client.Cookie{{Name: "s", Value: "v=1"}},
		Timeout: 20, Delay: 300, WaitUntil: client.WaitNetworkIdle, BlockResources: []string{"font"}, Cache: true, CacheTTL: 90,
	}
	q, err := client.Query(o)
	if err != nil {
		t.Fatal(err)
	}
	fromQuery, err := pageshot.ParseOptions(pageshot.QueryOptions(q), pageshot.Limits{})
	if err != nil {
		t.Fatalf("%v: %v", q, err)
	}
	b, _ := json.Marshal(o)
	raw, err := pageshot.DecodeJSONOptions(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	fromBody, err := pageshot.ParseOptions(raw, pageshot.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if pageshot.CacheKey("k", fromQuery) != pageshot.CacheKey("k", fromBody) {
		t.Errorf("query %v parses to\n %+v\nthe body to\n %+v", q, fromQuery, fromBody)
	}
	back, err := client.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, o) {
		t.Errorf("ParseQuery(Query(o)) =\n %+v, want\n %+v", back, o)
	}
	if _, err := client.ParseQuery(url.Values{"url": {"https://example.com/"}, "colour": {"red"}, "delay": {"soon"}}); err == nil ||
		!strings.Contains(err.Error(), "colour: unknown option") || !strings.Contains(err.Error(), `delay: "soon"`) {
		t.Errorf("ParseQuery of bad parameters: %v", err)
	}
	clip := &client.Options{URL: "https://example.com/", Clip: &client.Clip{X: 1, Y: 2.5, Width: 30, Height: 40}}
	if q, _ := client.Query(clip); q.Get("clip_y") != "2.5" || q.Get("clip_width") != "30" || q.Has("clip") {
		t.Errorf("clip as %v", q)
	}
	if _, err := client.Query(&client.Options{URL: "https://example.com/", Cookies: []client.Cookie{{Name: "a", Value: "b", Domain: "x.com"}}}); err == nil {
		t.Error("a cookie with a domain was put in a query")
	}
}

// deadAddress returns an address where nothing listens.
func deadAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestConnectionErrorsRetry: failed connections are retried with backoff
// up to MaxAttempts, except a job submission, which may have been created.
func TestConnectionErrorsRetry(t *testing.T) {
	var waits []time.Duration
	c := client.New(deadAddress(t), "key", client.WithRetry(client.RetryPolicy{
		MaxAttempts: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond,
		OnRetry: func(_ int, err error, wait time.Duration) { waits = append(waits, wait) },
	}))
	_, err := c.Usage(context.Background())
	var e *client.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("err = %v, want a connection error", err)
	}
	if len(waits) != 3 {
		t.Fatalf("%d retries, want 3", len(waits))
	}
	for i, w := range waits {
		if w <= 0 || w > time.Millisecond<<i {
			t.Errorf("wait %d = %v, want (0, %v]", i, w, time.Millisecond<<i)
		}
	}
	waits = nil
	if _, err := c.Submit(context.Background(), &client.JobRequest{Items: []client.Options{{URL: "https://example.com/"}}}); err == nil || len(waits) != 0 {
		t.Errorf("submit: err %v after %d retries, want 0", err, len(waits))
	}
	// WithoutRetry sends once.
	waits = nil
	once := client.New(deadAddress(t), "key", client.WithoutRetry())
	if _, err := once.Usage(context.Background()); err == nil {
		t.Error("no error from a dead address")
	}
}

// TestRetryStopsWithTheContext: a wait for a retry ends with the caller's
// context.
func TestRetryStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := client.New(deadAddress(t), "key", client.WithRetry(client.RetryPolicy{
		MaxAttempts: 10, BaseDelay: time.Hour, MaxDelay: time.Hour,
		OnRetry: func(int, error, time.Duration) { cancel() },
	}))
	_, err := c.Usage(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// TestErrorsFromTheServer reads real problem documents: not_found with
// its members, and missing_api_key.
func TestErrorsFromTheServer(t *testing.T) {
	ctx := context.Background()
	c := client.New(serverURL, apiKey)
	_, err := c.Get(ctx, "job_doesnotexist")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != client.CodeNotFound || e.Status != 404 || e.Retryable || e.RequestID == "" || e.Detail == "" {
		t.Fatalf("err = %#v", err)
	}
	if !regexp.MustCompile(`^pageshot: not_found \(404\): .+ \[request \w+\]$`).MatchString(e.Error()) {
		t.Errorf("Error() = %q", e.Error())
	}
	if _, err := client.New(serverURL, "").Usage(ctx); !isCode(err, client.CodeMissingAPIKey) {
		t.Errorf("no key: %v", err)
	}
	u, err := c.Usage(ctx)
	if err != nil || u.Plan.Name != "default" || u.KeyID == "" {
		t.Errorf("usage: %+v %v", u, err)
	}
}

// TestGatewayErrorsRetry puts a proxy in front of the real server that
// answers its first request with a gateway's plain-text 503: the client
// reads it as a retryable service_unavailable, retries, and gets the
// server's answer.
func TestGatewayErrorsRetry(t *testing.T) {
	upstream, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var mu sync.Mutex
	calls := 0
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "upstream connect error", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer gw.Close()

	var seen []error
	c := client.New(gw.URL, apiKey, client.WithRetry(client.RetryPolicy{
		MaxAttempts: 2, BaseDelay: time.Millisecond,
		OnRetry: func(_ int, err error, _ time.Duration) { seen = append(seen, err) },
	}))
	u, err := c.Usage(context.Background())
	if err != nil || u.KeyID == "" {
		t.Fatalf("usage through the gateway: %+v %v", u, err)
	}
	var e *client.Error
	if len(seen) != 1 || !errors.As(seen[0], &e) || e.Code != client.CodeServiceUnavailable || e.Status != 503 || !e.Retryable {
		t.Errorf("retried after %v", seen)
	}
}
