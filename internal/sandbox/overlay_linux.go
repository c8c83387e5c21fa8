//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"

	"os"

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
			fd, err := unix.MemfdCreate("ttsguard-model", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
			if err != nil {
				closeAll(files)
				return nil, nil, fmt.Errorf("decrypted model: memfd_create: %w", err)
			}
			f := os.NewFile(uintptr(fd), e.Path)
			files = append(files, f)
			if _, err := f.Write(e.Data); err != nil {
				closeAll(files)
				return nil, nil, fmt.Errorf("decrypted model: %w", err)
			}
			if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_WRITE|unix.F_SEAL_GROW|unix.F_SEAL_SHRINK|unix.F_SEAL_SEAL); err != nil {
				closeAll(files)
				return nil, nil, fmt.Errorf("decrypted model: seal: %w", err)
			}
			c.Tree = append(c.Tree, TreeEntry{Path: e.Path, FD: first + len(files) - 1, Size: int64(len(e.Data))})
		}
		out = append(out, c)
	}
	return out, files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
