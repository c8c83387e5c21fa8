package fetch

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCheckSpace: announced sizes that add up past the cap of one download,
// or past the free space of the destination's filesystem, are refused
// before anything is fetched.
func TestCheckSpace(t *testing.T) {
	dir := t.TempDir()
	if err := CheckSpace(dir, "repo", []int64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, sizes := range [][]int64{{DefaultMaxBytes, 1}, {DefaultMaxBytes / 2, DefaultMaxBytes / 2, DefaultMaxBytes / 2}, {-1}, {math.MaxInt64, math.MaxInt64}} {
		if err := CheckSpace(dir, "repo", sizes); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "repo: ") {
			t.Errorf("%v: %v", sizes, err)
		}
	}
	if err := CheckSpace(filepath.Join(dir, "missing"), "repo", []int64{1}); err == nil || errors.Is(err, ErrTooLarge) {
		t.Errorf("a destination whose free space cannot be read: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("the free-space case mounts a small tmpfs: root only")
	}
	small := t.TempDir()
	if err := unix.Mount("tmpfs", small, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(small, unix.MNT_DETACH) })
	err := CheckSpace(small, "repo", []int64{600 << 10, 600 << 10})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "bytes free") {
		t.Errorf("1.2 MiB into a 1 MiB filesystem: %v", err)
	}
	if err := CheckSpace(small, "repo", []int64{600 << 10}); err != nil {
		t.Errorf("600 KiB into a 1 MiB filesystem: %v", err)
	}
}
