//go:build linux

package tensors

import (
	"os"
	"syscall"
)

// mapFile maps a regular file read-only, so that tensor elements are read
// in place (no copy through read(2)); nil when it cannot be mapped. A file
// truncated while mapped makes reads fault: readers of mapped bytes run
// with debug.SetPanicOnFault (see Elements.Next).
func mapFile(f *os.File, size int64) []byte {
	if size <= 0 || size != int64(int(size)) {
		return nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	syscall.Madvise(b, syscall.MADV_SEQUENTIAL) //nolint:errcheck // advice only
	return b
}

func unmapFile(b []byte) error { return syscall.Munmap(b) }

// release drops the pages of b, a page-aligned part of a mapping, from the
// process (the page cache keeps them): a streamed file does not stay
// resident in the reader.
func release(b []byte) { syscall.Madvise(b, syscall.MADV_DONTNEED) } //nolint:errcheck // advice only
