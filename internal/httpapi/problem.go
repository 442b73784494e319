package httpapi

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/pageshot/pageshot"
)

// problem is an RFC 9457 problem document with pageshot's members.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Retryable bool   `json:"retryable"`
	RequestID string `json:"request_id"`

	Errors             []pageshot.FieldError `json:"errors,omitempty"`
	ReturnedStatusCode *int                  `json:"returned_status_code,omitempty"`
	Phase              string                `json:"phase,omitempty"`
	Reason             string                `json:"reason,omitempty"`
	RetryAfter         int                   `json:"retry_after,omitempty"`
	Plan               string                `json:"plan,omitempty"`
	Limit              *int64                `json:"limit,omitempty"`
	Used               *int64                `json:"used,omitempty"`
	ResetAt            int64                 `json:"reset_at,omitempty"`
}

// writeError is the one place where an error becomes an HTTP answer. An
// error that is not a *pageshot.Error is internal_error; its cause is
// logged with the request id and never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := pageshot.AsError(err)
	info := e.Code.Info()
	id := requestID(r.Context())
	p := problem{
		Type:      "/docs/errors#" + string(info.Code),
		Title:     info.Title,
		Status:    info.Status,
		Detail:    e.Message,
		Code:      string(info.Code),
		Retryable: e.Retryable(),
		RequestID: id,
		Phase:     e.Phase,
		Reason:    e.Reason,
		Plan:      e.Plan,
	}
	switch info.Code {
	case pageshot.CodeInvalidRequest:
		p.Errors = e.Fields
		if p.Errors == nil {
			p.Errors = []pageshot.FieldError{}
		}
	case pageshot.CodeHostReturnedError:
		p.ReturnedStatusCode = &e.ReturnedStatusCode
	case pageshot.CodeQuotaExceeded:
		p.Limit, p.Used = &e.Limit, &e.Used
		if !e.ResetAt.IsZero() {
			p.ResetAt = e.ResetAt.Unix()
		}
	}
	if e.RetryAfter > 0 {
		p.RetryAfter = int(math.Ceil(e.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	level := slog.LevelInfo
	if info.Status >= 500 && info.Code != pageshot.CodeServiceUnavailable {
		level = slog.LevelWarn
	}
	if info.Code == pageshot.CodeInternal {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "request_id", id, "code", p.Code, "status", p.Status, "err", err)

	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set(errorCodeHeader, p.Code)
	h.Del("ETag")
	h.Del("Content-Disposition")
	w.WriteHeader(info.Status)
	_ = json.NewEncoder(w).Encode(p)
}
