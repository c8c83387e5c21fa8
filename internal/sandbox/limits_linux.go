//go:build linux && (amd64 || arm64)

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// setLimits lowers the resource limits (soft and hard) of the process the
// command will be: a limit of 0 is left as it is, except core dumps, which
// are always off (a dump would write the model's memory to disk).
func setLimits(l Limits) error {
	set := []struct {
		name     string
		resource int
		value    int64
	}{
		{"address space (memory)", unix.RLIMIT_AS, l.Memory},
		{"processes", unix.RLIMIT_NPROC, l.Processes},
		{"file size", unix.RLIMIT_FSIZE, l.FileSize},
		{"open files", unix.RLIMIT_NOFILE, l.OpenFiles},
		{"core dumps", unix.RLIMIT_CORE, 0},
	}
	for i, s := range set {
		if s.value <= 0 && s.resource != unix.RLIMIT_CORE {
			continue
		}
		var cur unix.Rlimit
		if err := unix.Getrlimit(s.resource, &cur); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		v := uint64(s.value)
		if v > cur.Max {
			v = cur.Max // never raise: only lower
		}
		if err := unix.Setrlimit(s.resource, &unix.Rlimit{Cur: v, Max: v}); err != nil {
			return fmt.Errorf("%s limit %d: %w", set[i].name, v, err)
		}
	}
	return nil
}

// reachable checks, as the current (serving) user, that every folder on the
// way to the file p can be traversed and that p can be executed; the error
// names the first component that blocks, why, and how to fix it.
func reachable(p string) error {
	if b := blocker(p, false); b != "" {
		return errors.New(p + b + "; install the command where the serving user can reach it (a virtual environment on " +
			"a Python outside /root, such as /usr/bin/python3 or one under /opt), or make that folder traversable " +
			"(chmod o+x, or a group the serving user has)")
	}
	return nil
}

// blocker returns "" when the current user can traverse every folder
// leading to p and use p (list a folder when dir, execute a file
// otherwise); else ": ... COMPONENT ... not ..." with its owner and mode.
func blocker(p string, dir bool) string {
	comps := []string{}
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		comps = append([]string{d}, comps...)
		if d == "/" || d == "." {
			break
		}
	}
	for _, c := range comps {
		if err := unix.Access(c, unix.X_OK); err != nil {
			return fmt.Sprintf(": the folder %s on its way is not traversable by it (%s): %v", c, describe(c), err)
		}
	}
	mode, what := uint32(unix.X_OK), "executable"
	if dir {
		mode, what = unix.R_OK|unix.X_OK, "readable"
	}
	if err := unix.Access(p, mode); err != nil {
		return fmt.Sprintf(": it is not %s by it (%s): %v", what, describe(p), err)
	}
	return ""
}

// describe gives the owner and mode of p.
func describe(p string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		return err.Error()
	}
	return fmt.Sprintf("owner %d:%d, mode %04o", st.Uid, st.Gid, os.FileMode(st.Mode).Perm())
}
