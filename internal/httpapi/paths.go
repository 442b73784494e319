package httpapi

import (
	"net/http"
	"path"

	"github.com/pageshot/pageshot"
)

// cleanPaths answers not_found, as a problem document, for a path that is
// not in its clean form ("//v1/usage", "/v1/./usage"), which
// http.ServeMux would otherwise answer with an HTML redirect.
func (s *Server) cleanPaths(next http.Handler) http.Handler {
	notFound := s.public(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, pageshot.Errorf(pageshot.CodeNotFound, "There is nothing at %s; paths are taken in their clean form only.", r.URL.Path))
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; r.Method != http.MethodConnect && p != cleanPath(p) {
			notFound.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is p as http.ServeMux cleans it: rooted, without . and ..
// elements or repeated slashes, a trailing slash kept.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}
