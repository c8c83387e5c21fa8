//go:build linux

package main

import "golang.org/x/sys/unix"

// init makes ttsguard not dumpable from its first moment, for every
// command: a process of the same user that opened /proc/PID/mem before a
// later prctl keeps reading (and writing) through that descriptor, since
// the kernel checks at open, not at each access (the second attack review
// of 2026-12-04). What remains is the moment between execve and this; a
// binary installed execute-only (0711) closes it too, as the kernel makes
// such a process not dumpable at execve (docs/storage.md).
func init() {
	unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) //nolint:errcheck // best effort; crypt.notDumpable checks before any key is read
}
