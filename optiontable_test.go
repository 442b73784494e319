package pageshot_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pageshot/pageshot"
)

// requestNames returns the JSON names of OptionFields's fields in order.
func requestNames() []string {
	var names []string
	t := reflect.TypeFor[pageshot.OptionFields]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

func TestOptionDocsFollowOptionFields(t *testing.T) {
	var documented []string
	for _, d := range pageshot.OptionDocs() {
		documented = append(documented, d.Name)
		if d.Type == "" || d.Meaning == "" || d.Example == "" {
			t.Errorf("%s: type, meaning and example are required: %+v", d.Name, d)
		}
		if !json.Valid([]byte(d.Example)) {
			t.Errorf("%s: example %s is not JSON", d.Name, d.Example)
		}
	}
	if names := requestNames(); !slices.Equal(documented, names) {
		t.Errorf("OptionDocs names differ from OptionFields's fields:\n docs    %v\n request %v", documented, names)
	}
}

// Each option's example, sent alone (with the url or html it needs), is
// accepted by ParseOptions, or refused only for a combination rule of
// another option: the names are the server's and the examples are honest.
func TestOptionExamplesParse(t *testing.T) {
	needs := map[string]string{
		"quality": `"format":"jpeg"`, "pdf_paper": `"format":"pdf"`, "pdf_landscape": `"format":"pdf"`,
		"pdf_print_background": `"format":"pdf"`, "pdf_margin": `"format":"pdf"`, "cache_ttl": `"cache":true`,
		"webhook_url": `"async":true`, "navigation_timeout": `"timeout":30`,
		"metadata": `"response_type":"json"`, "colors_count": `"metadata":["colors"],"response_type":"json"`,
	}
	for _, d := range pageshot.OptionDocs() {
		body := `{"url":"https://example.com/","` + d.Name + `":` + d.Example
		if d.Name == "url" {
			body = `{"url":` + d.Example
		}
		if d.Name == "html" {
			body = `{"html":` + d.Example
		}
		if extra, ok := needs[d.Name]; ok {
			body += "," + extra
		}
		raw, err := pageshot.DecodeJSONOptions(strings.NewReader(body + "}"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pageshot.ParseOptions(raw, pageshot.Limits{}); err != nil {
			t.Errorf("%s: example %s refused: %v", d.Name, d.Example, err)
		}
	}
}

// A OptionFields marshals to a body ParseOptions accepts, with the
// values it holds.
func TestOptionFieldsParse(t *testing.T) {
	f := false
	r := pageshot.OptionFields{
		URL: "https://example.com/", Format: pageshot.FormatJPEG, Quality: 55, ViewportWidth: 640, Delay: 250, Timeout: 12,
		HideSelectors: []string{"#a"}, Headers: map[string]string{"X-A": "1"}, ErrorOnSelectorNotFound: &f,
		Clip: &pageshot.Clip{X: 1, Y: 2, Width: 30, Height: 40}, Cache: true, CacheTTL: 60,
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pageshot.DecodeJSONOptions(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	o, err := pageshot.ParseOptions(raw, pageshot.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if o.Quality != 55 || o.ViewportWidth != 640 || o.Delay.Milliseconds() != 250 || o.Timeout.Seconds() != 12 ||
		o.ErrorOnSelectorNotFound || o.Clip == nil || o.Clip.Height != 40 || o.Headers["X-A"] != "1" || o.CacheTTL.Seconds() != 60 {
		t.Errorf("parsed %+v from %s", o, b)
	}
}

func TestWebhookSignatureVector(t *testing.T) {
	// docs/webhooks.md's vector, the Standard Webhooks specification's own.
	got, err := pageshot.WebhookSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
	if _, err := pageshot.WebhookSignature("whsec_not base64!", "id", "1", nil); err == nil {
		t.Error("a malformed secret was accepted")
	}
}
