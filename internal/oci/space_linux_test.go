package oci

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ttsguard/ttsguard/internal/fetch"
)

// TestFetchNoSpace: a manifest whose layers add up to more than the free
// space of the destination is refused before a blob is fetched, and
// nothing is written.
func TestFetchNoSpace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts a small tmpfs: root only")
	}
	r := newTestRegistry(t, true)
	res := pushModel(t, r, "v1", nil)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=32k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	_, err := r.c.Fetch(context.Background(), r.ref(t, "models/tiny:v1"), res.Manifest, dir, 1<<30)
	if !errors.Is(err, fetch.ErrTooLarge) || !strings.Contains(err.Error(), "bytes free") {
		t.Fatalf("40 KB into a 32 KiB filesystem: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("written before the check: %v", left)
	}
}
