package httpapi

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/pageshot/pageshot"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 while the server can take captures, and
// service_unavailable otherwise (browser restarting, store unreachable).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil && !s.cfg.Ready() {
		e := pageshot.Errorf(pageshot.CodeServiceUnavailable, "The server is not ready to take captures.")
		e.RetryAfter = time.Second
		s.writeError(w, r, e)
		return
	}
	body := map[string]string{}
	if s.cfg.Details != nil {
		body = s.cfg.Details()
	}
	body["status"] = "ready"
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.cfg.OpenAPI)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

//go:embed errors.html
var errorsHTML string

var errorsPage = template.Must(template.New("errors").Parse(errorsHTML))

// errorDocs lists the error catalogue: HTML for people, JSON for programs
// that ask for it. Each code's row has the code as its id, the anchor of
// the type link of its problems.
func (s *Server) errorDocs(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		Code      string `json:"code"`
		Status    int    `json:"status"`
		Title     string `json:"title"`
		Retryable bool   `json:"retryable"`
		When      string `json:"when"`
	}
	var list []entry
	for _, c := range pageshot.Catalogue() {
		list = append(list, entry{string(c.Code), c.Status, c.Title, c.Retryable, c.When})
	}
	s.listDoc(w, r, "Error codes", "errors", errorsPage, list)
}

//go:embed playground.html
var playgroundHTML []byte

func (s *Server) playground(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(playgroundHTML)
}

func accepts(r *http.Request, mediaType string) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), mediaType) {
			return true
		}
	}
	return false
}
