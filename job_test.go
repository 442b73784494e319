package pageshot_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pageshot/pageshot"
)

// TestCrawlJSON: include and exclude take one regexp or a list; max_pages
// and max_depth left out take the documented defaults, and an explicit 0
// stays 0.
func TestCrawlJSON(t *testing.T) {
	for _, c := range []struct {
		body string
		want pageshot.Crawl
	}{
		{`{"url":"https://a.example/","include":"/docs/","exclude":["\\.pdf$","/old/"]}`,
			pageshot.Crawl{URL: "https://a.example/", Include: pageshot.Patterns{"/docs/"}, Exclude: pageshot.Patterns{`\.pdf$`, "/old/"},
				MaxPages: pageshot.DefaultCrawlPages, MaxDepth: pageshot.DefaultCrawlDepth}},
		{`{"url":"https://a.example/","max_depth":0,"max_pages":3}`,
			pageshot.Crawl{URL: "https://a.example/", MaxPages: 3, MaxDepth: 0}},
	} {
		var got pageshot.Crawl
		if err := json.Unmarshal([]byte(c.body), &got); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.body, got, c.want)
		}
	}
	var bad pageshot.Crawl
	if err := json.Unmarshal([]byte(`{"url":"https://a.example/","include":7}`), &bad); err == nil {
		t.Error("a number was taken for a regexp")
	}
	// The stored form reads back as it was.
	b, _ := json.Marshal(pageshot.Crawl{URL: "u", Include: pageshot.Patterns{"x"}, MaxPages: 1, MaxDepth: 0})
	var back pageshot.Crawl
	if err := json.Unmarshal(b, &back); err != nil || back.MaxDepth != 0 || back.MaxPages != 1 || len(back.Include) != 1 {
		t.Errorf("round trip %s: %+v %v", b, back, err)
	}
}
