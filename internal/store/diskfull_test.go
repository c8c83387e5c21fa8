package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallFS mounts a 1 MiB tmpfs for the test, or skips: mounting needs
// CAP_SYS_ADMIN. TTSGUARD_TEST_NO_MOUNT=1 skips it on purpose.
func smallFS(t *testing.T) string {
	t.Helper()
	if os.Getenv("TTSGUARD_TEST_NO_MOUNT") != "" {
		t.Skip("TTSGUARD_TEST_NO_MOUNT is set")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size=1m,mode=0750"); err != nil {
		t.Skipf("cannot mount a 1 MiB tmpfs for the full-disk test (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file until the filesystem is full.
func fill(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

func TestDiskFull(t *testing.T) {
	mnt := smallFS(t)
	s, err := Open(filepath.Join(mnt, "store"))
	if err != nil {
		t.Fatal(err)
	}
	commitVariant(t, s, "m", "a")
	before := snapshot(t, s)
	unchanged := func(what string) {
		t.Helper()
		if d := diffSnapshots(before, snapshot(t, s)); d != "" {
			t.Errorf("%s: store changed:\n%s", what, d)
		}
		if n := tmpEntries(t, s); len(n) > 1 { // the staging folder of the failed commit, if any
			t.Errorf("%s: tmp/ holds %v", what, n)
		}
	}

	t.Run("copy from another filesystem", func(t *testing.T) {
		dir := t.TempDir()
		files := variant("b")
		files["big.pth"] = strings.Repeat("x", 2<<20)
		if err := writeFiles(dir, files); err != nil {
			t.Fatal(err)
		}
		root, err := rootOfFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Commit(context.Background(), "n", dir, root, Provenance{})
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("commit of 2 MiB into 1 MiB: %v, want ENOSPC", err)
		}
		unchanged("copy")
		if r, err := rootOfFiles(dir); err != nil || r != root {
			t.Errorf("staged folder changed: %v", err)
		}
	})

	t.Run("no room for metadata", func(t *testing.T) {
		dir, cleanup, err := s.Stage()
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		// Without the blob b shares with a: replacing that blob would free
		// the page the metadata needs.
		files := variant("b")
		delete(files, "shared.bin")
		if err := writeFiles(dir, files); err != nil {
			t.Fatal(err)
		}
		root, err := rootOfFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		filler := filepath.Join(mnt, "filler")
		fill(t, filler)
		defer os.Remove(filler)
		_, err = s.Commit(context.Background(), "n", dir, root, Provenance{})
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("commit on a full disk: %v, want ENOSPC", err)
		}
		unchanged("full")
		if r, err := rootOfFiles(dir); err != nil || r != root {
			t.Errorf("staged folder not restored: %v %v", r, err)
		}
		os.Remove(filler)
		if _, err := s.Commit(context.Background(), "n", dir, root, Provenance{}); err != nil {
			t.Errorf("commit after freeing space: %v", err)
		}
		checkConsistent(t, s)
	})
}
