// Package apitest checks HTTP exchanges with pageshot's server against the
// API description of package api, so that end-to-end tests fail when the
// server and api/openapi.yaml drift apart.
//
// It validates with github.com/getkin/kin-openapi (openapi3filter), which
// checks OpenAPI 3.1 schemas with a JSON Schema 2020-12 validator and, in a
// trial on this description, caught every seeded violation with a precise
// message, where pb33f/libopenapi-validator (v0.14.0, its newest release
// whose dependencies the module proxy serves) rejected valid quoted ETags and
// "Name: value" query values.
package apitest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/pageshot/pageshot/api"
)

// Checker holds the loaded description. It is safe for concurrent use.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads api.JSON() and checks that it is a valid OpenAPI document; it
// stops the test when it is not.
func New(t testing.TB) *Checker {
	t.Helper()
	spec, err := api.JSON()
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		t.Fatalf("apitest: load openapi: %v", err)
	}
	router, err := legacy.NewRouter(doc) // validates the document first
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	return &Checker{doc: doc, router: router}
}

// Check reports with t.Errorf every way in which an exchange departs from
// the description; see Validate.
func (c *Checker) Check(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if err := c.Validate(req, resp, body); err != nil {
		t.Errorf("apitest: %s %s → %d departs from api/openapi.yaml:\n%v", req.Method, req.URL.RequestURI(), resp.StatusCode, err)
	}
}

// Do sends req with client, reads the response body, checks the exchange
// and returns the response (its body closed) and the body. Failing to send
// or to read stops the test.
func (c *Checker) Do(t testing.TB, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("apitest: %s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("apitest: read the body of %s %s: %v", req.Method, req.URL, err)
	}
	c.Check(t, req, resp, body)
	return resp, body
}

// Validate returns what in an exchange departs from the description, or nil.
// body is the response body, read by the caller; req's body is read again
// through req.GetBody, which http.NewRequest sets for a *bytes.Buffer,
// *bytes.Reader or *strings.Reader, so req may have been sent already.
//
// The request is looked up among the described operations:
//   - a path not described must answer 404, and a described path with
//     another method 405 with an Allow header listing the described methods
//     (and HEAD along with GET, as net/http serves it);
//   - a request the description refuses (an unknown option, a value out of
//     range, …) must be refused with a 4xx. The reverse is not required: a
//     request the description accepts may still be refused with 400, for
//     rules a schema cannot state (a valid time zone, a margin that fits
//     the paper, a scalar query parameter given twice, …).
//
// The response must have a status the operation lists, a media type listed
// for that status, a body matching its schema (problem documents included),
// and the headers the description requires, X-Request-Id on every response.
// An image or PDF body must be what its Content-Type says.
func (c *Checker) Validate(req *http.Request, resp *http.Response, body []byte) error {
	ctx := context.Background()
	r, err := replay(req)
	if err != nil {
		return err
	}
	var errs []error
	if resp.Header.Get("X-Request-Id") == "" {
		errs = append(errs, errors.New("no X-Request-Id header"))
	}

	var in *openapi3filter.RequestValidationInput
	route, params, err := c.router.FindRoute(lookup(r, r.Method))
	switch {
	case isRouteError(err, routers.ErrPathNotFound):
		in = c.unrouted(r, http.StatusNotFound, "NotFound")
	case isRouteError(err, routers.ErrMethodNotAllowed):
		in = c.unrouted(r, http.StatusMethodNotAllowed, "MethodNotAllowed")
		if resp.StatusCode == http.StatusMethodNotAllowed {
			errs = append(errs, c.checkAllow(r, resp.Header.Get("Allow")))
		}
	case err != nil:
		return fmt.Errorf("find the operation: %w", err)
	default:
		in = &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route,
			Options: options(&openapi3filter.Options{SkipSettingDefaults: true, AuthenticationFunc: presented}),
		}
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil && (resp.StatusCode < 400 || resp.StatusCode > 499) {
			errs = append(errs, fmt.Errorf("the description refuses the request, yet the server answered %d: %w", resp.StatusCode, err))
		}
	}

	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                options(&openapi3filter.Options{IncludeResponseStatus: true}),
	}
	out.SetBodyBytes(body)
	errs = append(errs, openapi3filter.ValidateResponse(ctx, out))
	if req.Method != http.MethodHead {
		errs = append(errs, checkBinary(resp.Header.Get("Content-Type"), body))
	}
	return errors.Join(errs...)
}

