package requestid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/pageshot/pageshot/internal/requestid"
)

func TestHandlerAddsTheID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(requestid.Handler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := requestid.With(context.Background(), "01REQ")
	log.InfoContext(ctx, "one")
	log.WarnContext(ctx, "two", "request_id", "01REQ")  // given: not doubled
	log.InfoContext(context.Background(), "no request") // outside a request: none
	log.WithGroup("g").InfoContext(ctx, "grouped", "k", 1)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	for i, want := range []int{1, 1, 0, 1} {
		if n := strings.Count(lines[i], `"request_id":"01REQ"`); n != want {
			t.Errorf("line %d has the id %d times, want %d: %s", i, n, want, lines[i])
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil || m["component"] != "test" {
			t.Errorf("line %d: %v %s", i, err, lines[i])
		}
	}
	if requestid.From(context.Background()) != "" || requestid.From(ctx) != "01REQ" {
		t.Error("From")
	}
	if h := requestid.Handler(slog.Default().Handler()); requestid.Handler(h) != h {
		t.Error("wrapping twice nests the handler")
	}
}
