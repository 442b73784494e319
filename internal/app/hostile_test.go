package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pageshot/pageshot"
)

// TestSignedURLScope: a signature authenticates GET and HEAD
// /v1/screenshot only; the query of a signed <img src> opens no other
// route, and ambiguous credentials are refused.
func TestSignedURLScope(t *testing.T) {
	tg := newTarget(t)
	s := newTenancyServer(t, nil)
	k, key := s.newKey(t, "five", nil)
	other, otherKey := s.newKey(t, "five", nil)
	signed := signedURL(s.url, k, url.Values{"url": {tg.URL + "/"}, "viewport_width": {"200"}, "viewport_height": {"100"}}, time.Now().Add(time.Hour))
	query := signed[strings.Index(signed, "?"):]
	send := func(method, path string, header ...string) *response {
		req, _ := http.NewRequest(method, s.url+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return s.send(t, req)
	}

	wantSize(t, wantImage(t, send("GET", "/v1/screenshot"+query), "image/png"), 200, 100)
	head := send("HEAD", "/v1/screenshot"+query)
	if head.StatusCode != 200 || head.Header.Get("Content-Type") != "image/png" || len(head.body) != 0 {
		t.Errorf("HEAD of a signed URL: %d %q, %d bytes", head.StatusCode, head.Header.Get("Content-Type"), len(head.body))
	}
	for _, path := range []string{"/v1/usage", "/v1/jobs/job_x", "/v1/jobs/job_x/items/0/artifact"} {
		wantProblem(t, send("GET", path+query), 401, "invalid_signature")
	}
	wantProblem(t, send("DELETE", "/v1/jobs/job_x"+query), 401, "invalid_signature")
	wantProblem(t, send("POST", "/v1/screenshot"+query), 401, "invalid_signature")
	// With a valid key beside it, the signature still opens nothing.
	wantProblem(t, send("GET", "/v1/usage"+query, bearer(key)...), 401, "invalid_signature")

	t.Run("ambiguous credentials", func(t *testing.T) {
		wantProblem(t, send("GET", "/v1/usage", "Authorization", "Bearer "+key, "X-API-Key", otherKey), 401, "invalid_api_key")
		wantProblem(t, send("GET", "/v1/usage?access_key="+url.QueryEscape(otherKey), bearer(key)...), 401, "invalid_api_key")
		wantProblem(t, send("GET", "/v1/screenshot"+query+"&signature=00"), 401, "invalid_signature")
		wantProblem(t, send("GET", "/v1/screenshot"+query+"&access_key="+other.ID), 401, "invalid_signature")
		wantProblem(t, send("GET", "/v1/screenshot"+query, bearer(otherKey)...), 401, "invalid_api_key")
		// The same key twice is not ambiguous.
		r := send("GET", "/v1/usage", "Authorization", "Bearer "+key, "X-API-Key", key)
		if r.StatusCode != 200 {
			t.Errorf("the same key in both headers: %d %s", r.StatusCode, r.body)
		}
	})
	if u := s.usage(t, k.ID); u.Committed != 2 {
		t.Errorf("the signed key was charged %d captures, want 2 (GET and HEAD)", u.Committed)
	}
	_ = pageshot.DefaultPlanName
}
