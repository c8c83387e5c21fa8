//go:build linux && (amd64 || arm64)

package sandbox

import (
	"encoding/binary"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompData encodes struct seccomp_data for x/net/bpf's VM, which loads
// words big-endian: each 32-bit word is stored so that the VM reads the
// value the kernel would read on this little-endian machine.
func seccompData(arch, nr uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[offNr:], nr)
	binary.BigEndian.PutUint32(b[offArch:], arch)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[argLow(i):], uint32(a))
		binary.BigEndian.PutUint32(b[argHigh(i):], uint32(a>>32))
	}
	return b
}

func TestFilter(t *testing.T) {
	prog, err := buildFilter()
	if err != nil {
		t.Fatal(err)
	}
	var ins []bpf.Instruction
	for _, r := range prog {
		ins = append(ins, r.Disassemble())
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	eperm, enosys := retErrno|uint32(syscall.EPERM), retErrno|uint32(syscall.ENOSYS)
	eproto := retErrno | uint32(syscall.EPROTONOSUPPORT)
	eafno := retErrno | uint32(syscall.EAFNOSUPPORT)
	tests := []struct {
		name string
		data []byte
		want uint32
	}{
		{"read", seccompData(auditArch, unix.SYS_READ), retAllow},
		{"execve", seccompData(auditArch, unix.SYS_EXECVE), retAllow},
		{"other arch", seccompData(0x40000003, unix.SYS_READ), retKillProcess},
		{"ptrace", seccompData(auditArch, unix.SYS_PTRACE, unix.PTRACE_TRACEME), eperm},
		{"unshare", seccompData(auditArch, unix.SYS_UNSHARE, unix.CLONE_NEWUSER), eperm},
		{"connect", seccompData(auditArch, unix.SYS_CONNECT), eperm},
		{"clone3", seccompData(auditArch, unix.SYS_CLONE3), enosys},
		{"clone thread", seccompData(auditArch, unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|unix.CLONE_THREAD|unix.CLONE_SYSVSEM|unix.CLONE_SETTLS|unix.CLONE_PARENT_SETTID|unix.CLONE_CHILD_CLEARTID), retAllow},
		{"fork", seccompData(auditArch, unix.SYS_CLONE, uint64(syscall.SIGCHLD)|unix.CLONE_CHILD_SETTID|unix.CLONE_CHILD_CLEARTID), retAllow},
		{"clone newuser", seccompData(auditArch, unix.SYS_CLONE, unix.CLONE_NEWUSER|uint64(syscall.SIGCHLD)), eperm},
		{"clone newnet", seccompData(auditArch, unix.SYS_CLONE, unix.CLONE_NEWNET), eperm},
		{"clone newns high bits", seccompData(auditArch, unix.SYS_CLONE, 1<<40|unix.CLONE_NEWNS), eperm},
		{"send", seccompData(auditArch, unix.SYS_SENDTO, 3, 0, 10, 0, 0, 0), retAllow},
		{"sendto address", seccompData(auditArch, unix.SYS_SENDTO, 3, 0, 10, 0, 0x7ffe0000, 16), eperm},
		{"sendto high address", seccompData(auditArch, unix.SYS_SENDTO, 3, 0, 10, 0, 0x7f00000000, 16), eperm},
		{"tcp", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0), retAllow},
		{"tcp6", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_STREAM, unix.IPPROTO_TCP), retAllow},
		{"udp", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_UDP), eproto},
		{"udp6 default", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0), eproto},
		{"prlimit self", seccompData(auditArch, unix.SYS_PRLIMIT64, 0, unix.RLIMIT_NOFILE, 0, 0x7ffe0000), retAllow},
		{"prlimit other", seccompData(auditArch, unix.SYS_PRLIMIT64, 1234, unix.RLIMIT_NOFILE, 0x7ffe0000, 0), eperm},
		{"prlimit high pid", seccompData(auditArch, unix.SYS_PRLIMIT64, 1<<32, unix.RLIMIT_NOFILE, 0x7ffe0000, 0), eperm},
		{"setpriority self", seccompData(auditArch, unix.SYS_SETPRIORITY, 0, 0, 10), retAllow},
		{"setpriority user", seccompData(auditArch, unix.SYS_SETPRIORITY, 2, 1000, 19), eperm},
		{"setpriority other", seccompData(auditArch, unix.SYS_SETPRIORITY, 0, 1234, 19), eperm},
		{"ioprio self", seccompData(auditArch, unix.SYS_IOPRIO_SET, 1, 0, 0x6000), retAllow},
		{"ioprio user", seccompData(auditArch, unix.SYS_IOPRIO_SET, 3, 1000, 0x6000), eperm},
		{"mptcp", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP), eproto},
		{"sctp", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET6, unix.SOCK_SEQPACKET, 0), eproto},
		{"ping", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP), eproto},
		{"raw", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_TCP), eproto},
		{"unix", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_UNIX, unix.SOCK_STREAM, 0), eafno},
		{"socketpair unix", seccompData(auditArch, unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_STREAM, 0, 0x7ffe0000), retAllow},
		{"vsock", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_VSOCK, unix.SOCK_STREAM, 0), eafno},
		{"netlink", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE), eafno},
		{"packet", seccompData(auditArch, unix.SYS_SOCKET, unix.AF_PACKET, unix.SOCK_RAW, 0), eafno},
		{"socketpair netlink", seccompData(auditArch, unix.SYS_SOCKETPAIR, unix.AF_NETLINK, unix.SOCK_RAW, 0), eafno},
		{"ioctl TIOCSTI", seccompData(auditArch, unix.SYS_IOCTL, 2, unix.TIOCSTI, 0x7ffe0000), eperm},
		{"ioctl TIOCSTI high bits", seccompData(auditArch, unix.SYS_IOCTL, 2, 1<<32|unix.TIOCSTI, 0x7ffe0000), eperm},
		{"ioctl TIOCSPGRP", seccompData(auditArch, unix.SYS_IOCTL, 0, unix.TIOCSPGRP, 0x7ffe0000), eperm},
		{"ioctl TIOCSCTTY", seccompData(auditArch, unix.SYS_IOCTL, 0, unix.TIOCSCTTY, 1), eperm},
		{"ioctl TIOCLINUX", seccompData(auditArch, unix.SYS_IOCTL, 0, unix.TIOCLINUX, 0x7ffe0000), eperm},
		{"ioctl TCGETS", seccompData(auditArch, unix.SYS_IOCTL, 1, unix.TCGETS, 0x7ffe0000), retAllow},
		{"ioctl FIONREAD", seccompData(auditArch, unix.SYS_IOCTL, 5, unix.TIOCINQ, 0x7ffe0000), retAllow},
		{"personality query", seccompData(auditArch, unix.SYS_PERSONALITY, 0xffffffff), retAllow},
		{"personality default", seccompData(auditArch, unix.SYS_PERSONALITY, 0), retAllow},
		{"personality no ASLR", seccompData(auditArch, unix.SYS_PERSONALITY, 0x0040000), eperm},
		{"personality exec", seccompData(auditArch, unix.SYS_PERSONALITY, 0x0400000), eperm},
	}
	for _, d := range deniedSyscalls {
		tests = append(tests, struct {
			name string
			data []byte
			want uint32
		}{d.name, seccompData(auditArch, d.nr), eperm})
	}
	if x32Bit != 0 {
		tests = append(tests, struct {
			name string
			data []byte
			want uint32
		}{"x32 read", seccompData(auditArch, x32Bit|0), enosys})
	}
	for _, tt := range tests {
		got, err := vm.Run(tt.data)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if uint32(got) != tt.want {
			t.Errorf("%s: got %#x, want %#x", tt.name, got, tt.want)
		}
	}
	if len(prog) > 255 {
		t.Errorf("filter has %d instructions", len(prog))
	}
}
