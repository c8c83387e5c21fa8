//go:build linux || darwin || freebsd || netbsd || openbsd

package fetch

import "golang.org/x/sys/unix"

// freeBytes is the space an unprivileged writer may still use on the
// filesystem of dir.
func freeBytes(dir string) (int64, bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	free := uint64(st.Bavail) * uint64(st.Bsize) //nolint:unconvert // field types differ between systems
	if free > uint64(DefaultMaxBytes) {
		free = uint64(DefaultMaxBytes)
	}
	return int64(free), true, nil
}
