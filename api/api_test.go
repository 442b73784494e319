package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pageshot/pageshot"
)

// document returns the description as generic JSON values.
func document(t *testing.T) map[string]any {
	t.Helper()
	b, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JSON() is not a JSON object: %v", err)
	}
	return doc
}

// at follows a path of object members.
func at(t *testing.T, v any, path ...string) any {
	t.Helper()
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object", strings.Join(path, "."))
		}
		if v, ok = m[p]; !ok {
			t.Fatalf("%s: no member %q", strings.Join(path, "."), p)
		}
	}
	return v
}

func strs(t *testing.T, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not a list", v)
	}
	var out []string
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			t.Fatalf("%v is not a string", e)
		}
		out = append(out, s)
	}
	return out
}

func TestDocument(t *testing.T) {
	doc := document(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	want := map[string][]string{
		"/v1/screenshot":                   {"get", "post"},
		"/v1/usage":                        {"get"},
		"/v1/devices":                      {"get"},
		"/v1/jobs":                         {"post"},
		"/v1/jobs/{id}":                    {"get", "delete"},
		"/v1/jobs/{id}/items/{n}/artifact": {"get"},
		"/v1/objects/{id}":                 {"get"},
		"/healthz":                         {"get"},
		"/readyz":                          {"get"},
		"/metrics":                         {"get"},
		"/openapi.json":                    {"get"},
		"/docs/errors":                     {"get"},
		"/docs/options":                    {"get"},
		"/docs/{page}":                     {"get"},
		"/docs":                            {"get"},
		"/docs/devices":                    {"get"},
		"/":                                {"get"},
	}
	paths := at(t, doc, "paths").(map[string]any)
	if got := slices.Sorted(maps.Keys(paths)); !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
		t.Errorf("paths = %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
	for path, methods := range want {
		item, _ := paths[path].(map[string]any)
		delete(item, "parameters") // shared by the path's operations
		if got := slices.Sorted(maps.Keys(item)); !slices.Equal(got, slices.Sorted(slices.Values(methods))) {
			t.Errorf("%s: methods %v, want %v", path, got, methods)
		}
	}
	// Security is per operation: the service routes need no key.
	if _, ok := doc["security"]; ok {
		t.Error("top-level security is set; /healthz and the others need no key")
	}
	if got := slices.Sorted(maps.Keys(at(t, doc, "components", "securitySchemes").(map[string]any))); len(got) != 3 {
		t.Errorf("securitySchemes = %v, want bearer, X-API-Key and access_key", got)
	}
}

func TestYAMLIsTheSource(t *testing.T) {
	if string(YAML()) != string(spec) {
		t.Fatal("YAML() differs from openapi.yaml")
	}
	y := YAML()
	y[0] = 'X'
	if YAML()[0] == 'X' {
		t.Error("YAML() shares its bytes with the caller")
	}
}

func TestProblemCodeEnumIsTheCatalogue(t *testing.T) {
	doc := document(t)
	enum := strs(t, at(t, doc, "components", "schemas", "Problem", "properties", "code", "enum"))
	var codes []string
	for _, c := range pageshot.Catalogue() {
		codes = append(codes, string(c.Code))
		if !slices.Contains(enum, string(c.Code)) {
			t.Errorf("code %s of the catalogue is not in the Problem code enum", c.Code)
		}
	}
	for _, c := range enum {
		if !slices.Contains(codes, c) {
			t.Errorf("code %s of the Problem code enum is not in the catalogue", c)
		}
	}
}

// Each problem response of components/responses pins a status and the codes
// it carries; the catalogue must give those codes that status.
func TestProblemResponsesMatchCatalogue(t *testing.T) {
	doc := document(t)
	covered := map[string]bool{}
	for name, r := range at(t, doc, "components", "responses").(map[string]any) {
		content, _ := r.(map[string]any)["content"].(map[string]any)
		media, ok := content["application/problem+json"]
		if !ok {
			continue
		}
		props := at(t, media, "schema", "properties")
		status := int(at(t, props, "status", "const").(float64))
		for _, code := range strs(t, at(t, props, "code", "enum")) {
			covered[code] = true
			if got := pageshot.Code(code).Info(); got.Code != pageshot.Code(code) || got.Status != status {
				t.Errorf("response %s: code %s has status %d in the catalogue, %d here", name, code, got.Status, status)
			}
		}
	}
	for _, c := range pageshot.Catalogue() {
		if !covered[string(c.Code)] {
			t.Errorf("no problem response in components/responses carries %s", c.Code)
		}
	}
}

// parsedOptions returns the option names ParseOptions reads, from the
// string literals options.go (and options_*.go) pass to the decoder, so
// that an option added there without being described here fails this test.
func parsedOptions(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../options*.go")
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
	}
	readers := []string{"str", "selector", "enum", "boolean", "number", "integer", "millis", "seconds", "strings", "scalar", "know"}
	names := map[string]bool{}
	lit := func(e ast.Expr) {
		if b, ok := e.(*ast.BasicLit); ok && b.Kind == token.STRING {
			s, _ := strconv.Unquote(b.Value)
			names[s] = true
		}
	}
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr: // d.str("url", …)
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && len(n.Args) > 0 && slices.Contains(readers, sel.Sel.Name) {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "d" {
						lit(n.Args[0])
					}
				}
			case *ast.IndexExpr: // d.known["clip"] (now d.know("clip"), a reader above)
				if sel, ok := n.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "known" {
					lit(n.Index)
				}
			}
			return true
		})
	}
	if len(names) < 30 {
		t.Fatalf("found only %d options in options.go: %v", len(names), slices.Sorted(maps.Keys(names)))
	}
	return slices.Sorted(maps.Keys(names))
}

