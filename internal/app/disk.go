package app

import (
	"github.com/pageshot/pageshot/internal/disk"
)

// diskFree returns the room left on the data directory's disk, -1 when it
// cannot be read.
func (a *App) diskFree() int64 {
	free, err := disk.Free(a.cfg.DataDir)
	if err != nil {
		return -1
	}
	return free
}

// diskLow reports whether the data directory's disk has less than
// MinFreeDisk left. The node is then not ready (a load balancer sends
// captures elsewhere), stored and cached captures are refused first
// (storage_error: the blob store keeps MinFreeDisk back), and captures
// that write only their usage ledger go on until SQLite itself finds no
// room (service_unavailable with Retry-After).
func (a *App) diskLow() bool {
	free := a.diskFree()
	return free >= 0 && free < a.cfg.MinFreeDisk
}

// readyDetails are the members /readyz adds to its answer: how the browser
// is contained ("on (user pageshot-chrome)", or "off (…): why").
func (a *App) readyDetails() map[string]string {
	return map[string]string{"browser_sandbox": a.pool.Sandbox().String()}
}
