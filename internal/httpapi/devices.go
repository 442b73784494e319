package httpapi

import (
	"net/http"

	"github.com/pageshot/pageshot"
)

// devices serves GET /v1/devices: the presets of the device option.
func (s *Server) devices(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, struct {
		Devices []pageshot.Device `json:"devices"`
	}{pageshot.Devices})
}
