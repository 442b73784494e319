package disk

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

func TestFree(t *testing.T) {
	dir := t.TempDir()
	before, err := Free(dir)
	if err != nil || before <= 0 {
		t.Fatalf("Free(%s) = %d, %v", dir, before, err)
	}
	if _, err := Free(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Free of a missing path: %v, want not exist", err)
	}
}
