//go:build !linux

package crypt

import (
	"errors"
	"io"
	"os"
)

// PlainMemfd needs Linux's memfd_create; elsewhere an encrypted blob cannot
// be given to a reader without a file on disk, so it fails.
func PlainMemfd(io.Reader, *Keys, string) (*os.File, int64, error) {
	return nil, 0, errors.New("reading an encrypted model needs Linux (memfd_create)")
}

// SealedMemfd needs Linux's memfd_create.
func SealedMemfd(io.Reader, string) (*os.File, int64, error) {
	return nil, 0, errors.New("a sealed memfd needs Linux (memfd_create)")
}

// notDumpable has no equivalent here: nothing is decrypted into memory that
// another process could open.
func notDumpable() error { return nil }