// presented checks that a request carries the credential a security
// scheme names; whether the credential is valid is the server's call.
func presented(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	r, sch := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case sch.Type == "http" && strings.EqualFold(sch.Scheme, "bearer"):
		if scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") && token != "" {
			return nil
		}
	case sch.Type == "apiKey" && sch.In == "header":
		if r.Header.Get(sch.Name) != "" {
			return nil
		}
	case sch.Type == "apiKey" && sch.In == "query":
		if r.URL.Query().Get(sch.Name) != "" {
			return nil
		}
	}
	return in.NewError(fmt.Errorf("no %s credential", in.SecuritySchemeName))
}

// options sets what every validation shares: all errors, not the first, each
// without the dump of its schema and value, which the 2020-12 validator's
// reason (path and keyword) makes redundant.
func options(o *openapi3filter.Options) *openapi3filter.Options {
	o.MultiError = true
	o.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string {
		if err.Origin != nil {
			return "" // the default message: the causes, without a dump
		}
		return err.Reason
	})
	return o
}

// replay returns a copy of req whose body can be read.
func replay(req *http.Request) (*http.Request, error) {
	r := req.Clone(context.Background())
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		r.Body = http.NoBody
	case req.GetBody != nil:
		b, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("read the request body again: %w", err)
		}
		r.Body = b
	default:
		return nil, errors.New("the request body cannot be read again: make the request with http.NewRequest and a *bytes.Reader, *bytes.Buffer or *strings.Reader, or set GetBody")
	}
	return r, nil
}

// lookup returns r for finding its operation as method; HEAD finds GET's,
// as net/http serves HEAD with the GET handler.
func lookup(r *http.Request, method string) *http.Request {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if method == r.Method {
		return r
	}
	l := r.Clone(context.Background())
	l.Method = method
	return l
}

func isRouteError(err, target error) bool {
	var re *routers.RouteError
	return errors.As(err, &re) && re.Error() == target.Error()
}

// unrouted describes a request that matches no operation: its only answer
// is the response component name with status.
func (c *Checker) unrouted(r *http.Request, status int, name string) *openapi3filter.RequestValidationInput {
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, c.doc.Components.Responses[name]))
	return &openapi3filter.RequestValidationInput{
		Request: r,
		Route:   &routers.Route{Spec: c.doc, Path: r.URL.Path, Method: r.Method, Operation: op},
	}
}

// checkAllow compares a 405's Allow header with the methods described for
// the path.
func (c *Checker) checkAllow(r *http.Request, allow string) error {
	var want []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if _, _, err := c.router.FindRoute(lookup(r, m)); err == nil {
			want = append(want, m)
		}
	}
	var got []string
	for _, m := range strings.Split(allow, ",") {
		if m = strings.TrimSpace(m); m != "" {
			got = append(got, m)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("Allow is %q; the description has %s", allow, strings.Join(want, ", "))
	}
	return nil
}

// binaryTypes are the media types described without a schema; their bodies
// are checked by their magic numbers instead.
var binaryTypes = []string{"image/png", "image/jpeg", "image/webp", "application/pdf"}

func checkBinary(contentType string, body []byte) error {
	mt, _, _ := mime.ParseMediaType(contentType)
	if !slices.Contains(binaryTypes, mt) {
		return nil
	}
	if got, _, _ := mime.ParseMediaType(http.DetectContentType(body)); got != mt {
		return fmt.Errorf("the body is %s, not the %s its Content-Type says", got, mt)
	}
	return nil
}
