package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/capture"
	"github.com/pageshot/pageshot/internal/requestid"
	"github.com/pageshot/pageshot/internal/waittest"
)

// logging is a Renderer that logs with the request's context, as the
// parts a request passes through do, then fails.
type logging struct{ log *slog.Logger }

func (l logging) Render(ctx context.Context, _ *pageshot.Options) (*pageshot.Capture, error) {
	l.log.InfoContext(ctx, "rendering")
	return nil, pageshot.Errorf(pageshot.CodeSelectorNotFound, "No element matches.")
}

// TestLogLinesNameTheRequest: every line logged while serving a request
// carries its id, once, the id of X-Request-Id.
func TestLogLinesNameTheRequest(t *testing.T) {
	var buf waittest.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	// The server wraps the logger it is given; the app wraps the root
	// logger every part derives its own from, as here the renderer's.
	parts := slog.New(requestid.Handler(log.Handler()))
	srv := httptest.NewServer(New(Config{Capturer: capture.New(capture.Config{Renderer: logging{parts}, Logger: log}), Logger: log}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/v1/screenshot?url=https://example.com/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	id := res.Header.Get("X-Request-Id")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if id == "" || len(lines) != 2 {
		t.Fatalf("id %q, log:\n%s", id, buf.String())
	}
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["request_id"] != id || strings.Count(line, `"request_id"`) != 1 {
			t.Errorf("line %s does not name request %s once", line, id)
		}
	}
}
