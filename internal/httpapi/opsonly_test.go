package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pageshot/pageshot/internal/capture"
)

// TestOpsOnly: a worker's admin address serves health, readiness and
// metrics, and no part of the public API.
func TestOpsOnly(t *testing.T) {
	s := New(Config{Capturer: capture.New(capture.Config{Renderer: failing{nil}}), OpsOnly: true})
	for path, want := range map[string]int{
		"/healthz": http.StatusOK, "/readyz": http.StatusOK, "/metrics": http.StatusOK,
		"/v1/screenshot?html=x": http.StatusNotFound, "/v1/usage": http.StatusNotFound,
		"/": http.StatusNotFound, "/openapi.json": http.StatusNotFound,
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s on the admin address: %d, want %d", path, rec.Code, want)
		}
	}
}
