package crypt

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// PlainMemfd decrypts the age file r with the keys' identities into a
// sealed memfd named name (memfd_create(2)): memory that no path on any
// filesystem reaches but /proc/PID/fd/N of a process that holds it, gone
// when the last descriptor is closed. It is sealed against writes, growing,
// shrinking and further seals, positioned at 0, and returned with the
// plaintext's size. The memory counts against the caller (and its memory
// cgroup) and can be swapped out like any other anonymous memory
// (docs/storage.md).
func PlainMemfd(r io.Reader, k *Keys, name string) (*os.File, int64, error) {
	ids, err := k.Identities()
	if err != nil {
		return nil, 0, err
	}
	p, err := Decrypt(r, ids)
	if err != nil {
		return nil, 0, err
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, 0, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	n, err := io.Copy(f, p)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrDecrypt, name, err)
	}
	const seals = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("memfd seal: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}