func TestBodyOptionsAreParseOptions(t *testing.T) {
	doc := document(t)
	described := slices.Sorted(maps.Keys(at(t, doc, "components", "schemas", "ScreenshotOptions", "properties").(map[string]any)))
	if parsed := parsedOptions(t); !slices.Equal(described, parsed) {
		t.Errorf("ScreenshotOptions properties differ from the options of ParseOptions:\n described %v\n parsed    %v", described, parsed)
	}
	if v := at(t, doc, "components", "schemas", "ScreenshotOptions", "additionalProperties"); v != false {
		t.Errorf("ScreenshotOptions additionalProperties = %v, want false", v)
	}
	for _, name := range described {
		body := `{"url": "https://example.com/", "` + name + `": "x"}`
		if name == "url" { // a member given twice is refused
			body = `{"url": "x"}`
		}
		raw, err := pageshot.DecodeJSONOptions(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		checkKnown(t, name, raw)
	}
}

func TestQueryParametersAreParseOptions(t *testing.T) {
	doc := document(t)
	var params []string
	for _, p := range at(t, doc, "paths", "/v1/screenshot", "get", "parameters").([]any) {
		ref := at(t, p, "$ref").(string)
		param := at(t, doc, "components", "parameters", strings.TrimPrefix(ref, "#/components/parameters/"))
		if at(t, param, "in") == "query" {
			params = append(params, at(t, param, "name").(string))
		}
	}
	body := at(t, doc, "components", "schemas", "ScreenshotOptions", "properties").(map[string]any)
	for _, name := range params {
		switch {
		case name == "access_key" || name == "expires" || name == "signature":
			continue // authentication, removed before the options are parsed
		case strings.HasPrefix(name, "clip_"):
			if _, ok := body["clip"]; !ok {
				t.Errorf("query parameter %s but no clip option", name)
			}
		default:
			if _, ok := body[name]; !ok {
				t.Errorf("query parameter %s is not an option of the body", name)
			}
		}
		checkKnown(t, name, pageshot.QueryOptions(url.Values{"url": {"https://example.com/"}, name: {"x"}}))
	}
	for name := range body {
		if name != "clip" && !slices.Contains(params, name) {
			t.Errorf("option %s is not a query parameter", name)
		}
	}
}

// checkKnown fails when ParseOptions reports name as unknown or as not
// available yet.
func checkKnown(t *testing.T, name string, raw pageshot.RawOptions) {
	t.Helper()
	_, err := pageshot.ParseOptions(raw, pageshot.Limits{})
	if err == nil {
		return
	}
	for _, p := range pageshot.AsError(err).Fields {
		if p.Field == name && (p.Message == "Unknown option." || strings.Contains(p.Message, "not available")) {
			t.Errorf("option %s is described, but ParseOptions says: %s", name, p.Message)
		}
	}
}

func TestYAMLToJSON(t *testing.T) {
	tests := []struct {
		name, yaml, json, err string
	}{
		{"order and string keys", "b: 1\na: {200: x, true: y, 1.5: z}", `{"b":1,"a":{"200":"x","true":"y","1.5":"z"}}`, ""},
		{"scalars", "a: [1, -2.5, 1e6, true, null, ~, '3', 0x10, 2024-01-02]", `{"a":[1,-2.5,1000000,true,null,null,"3",16,"2024-01-02"]}`, ""},
		{"no html escaping", "a: '<b>&</b>'", `{"a":"<b>&</b>"}`, ""},
		{"alias", "x: &v {k: 1}\ny: *v", `{"x":{"k":1},"y":{"k":1}}`, ""},
		{"block text", "a: |\n  one\n  two\n", `{"a":"one\ntwo\n"}`, ""},
		{"duplicate key", "a: 1\na: 2", "", "duplicate key"},
		{"merge key", "x: &v {k: 1}\ny: {<<: *v}", "", "merge"},
		{"infinity", "a: .inf", "", "unsupported value"},
		{"not yaml", "a: [", "", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := yamlToJSON([]byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.json {
				t.Errorf("got  %s\nwant %s", got, tt.json)
			}
		})
	}
}

// TestDeviceNames: the device option's enum is the list of presets.
func TestDeviceNames(t *testing.T) {
	got := strs(t, at(t, document(t), "components", "schemas", "ScreenshotOptions", "properties", "device", "enum"))
	var want []string
	for _, d := range pageshot.Devices {
		want = append(want, d.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("device enum = %v, want %v", got, want)
	}
}
