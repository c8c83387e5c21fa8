package audit

import (
	"fmt"
	"os"
	"sort"
	"syscall"
)

// action is what --fix does for a finding: a chown (only ever to the store
// root's owner, only as root) and/or a chmod, applied through a descriptor
// to the very file (device and inode) that was checked.
type action struct {
	path     string
	dev, ino uint64
	dir      bool
	follow   bool   // the file was checked through symbolic links (files the policy names)
	chown    int    // uid to give it, or -1
	setMode  int64  // exact mode (07777 bits) to set, or -1
	clear    uint32 // mode bits to clear (when setMode is -1)
}

// fix applies the actions of the fixable findings: chowns first (a chown
// may clear setuid and setgid bits), then chmods. With an untrusted policy it
// fixes only the policy and lock files and counts the rest as skipped.
func (e *env) fix(findings []Finding) (fixed []Finding, errs []string, skipped int) {
	var todo []Finding
	for _, f := range findings {
		if !f.Fixable || f.act == nil {
			continue
		}
		if e.untrusted && f.act.path != e.policyPath && f.act.path != e.lockPath {
			skipped++
			continue
		}
		todo = append(todo, f)
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].act.chown >= 0 && todo[j].act.chown < 0 })
	for _, f := range todo {
		if err := f.act.apply(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s: %v", f.Path, f.Fix, err))
			continue
		}
		f.act = nil
		fixed = append(fixed, f)
	}
	return fixed, errs, skipped
}

// apply opens the file without following a final symbolic link (unless the
// check followed links), makes sure it is still the file that was checked,
// and changes it through the descriptor.
func (a *action) apply() error {
	flags := os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if !a.follow {
		flags |= syscall.O_NOFOLLOW
	}
	if a.dir {
		flags |= syscall.O_DIRECTORY
	}
	f, err := os.OpenFile(a.path, flags, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || uint64(st.Dev) != a.dev || uint64(st.Ino) != a.ino {
		return fmt.Errorf("changed since it was checked; run doctor again")
	}
	fd := int(f.Fd())
	if a.chown >= 0 {
		if err := syscall.Fchown(fd, a.chown, -1); err != nil {
			return fmt.Errorf("chown: %w", err)
		}
	}
	if a.setMode < 0 && a.clear == 0 {
		return nil
	}
	mode := uint32(a.setMode)
	if a.setMode < 0 {
		// Clear bits from the mode as it is now: an earlier fix (a chown, or
		// another finding on the same file) may have changed it.
		var now syscall.Stat_t
		if err := syscall.Fstat(fd, &now); err != nil {
			return err
		}
		mode = uint32(now.Mode) & 0o7777 &^ a.clear
	}
	if err := syscall.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}
