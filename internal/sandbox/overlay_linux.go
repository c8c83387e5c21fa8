//go:build linux && (amd64 || arm64)

package sandbox

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// overlayDescriptors gives the content of the overlays' files as sealed
// memfds (memory, never a disk), to be inherited by the sandbox's first
// stage as descriptors first, first+1, ...: the specification it reads is
// capped (maxSpec), a model is not. A file's memfd is its File, else one
// made of its Data. It returns the overlays as the first stage gets them
// (FD and Size instead of Data), the memfds to pass, and those of them it
// made, which the caller closes once the first stage started.
func overlayDescriptors(ovs []Overlay, first int) (_ []Overlay, pass, made []*os.File, _ error) {
	out := make([]Overlay, 0, len(ovs))
	for _, o := range ovs {
		c := Overlay{Dir: o.Dir}
		for _, e := range o.Tree {
			f, size := e.File, e.Size
			if f == nil {
				var err error
				if f, err = sealedMemfd(e.Path, e.Data); err != nil {
					closeAll(made)
					return nil, nil, nil, err
				}
				made, size = append(made, f), int64(len(e.Data))
			}
			pass = append(pass, f)
			c.Tree = append(c.Tree, TreeEntry{Path: e.Path, FD: first + len(pass) - 1, Size: size})
		}
		out = append(out, c)
	}
	return out, pass, made, nil
}

// sealedMemfd is crypt.SealedMemfd of data.
func sealedMemfd(name string, data []byte) (*os.File, error) {
	f, _, err := crypt.SealedMemfd(bytes.NewReader(data), name)
	if err != nil {
		return nil, fmt.Errorf("decrypted model: %s: %w", name, err)
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
			f := e.File
			if f == nil {
				if f, err = sealedMemfd(e.Path, e.Data); err != nil {
					return nil, err
				}
			}
			v.files = append(v.files, f)
			o.Tree[j].Data, o.Tree[j].File = nil, nil // the view holds it now
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
