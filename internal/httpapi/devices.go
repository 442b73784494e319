package httpapi

import (
	_ "embed"
	"html/template"
	"net/http"

	"github.com/pageshot/pageshot"
)

// devices serves GET /v1/devices: the presets of the device option.
func (s *Server) devices(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Devices []pageshot.Device `json:"devices"`
	}{pageshot.Devices})
}

//go:embed devices.html
var devicesHTML string

var devicesPage = template.Must(template.New("devices").Parse(devicesHTML))

// deviceDocs serves GET /docs/devices: the presets as a page, rows
// anchored by name.
func (s *Server) deviceDocs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = devicesPage.Execute(w, pageshot.Devices)
}
