//go:build linux

package sandbox

import "golang.org/x/sys/unix"

const (
	archName  = "x86_64"
	auditArch = unix.AUDIT_ARCH_X86_64
	// x32Bit marks x32 system calls, which share the x86_64 audit
	// architecture; the filter refuses them all.
	x32Bit = 0x40000000
)
