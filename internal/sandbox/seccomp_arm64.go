//go:build linux

package sandbox

import "golang.org/x/sys/unix"

const (
	archName  = "aarch64"
	auditArch = unix.AUDIT_ARCH_AARCH64
	x32Bit    = 0 // no second ABI to refuse
)
