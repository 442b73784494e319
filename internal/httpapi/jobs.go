package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/pageshot/pageshot"
)

// maxJobBody bounds the body of POST /v1/jobs.
const maxJobBody = 32 << 20

// baseURL is the server's address as the client reached it, for the links
// in answers.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimSuffix(s.cfg.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) jobsEnabled(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Jobs == nil {
		s.writeError(w, r, pageshot.Errorf(pageshot.CodeNotFound, "This server runs no jobs."))
		return false
	}
	return true
}

// submitJob serves POST /v1/jobs.
func (s *Server) submitJob(w http.ResponseWriter, r *http.Request) {
	if !s.jobsEnabled(w, r) {
		return
	}
	if err := queryOfPost(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxJobBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		s.writeError(w, r, pageshot.Errorf(pageshot.CodePayloadTooLarge, "The request body is larger than %d bytes.", maxJobBody))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := pageshot.DecodeJobRequest(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c := caller(r.Context())
	j, err := s.cfg.Jobs.Submit(r.Context(), c.Key, c.Plan, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJob(w, r, http.StatusAccepted, j)
}

func (s *Server) writeJob(w http.ResponseWriter, r *http.Request, status int, j *pageshot.Job) {
	base := s.baseURL(r)
	w.Header().Set("Location", base+"/v1/jobs/"+j.ID)
	writeJSON(w, status, j.View(base))
}

// getJob serves GET /v1/jobs/{id}.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	s.jobOp(w, r, func(ctx context.Context, k *pageshot.APIKey, id string) (*pageshot.Job, error) {
		return s.cfg.Jobs.Job(ctx, k, id)
	})
}

// cancelJob serves DELETE /v1/jobs/{id}.
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	s.jobOp(w, r, func(ctx context.Context, k *pageshot.APIKey, id string) (*pageshot.Job, error) {
		return s.cfg.Jobs.Cancel(ctx, k, id)
	})
}

// jobOp answers the job that op returns for the caller's key and the
// path's id.
func (s *Server) jobOp(w http.ResponseWriter, r *http.Request, op func(context.Context, *pageshot.APIKey, string) (*pageshot.Job, error)) {
	if !s.jobsEnabled(w, r) {
		return
	}
	j, err := op(r.Context(), caller(r.Context()).Key, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJob(w, r, http.StatusOK, j)
}

// artifact serves GET /v1/jobs/{id}/items/{n}/artifact.
func (s *Server) artifact(w http.ResponseWriter, r *http.Request) {
	if !s.jobsEnabled(w, r) {
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil {
		s.writeError(w, r, pageshot.Errorf(pageshot.CodeNotFound, "No item %q.", r.PathValue("n")))
		return
	}
	data, contentType, err := s.cfg.Jobs.Artifact(r.Context(), caller(r.Context()).Key, r.PathValue("id"), n)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeBlob(w, r, data, contentType)
}

// object serves GET /v1/objects/{id}: a capture kept in blob storage. The
// id is long and random, so like a presigned URL it needs no key.
func (s *Server) object(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.cfg.Blobs == nil || !objectIDRE.MatchString(id) {
		s.writeError(w, r, pageshot.Errorf(pageshot.CodeNotFound, "No object %q.", id))
		return
	}
	data, contentType, err := s.cfg.Blobs.Get(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	writeBlob(w, r, data, contentType)
}

// objectIDRE matches the blob keys of stored and cached captures, whose
// random names are their only protection. Other blobs (job artifacts) are
// served only to their key.
var objectIDRE = regexp.MustCompile(`^(obj|cache)-[a-z2-7]{32}\.(png|jpg|webp|pdf)$`)

func writeBlob(w http.ResponseWriter, r *http.Request, data []byte, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// asyncCapture answers a capture with async true: a job of one item,
// announced at webhook_url when it ends.
func (s *Server) asyncCapture(w http.ResponseWriter, r *http.Request, raw pageshot.RawOptions, o *pageshot.Options) {
	if !s.jobsEnabled(w, r) {
		return
	}
	obj := raw.Object()
	if obj == nil {
		s.writeError(w, r, pageshot.InvalidRequest([]pageshot.FieldError{{Field: "async", Message: "Applies to POST with a JSON body only."}}))
		return
	}
	item := make(map[string]json.RawMessage, len(obj))
	for k, v := range obj {
		switch k {
		case "async", "webhook_url", "response_type", "store", "cache", "cache_ttl":
		default:
			item[k] = v
		}
	}
	b, _ := json.Marshal(item)
	c := caller(r.Context())
	j, err := s.cfg.Jobs.Submit(r.Context(), c.Key, c.Plan, &pageshot.JobRequest{Items: []json.RawMessage{b}, WebhookURL: o.WebhookURL})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJob(w, r, http.StatusAccepted, j)
}
