package redistest_test

import (
	"strings"
	"testing"

	"github.com/pageshot/pageshot/internal/redistest"
)

// TestPrefix: each test gets a prefix of its own, and its keys (also
// redis_rate's, under "rate:") are gone when it ends.
func TestPrefix(t *testing.T) {
	url := redistest.URL(t)
	rdb := redistest.Client(t, url)
	var prefix string
	t.Run("writer", func(t *testing.T) {
		prefix = redistest.Prefix(t, url)
		if other := redistest.Prefix(t, url); other == prefix || !strings.HasPrefix(prefix, "test:") {
			t.Fatalf("prefixes %q and %q", prefix, other)
		}
		for _, k := range []string{prefix + "a", prefix + "conc:b", "rate:" + prefix + "c/10"} {
			if err := rdb.Set(t.Context(), k, "1", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	for _, pattern := range []string{prefix + "*", "rate:" + prefix + "*"} {
		keys, err := rdb.Keys(t.Context(), pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Errorf("keys left after the test: %v", keys)
		}
	}
}

// TestServer: a server of the test's own answers, stops and starts again
// on the same port.
func TestServer(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := redistest.Client(t, srv.URL())
	if err := rdb.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := rdb.Ping(t.Context()).Err(); err == nil {
		t.Fatal("PING answered after Stop")
	}
	srv.Start()
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING after Start: %v", err)
	}
	if n, err := rdb.Exists(t.Context(), "k").Result(); err != nil || n != 0 {
		t.Errorf("a restarted server kept its keys: %d, %v", n, err)
	}
}
