package app_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/pageshot/pageshot/internal/apitest"
)

var (
	checkerOnce sync.Once
	checker     *apitest.Checker
)

// checkContract checks every exchange of the end-to-end tests against
// api/openapi.yaml, so the server and its description cannot drift.
func checkContract(t testing.TB, req *http.Request, res *http.Response, body []byte) {
	t.Helper()
	checkerOnce.Do(func() { checker = apitest.New(t) })
	checker.Check(t, req, res, body)
}
