// Package disk reads how much room a file system has left, so that
// pageshot can keep the last of it for its usage ledger and tell a load
// balancer, before writes fail, that a node's disk is nearly full.
package disk

import (
	"fmt"
	"syscall"
)

// Free returns the bytes that an unprivileged writer may still use on the
// file system holding path.
func Free(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
