package pageshot

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// JobRequest is the body of POST /v1/jobs: a batch (Items, with Defaults) or
// a crawl.
type JobRequest struct {
	Items      []json.RawMessage `json:"items"`
	Defaults   json.RawMessage   `json:"defaults"`
	Crawl      *Crawl            `json:"crawl"`
	WebhookURL string            `json:"webhook_url"`
}

// DecodeJobRequest reads a job request, reporting every problem at once as an
// invalid_request.
func DecodeJobRequest(body []byte) (*JobRequest, error) {
	var r JobRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, InvalidRequest([]FieldError{{Field: "", Message: "The body is not a job: " + err.Error()}})
	}
	if err := CheckDuplicateMembers(body); err != nil {
		return nil, err
	}
	return &r, nil
}

// JobView is a job as the API shows it.
type JobView struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"`
	Total      int        `json:"total"`
	Succeeded  int        `json:"succeeded"`
	Failed     int        `json:"failed"`
	WebhookURL string     `json:"webhook_url,omitempty"`
	CreatedAt  int64      `json:"created_at"`
	FinishedAt *int64     `json:"finished_at"`
	Items      []ItemView `json:"items"`
}

// ItemView is a job item as the API shows it.
type ItemView struct {
	Index              int     `json:"index"`
	URL                string  `json:"url"`
	Status             string  `json:"status"`
	ErrorCode          *string `json:"error_code"`
	ErrorMessage       *string `json:"error_message"`
	ReturnedStatusCode *int    `json:"returned_status_code"`
	ArtifactURL        *string `json:"artifact_url"`
}

// View returns j as the API shows it; base is the server's URL, for the
// artifact links.
func (j *Job) View(base string) JobView {
	total, ok, failed := j.Counts()
	v := JobView{
		ID: j.ID, Kind: j.Kind, Status: string(j.Status), Total: total, Succeeded: ok, Failed: failed,
		WebhookURL: j.WebhookURL, CreatedAt: j.CreatedAt.Unix(), Items: make([]ItemView, len(j.Items)),
	}
	if !j.FinishedAt.IsZero() {
		t := j.FinishedAt.Unix()
		v.FinishedAt = &t
	}
	for i, it := range j.Items {
		iv := ItemView{Index: it.Index, URL: it.URL, Status: string(it.Status)}
		if it.ErrorCode != "" {
			code, msg := string(it.ErrorCode), it.ErrorMessage
			iv.ErrorCode, iv.ErrorMessage = &code, &msg
		}
		if it.ReturnedStatusCode != 0 {
			rs := it.ReturnedStatusCode
			iv.ReturnedStatusCode = &rs
		}
		if it.ArtifactKey != "" {
			u := base + "/v1/jobs/" + j.ID + "/items/" + strconv.Itoa(it.Index) + "/artifact"
			iv.ArtifactURL = &u
		}
		v.Items[i] = iv
	}
	return v
}
