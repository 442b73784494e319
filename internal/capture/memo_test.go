package capture

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/pageshot/pageshot"
)

// TestMemo: a query is parsed once per caller and limits; options from
// JSON and long queries are not remembered; the memo stays within its
// bounds.
func TestMemo(t *testing.T) {
	s := New(Config{})
	c := &pageshot.Caller{Key: &pageshot.APIKey{ID: "k"}}
	query := func(q string) pageshot.RawOptions {
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		return pageshot.QueryOptions(v)
	}
	a := s.parse(c, query("url=https://example.com/&cache=true"))
	if a.err != nil || a.cacheKey == "" {
		t.Fatalf("first parse: %+v", a)
	}
	if b := s.parse(c, query("cache=true&url=https://example.com/")); b != a {
		t.Error("the same query, its parameters in another order, parsed again")
	}
	if b := s.parse(&pageshot.Caller{Key: &pageshot.APIKey{ID: "other"}}, query("url=https://example.com/&cache=true")); b == a || b.cacheKey == a.cacheKey {
		t.Error("another key's query shares the first key's parse or cache key")
	}
	bad := s.parse(c, query("html=x&viewport_width=-5"))
	if pageshot.ErrorCode(bad.err) != pageshot.CodeInvalidRequest || s.parse(c, query("html=x&viewport_width=-5")) != bad {
		t.Errorf("a refused query: %v, not remembered", bad.err)
	}

	n := len(s.memo.m)
	raw, err := pageshot.DecodeJSONOptions(strings.NewReader(`{"url":"https://example.com/"}`))
	if err != nil {
		t.Fatal(err)
	}
	s.parse(c, raw)
	s.parse(c, query("html="+strings.Repeat("x", memoMaxQuery)))
	if len(s.memo.m) != n {
		t.Errorf("%d entries after JSON options and a long query, want %d", len(s.memo.m), n)
	}

	for i := range memoEntries + 100 {
		s.parse(c, query(fmt.Sprintf("html=%d", i)))
	}
	if len(s.memo.m) > memoEntries || s.memo.size > memoBytes {
		t.Errorf("%d entries of %d bytes, bounds %d and %d", len(s.memo.m), s.memo.size, memoEntries, memoBytes)
	}
	for i := range 3000 {
		s.parse(c, query(fmt.Sprintf("html=%d%s", i, strings.Repeat("y", memoMaxQuery-100))))
	}
	if len(s.memo.m) > memoEntries || s.memo.size > memoBytes {
		t.Errorf("long queries: %d entries of %d bytes, bounds %d and %d", len(s.memo.m), s.memo.size, memoEntries, memoBytes)
	}
	size := 0
	for k := range s.memo.m {
		size += memoCost(k)
	}
	if size != s.memo.size {
		t.Errorf("size counted %d, entries cost %d", s.memo.size, size)
	}
}
