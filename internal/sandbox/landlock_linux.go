//go:build linux && (amd64 || arm64)

package sandbox

import (
	"errors"
	"fmt"
	"syscall"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// landlockABI returns the kernel's Landlock ABI version, or 0 and why not.
func landlockABI() (int, string) {
	v, err := ll.LandlockGetABIVersion()
	switch {
	case err == nil:
		return v, ""
	case errors.Is(err, syscall.ENOSYS):
		return 0, "this kernel has no Landlock (ENOSYS)"
	case errors.Is(err, syscall.EOPNOTSUPP):
		return 0, "Landlock is disabled on this kernel (EOPNOTSUPP; add landlock to the lsm= boot parameter)"
	}
	return 0, fmt.Sprintf("Landlock ABI query failed: %v", err)
}

// applyLandlock restricts the calling thread (the caller execs from it):
// the rules are opened file descriptors (O_PATH) with their rights.
func applyLandlock(cs *childSpec, fds []int) error {
	attr := ll.RulesetAttr{HandledAccessFS: cs.HandledFS, HandledAccessNet: cs.HandledNet, Scoped: cs.Scoped}
	rs, err := ll.LandlockCreateRuleset(&attr, 0)
	if err != nil {
		return fmt.Errorf("landlock_create_ruleset: %w", err)
	}
	defer unix.Close(rs)
	for i, r := range cs.Rules {
		if err := ll.LandlockAddPathBeneathRule(rs, &ll.PathBeneathAttr{AllowedAccess: r.Access, ParentFd: fds[i]}, 0); err != nil {
			return fmt.Errorf("landlock_add_rule %q: %w", r.Path, err)
		}
	}
	for _, p := range cs.BindTCP {
		if err := ll.LandlockAddNetPortRule(rs, &ll.NetPortAttr{AllowedAccess: ll.AccessNetBindTCP, Port: uint64(p)}, 0); err != nil {
			return fmt.Errorf("landlock_add_rule bind port %d: %w", p, err)
		}
	}
	if err := ll.LandlockRestrictSelf(rs, 0); err != nil {
		return fmt.Errorf("landlock_restrict_self: %w", err)
	}
	return nil
}
