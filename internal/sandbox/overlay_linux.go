//go:build linux && (amd64 || arm64)

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// overlayDescriptors moves the content of the overlays' files into sealed
// memfds (memory, never a disk), to be inherited by the sandbox's first
// stage as descriptors first, first+1, ...: the specification it reads is
// capped (maxSpec), a model is not. It returns the overlays as the first
// stage gets them (FD and Size instead of Data) and the memfds, which the
// caller closes once the first stage started.
func overlayDescriptors(ovs []Overlay, first int) ([]Overlay, []*os.File, error) {
	var files []*os.File
	out := make([]Overlay, 0, len(ovs))
	for _, o := range ovs {
		c := Overlay{Dir: o.Dir}
		for _, e := range o.Tree {
			f, err := sealedMemfd(e.Path, e.Data)
			if err != nil {
				closeAll(files)
				return nil, nil, err
			}
			files = append(files, f)
			c.Tree = append(c.Tree, TreeEntry{Path: e.Path, FD: first + len(files) - 1, Size: int64(len(e.Data))})
		}
		out = append(out, c)
	}
	return out, files, nil
}

// sealedMemfd returns a memfd (memory that no path on any filesystem
// reaches but /proc/PID/fd/N of a process that holds it) holding data,
// sealed against writes, growing, shrinking and further seals, and, where
// the kernel has it (Linux 6.3), against execution (MFD_NOEXEC_SEAL).
func sealedMemfd(name string, data []byte) (*os.File, error) {
	const flags = unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate("ttsguard-model", flags|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, syscall.EINVAL) {
		fd, err = unix.MemfdCreate("ttsguard-model", flags)
	}
	if err != nil {
		return nil, fmt.Errorf("decrypted model: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("decrypted model: %s: %w", name, err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("decrypted model: %s: seal: %w", name, err)
	}
	return f, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// procFD is the path through which a process reaches its descriptor fd.
func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// newMemfdView builds a MemfdView of the overlays (checked by
// checkOverlays) in a new private folder under parent.
func newMemfdView(ovs []Overlay, parent string) (_ *MemfdView, err error) {
	n := 0
	for _, o := range ovs {
		n += len(o.Tree)
	}
	if n > maxPassed {
		return nil, fmt.Errorf("%w: the decrypted models hold %d files, more than the %d that can be passed as descriptors", ErrSpec, n, maxPassed)
	}
	// The memfds and, for a moment, their plaintext are this process's:
	// no other process of the user may read them through /proc/PID/fd or
	// /proc/PID/mem (a process that is not dumpable passes no "ptrace"
	// check of the kernel but root's).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("decrypted model: %w", err)
	}
	if parent == "" {
		parent = os.TempDir()
	}
	root, err := os.MkdirTemp(parent, "ttsguard-decrypted-")
	if err != nil {
		return nil, fmt.Errorf("decrypted model: %w", err)
	}
	v := &MemfdView{Root: root, dirs: map[string]string{}}
	defer func() {
		if err != nil {
			v.Close()
		}
	}()
	if err := os.Chmod(root, 0o700); err != nil {
		return nil, fmt.Errorf("decrypted model: %w", err)
	}
	for i, o := range ovs {
		dir := filepath.Join(root, strconv.Itoa(i)+"-"+filepath.Base(o.Dir))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, fmt.Errorf("decrypted model: %w", err)
		}
		var links []TreeEntry
		for j, e := range o.Tree {
			f, err := sealedMemfd(e.Path, e.Data)
			if err != nil {
				return nil, err
			}
			v.files = append(v.files, f)
			o.Tree[j].Data = nil // the memfd holds it now
			links = append(links, TreeEntry{Path: e.Path, Link: procFD(firstPassed + len(v.files) - 1)})
		}
		// Folders stay writable (0700 under a 0700 root): the caller, who
		// is not root, removes them afterwards.
		if err := buildTree(dir, links, false); err != nil {
			return nil, fmt.Errorf("decrypted model: %w", err)
		}
		v.dirs[o.Dir] = dir
	}
	return v, nil
}

// linkMemfds puts files into sealed memfds, to be the command's
// descriptors first, first+1, ... (by name, sorted), and links each name in
// dir to its /proc/self/fd/N. It returns the memfds.
func linkMemfds(dir string, files map[string][]byte, first int) ([]*os.File, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*os.File
	for _, n := range names {
		f, err := sealedMemfd(n, files[n])
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, f)
		if err := os.Symlink(procFD(first+len(out)-1), filepath.Join(dir, n)); err != nil {
			closeAll(out)
			return nil, err
		}
	}
	return out, nil
}
