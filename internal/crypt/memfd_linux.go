package crypt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// PlainMemfd decrypts the age file r with the keys' identities into a
// sealed memfd named name (SealedMemfd), returned with the plaintext's
// size.
func PlainMemfd(r io.Reader, k *Keys, name string) (*os.File, int64, error) {
	ids, err := k.Identities()
	if err != nil {
		return nil, 0, err
	}
	p, err := Decrypt(r, ids)
	if err != nil {
		return nil, 0, err
	}
	f, n, err := SealedMemfd(p, name)
	if err != nil && !errors.Is(err, errMemfd) {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrDecrypt, name, err)
	}
	return f, n, err
}

// notDumpable makes this process not dumpable (prctl PR_SET_DUMPABLE 0):
// the kernel's ptrace access checks, which guard /proc/PID/mem and the
// opening of /proc/PID/fd/N, then refuse every process but root's. It
// holds until the process executes another program.
func notDumpable() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err)
	}
	return nil
}

// errMemfd marks the failures of the memfd itself (not of reading r).
var errMemfd = errors.New("memfd")

// SealedMemfd copies r into a new memfd named name (memfd_create(2)):
// memory that no path on any filesystem reaches but /proc/PID/fd/N of a
// process that holds it (this process is made not dumpable first, so that
// no other process of the user opens it before it is sealed), gone when
// the last descriptor is closed. It is
// sealed against writes, growing, shrinking and further seals, and, where
// the kernel has MFD_NOEXEC_SEAL (Linux 6.3), against execution;
// positioned at 0 and returned with its size. The memory counts against the
// caller (and its memory cgroup) and can be swapped out like any other
// anonymous memory (docs/storage.md).
func SealedMemfd(r io.Reader, name string) (*os.File, int64, error) {
	// no other process may open the memfd before it is sealed
	if err := notDumpable(); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errMemfd, err)
	}
	const flags = unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, syscall.EINVAL) {
		fd, err = unix.MemfdCreate(name, flags)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w_create: %w", errMemfd, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	n, err := io.Copy(f, r)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	const seals = unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%w seal: %w", errMemfd, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}
