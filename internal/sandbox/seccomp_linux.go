//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// seccompSupported says whether this build has a seccomp filter for its
// architecture.
const seccompSupported = true

// deniedSyscalls are refused with EPERM whatever their arguments: nothing a
// TTS server does needs them. Reasons, by group: debugging and reading other
// processes' memory (ptrace, process_vm_*, pidfd_getfd, process_madvise);
// mounts and namespaces (mount API old and new, unshare, setns, chroot,
// pivot_root); the kernel itself (modules, kexec, bpf, perf, reboot, swap,
// acct); kernel keyrings; userfaultfd (a common exploit primitive);
// file handles that bypass path checks (open_by_handle_at); io_uring (its
// operations do not pass through this filter); and outbound traffic
// (connect, sendmsg, sendmmsg: a server answers on sockets it accepted).
var deniedSyscalls = []struct {
	name string
	nr   uint32
}{
	{"ptrace", unix.SYS_PTRACE},
	{"process_vm_readv", unix.SYS_PROCESS_VM_READV},
	{"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV},
	{"pidfd_getfd", unix.SYS_PIDFD_GETFD},
	{"process_madvise", unix.SYS_PROCESS_MADVISE},
	{"mount", unix.SYS_MOUNT},
	{"umount2", unix.SYS_UMOUNT2},
	{"fsopen", unix.SYS_FSOPEN},
	{"fsconfig", unix.SYS_FSCONFIG},
	{"fsmount", unix.SYS_FSMOUNT},
	{"fspick", unix.SYS_FSPICK},
	{"move_mount", unix.SYS_MOVE_MOUNT},
	{"open_tree", unix.SYS_OPEN_TREE},
	{"mount_setattr", unix.SYS_MOUNT_SETATTR},
	{"unshare", unix.SYS_UNSHARE},
	{"setns", unix.SYS_SETNS},
	{"pivot_root", unix.SYS_PIVOT_ROOT},
	{"chroot", unix.SYS_CHROOT},
	{"kexec_load", unix.SYS_KEXEC_LOAD},
	{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD},
	{"init_module", unix.SYS_INIT_MODULE},
	{"finit_module", unix.SYS_FINIT_MODULE},
	{"delete_module", unix.SYS_DELETE_MODULE},
	{"bpf", unix.SYS_BPF},
	{"perf_event_open", unix.SYS_PERF_EVENT_OPEN},
	{"keyctl", unix.SYS_KEYCTL},
	{"add_key", unix.SYS_ADD_KEY},
	{"request_key", unix.SYS_REQUEST_KEY},
	{"userfaultfd", unix.SYS_USERFAULTFD},
	{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT},
	{"name_to_handle_at", unix.SYS_NAME_TO_HANDLE_AT},
	{"reboot", unix.SYS_REBOOT},
	{"swapon", unix.SYS_SWAPON},
	{"swapoff", unix.SYS_SWAPOFF},
	{"acct", unix.SYS_ACCT},
	{"io_uring_setup", unix.SYS_IO_URING_SETUP},
	{"io_uring_enter", unix.SYS_IO_URING_ENTER},
	{"io_uring_register", unix.SYS_IO_URING_REGISTER},
	{"connect", unix.SYS_CONNECT},
	{"sendmsg", unix.SYS_SENDMSG},
	{"sendmmsg", unix.SYS_SENDMMSG},
	{"memfd_create", unix.SYS_MEMFD_CREATE},
	{"memfd_secret", unix.SYS_MEMFD_SECRET},
	{"execveat", unix.SYS_EXECVEAT},
	// System V IPC: its objects outlive the run, pin host memory and are
	// shared with the host when there is no IPC namespace.
	{"shmget", unix.SYS_SHMGET},
	{"shmat", unix.SYS_SHMAT},
	{"shmctl", unix.SYS_SHMCTL},
	{"shmdt", unix.SYS_SHMDT},
	{"msgget", unix.SYS_MSGGET},
	{"msgsnd", unix.SYS_MSGSND},
	{"msgrcv", unix.SYS_MSGRCV},
	{"msgctl", unix.SYS_MSGCTL},
	{"semget", unix.SYS_SEMGET},
	{"semop", unix.SYS_SEMOP},
	{"semtimedop", unix.SYS_SEMTIMEDOP},
	{"semctl", unix.SYS_SEMCTL},
	// Watching host files: Landlock does not mediate inotify or fanotify,
	// which report names and opens of files outside the sandbox.
	{"inotify_add_watch", unix.SYS_INOTIFY_ADD_WATCH},
	{"fanotify_init", unix.SYS_FANOTIFY_INIT},
	{"fanotify_mark", unix.SYS_FANOTIFY_MARK},
	{"syslog", unix.SYS_SYSLOG},
}

// Calls allowed only on the calling process itself (who/pid 0): on any
// other process of the same user they would reach outside the sandbox
// (a resource limit set on ttsguard's first stage or on another process of
// the caller, all of the caller's processes reniced).
const (
	prioProcess    = 0 // PRIO_PROCESS
	ioprioWhoProc  = 1 // IOPRIO_WHO_PROCESS
	seccompPrlimit = "prlimit64 on another process: EPERM (getrlimit and setrlimit on itself pass)"
)

// deniedIoctls are terminal requests refused with EPERM on any descriptor:
// pushing characters into a terminal's input (TIOCSTI, TIOCLINUX's paste
// and console selection), taking a terminal as the controlling one
// (TIOCSCTTY), moving its foreground process group (TIOCSPGRP), redirecting
// the console (TIOCCONS) and changing the line discipline (TIOCSETD, a
// common kernel exploit entry). The command has no controlling terminal and
// its output goes through pipes; this is the second wall.
var deniedIoctls = []struct {
	name string
	cmd  uint32
}{
	{"TIOCSTI", unix.TIOCSTI},
	{"TIOCSCTTY", unix.TIOCSCTTY},
	{"TIOCSPGRP", unix.TIOCSPGRP},
	{"TIOCLINUX", unix.TIOCLINUX},
	{"TIOCCONS", unix.TIOCCONS},
	{"TIOCSETD", unix.TIOCSETD},
}

// personalityQuery is personality(0xffffffff): it reads the persona and
// changes nothing.
const personalityQuery = 0xffffffff

// perLinux is PER_LINUX, the default persona.
const perLinux = 0

// cloneNamespaceFlags are the clone(2) flags that create namespaces
// (CLONE_NEWTIME shares its bit with the exit signal in clone(2), and only
// clone3 and unshare take it: both are refused).
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// Return values of a seccomp filter.
const (
	retAllow       = 0x7fff0000 // SECCOMP_RET_ALLOW
	retErrno       = 0x00050000 // SECCOMP_RET_ERRNO | errno
	retKillProcess = 0x80000000 // SECCOMP_RET_KILL_PROCESS
)

// Offsets in struct seccomp_data: nr (int), arch (u32), instruction
// pointer (u64), args[6] (u64). Argument words are in the machine's byte
// order; amd64 and arm64 are little-endian, so the low half comes first.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

func argLow(i int) uint32  { return uint32(offArgs + 8*i) }
func argHigh(i int) uint32 { return uint32(offArgs + 8*i + 4) }

// seccompPlan describes the filter for the plan.
func seccompPlan() Seccomp {
	s := Seccomp{Enforced: true, Arch: archName, OtherArch: "kill the process"}
	for _, d := range deniedSyscalls {
		s.DenyEPERM = append(s.DenyEPERM, d.name)
	}
	s.DenyENOSYS = []string{"clone3 (so that libc falls back to clone, whose flags the filter can see)"}
	if x32Bit != 0 {
		s.DenyENOSYS = append(s.DenyENOSYS, "every x32 system call")
	}
	s.Conditional = []string{
		"clone with a namespace flag (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET): EPERM",
		"sendto with a destination address (datagrams to anywhere): EPERM; send on a connected socket is allowed",
		"socket for IPv4 or IPv6 other than TCP (UDP, MPTCP, SCTP, ping, raw; Landlock's TCP rules do not cover them): EPROTONOSUPPORT",
		"socket of a family other than AF_INET and AF_INET6, socketpair of one other than AF_UNIX (unix sockets could squat abstract names; netlink, vsock, packet, ...): EAFNOSUPPORT",
		seccompPrlimit, "setpriority other than PRIO_PROCESS of itself, ioprio_set other than IOPRIO_WHO_PROCESS of itself: EPERM",
		"personality other than a query or the default persona (no ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ...): EPERM",
	}
	for _, i := range deniedIoctls {
		s.Conditional = append(s.Conditional, "ioctl "+i.name+" (terminal input, controlling terminal, foreground group, console, line discipline): EPERM")
	}
	return s
}

// asm is a tiny assembler for classic BPF with forward jumps to labels.
type asm struct {
	ins    []bpf.Instruction
	jumps  map[int][2]string // instruction index -> labels (true, false); "" = next
	labels map[string]int
}

func (a *asm) emit(i bpf.Instruction) { a.ins = append(a.ins, i) }

func (a *asm) label(name string) { a.labels[name] = len(a.ins) }

// jump emits a conditional jump to label t when the condition holds, else to f.
func (a *asm) jump(cond bpf.JumpTest, val uint32, t, f string) {
	a.jumps[len(a.ins)] = [2]string{t, f}
	a.emit(bpf.JumpIf{Cond: cond, Val: val})
}

func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	for pc, l := range a.jumps {
		j := a.ins[pc].(bpf.JumpIf)
		skip := func(label string) (uint8, error) {
			if label == "" {
				return 0, nil
			}
			to, ok := a.labels[label]
			if !ok || to <= pc || to-pc-1 > 255 {
				return 0, fmt.Errorf("seccomp: bad jump from %d to %q", pc, label)
			}
			return uint8(to - pc - 1), nil
		}
		var err error
		if j.SkipTrue, err = skip(l[0]); err != nil {
			return nil, err
		}
		if j.SkipFalse, err = skip(l[1]); err != nil {
			return nil, err
		}
		a.ins[pc] = j
	}
	return bpf.Assemble(a.ins)
}

// buildFilter returns the seccomp program: architecture check (kill on any
// other), x32 refused, clone3 refused with ENOSYS, clone with namespace
// flags, sendto with an address, deniedIoctls and personality changes
// refused with EPERM, socket families other than allowedFamilies refused
// with EAFNOSUPPORT, deniedSyscalls refused with EPERM, everything else
// allowed.
func buildFilter() ([]bpf.RawInstruction, error) {
	a := &asm{jumps: map[int][2]string{}, labels: map[string]int{}}
	a.emit(bpf.LoadAbsolute{Off: offArch, Size: 4})
	a.jump(bpf.JumpEqual, auditArch, "", "kill")
	a.emit(bpf.LoadAbsolute{Off: offNr, Size: 4})
	if x32Bit != 0 {
		a.jump(bpf.JumpBitsSet, x32Bit, "enosys", "")
	}
	a.jump(bpf.JumpEqual, unix.SYS_CLONE3, "enosys", "")
	a.jump(bpf.JumpEqual, unix.SYS_CLONE, "clone", "")
	a.jump(bpf.JumpEqual, unix.SYS_SENDTO, "sendto", "")
	a.jump(bpf.JumpEqual, unix.SYS_SOCKET, "socket", "")
	a.jump(bpf.JumpEqual, unix.SYS_SOCKETPAIR, "socketpair", "")
	a.jump(bpf.JumpEqual, unix.SYS_IOCTL, "ioctl", "")
	a.jump(bpf.JumpEqual, unix.SYS_PERSONALITY, "personality", "")
	a.jump(bpf.JumpEqual, unix.SYS_PRLIMIT64, "self0", "")
	a.jump(bpf.JumpEqual, unix.SYS_SETPRIORITY, "setpriority", "")
	a.jump(bpf.JumpEqual, unix.SYS_IOPRIO_SET, "ioprio", "")
	for _, d := range deniedSyscalls {
		a.jump(bpf.JumpEqual, d.nr, "eperm", "")
	}
	a.emit(bpf.RetConstant{Val: retAllow})

	// clone(flags, ...): only the low 32 bits of flags count.
	a.label("clone")
	a.emit(bpf.LoadAbsolute{Off: argLow(0), Size: 4})
	a.jump(bpf.JumpBitsSet, cloneNamespaceFlags, "eperm", "")
	a.emit(bpf.RetConstant{Val: retAllow})

	// sendto(fd, buf, len, flags, dest_addr, addrlen): dest_addr must be NULL.
	a.label("sendto")
	a.emit(bpf.LoadAbsolute{Off: argLow(4), Size: 4})
	a.jump(bpf.JumpEqual, 0, "", "eperm")
	a.emit(bpf.LoadAbsolute{Off: argHigh(4), Size: 4})
	a.jump(bpf.JumpEqual, 0, "", "eperm")
	a.emit(bpf.RetConstant{Val: retAllow})

	// socket(domain, type, protocol): IPv4 and IPv6 sockets only as TCP or
	// UDP, the protocols Landlock and this filter know: MPTCP, SCTP and
	// others would escape Landlock's TCP rules.
	// socket(domain, type, protocol): TCP over IPv4 and IPv6 only, the
	// protocol Landlock's network rules know (MPTCP, SCTP, UDP and others
	// would escape them; no datagram could be sent anyway). A unix socket
	// from socket(2) could only bind (connect is refused), which would let
	// the command squat an abstract name host programs connect to: refused;
	// socketpair(2) of unix sockets is allowed.
	a.label("socket")
	a.emit(bpf.LoadAbsolute{Off: argLow(0), Size: 4})
	a.jump(bpf.JumpEqual, unix.AF_INET, "inet", "")
	a.jump(bpf.JumpEqual, unix.AF_INET6, "inet", "")
	a.emit(bpf.RetConstant{Val: retErrno | uint32(syscall.EAFNOSUPPORT)})
	a.label("socketpair")
	a.emit(bpf.LoadAbsolute{Off: argLow(0), Size: 4})
	a.jump(bpf.JumpEqual, unix.AF_UNIX, "allow", "")
	a.emit(bpf.RetConstant{Val: retErrno | uint32(syscall.EAFNOSUPPORT)})
	a.label("inet")
	a.emit(bpf.LoadAbsolute{Off: argLow(1), Size: 4})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf}) // the type without SOCK_NONBLOCK, SOCK_CLOEXEC
	a.jump(bpf.JumpEqual, unix.SOCK_STREAM, "proto", "eprotonosupport")
	a.label("proto")
	a.emit(bpf.LoadAbsolute{Off: argLow(2), Size: 4})
	a.jump(bpf.JumpEqual, 0, "allow", "")
	a.jump(bpf.JumpEqual, unix.IPPROTO_TCP, "allow", "eprotonosupport")

	// ioctl(fd, request, ...): the kernel reads request as an unsigned
	// int, so only the low 32 bits count (high bits cannot hide a request).
	a.label("ioctl")
	a.emit(bpf.LoadAbsolute{Off: argLow(1), Size: 4})
	for _, i := range deniedIoctls {
		a.jump(bpf.JumpEqual, i.cmd, "eperm", "")
	}
	a.emit(bpf.RetConstant{Val: retAllow})

	// personality(persona): the kernel reads an unsigned int.
	a.label("personality")
	a.emit(bpf.LoadAbsolute{Off: argLow(0), Size: 4})
	a.jump(bpf.JumpEqual, personalityQuery, "allow", "")
	a.jump(bpf.JumpEqual, perLinux, "allow", "eperm")

	// prlimit64(pid, ...): pid 0 only (the 64-bit pid_t is an int: the
	// low word decides, the high word must be 0 too).
	a.label("self0")
	a.emit(bpf.LoadAbsolute{Off: argLow(0), Size: 4})
	a.jump(bpf.JumpEqual, 0, "", "eperm")
	a.emit(bpf.LoadAbsolute{Off: argHigh(0), Size: 4})
	a.jump(bpf.JumpEqual, 0, "allow", "eperm")

	// setpriority(which, who, prio): PRIO_PROCESS of itself only.
	a.label("setpriority")
	a.emit(bpf.LoadAbsolute{Off: argLow(0), Size: 4})
	a.jump(bpf.JumpEqual, prioProcess, "", "eperm")
	a.emit(bpf.LoadAbsolute{Off: argLow(1), Size: 4})
	a.jump(bpf.JumpEqual, 0, "allow", "eperm")

	// ioprio_set(which, who, ioprio): IOPRIO_WHO_PROCESS of itself only.
	a.label("ioprio")
	a.emit(bpf.LoadAbsolute{Off: argLow(0), Size: 4})
	a.jump(bpf.JumpEqual, ioprioWhoProc, "", "eperm")
	a.emit(bpf.LoadAbsolute{Off: argLow(1), Size: 4})
	a.jump(bpf.JumpEqual, 0, "allow", "eperm")

	a.label("allow")
	a.emit(bpf.RetConstant{Val: retAllow})

	a.label("eprotonosupport")
	a.emit(bpf.RetConstant{Val: retErrno | uint32(syscall.EPROTONOSUPPORT)})
	a.label("eperm")
	a.emit(bpf.RetConstant{Val: retErrno | uint32(syscall.EPERM)})
	a.label("enosys")
	a.emit(bpf.RetConstant{Val: retErrno | uint32(syscall.ENOSYS)})
	a.label("kill")
	a.emit(bpf.RetConstant{Val: retKillProcess})
	return a.assemble()
}

// installFilter loads the filter on the calling thread (no TSYNC: the
// caller execs from this thread). no_new_privs must be set.
func installFilter(prog []bpf.RawInstruction) error {
	fs := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		fs[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fp := unix.SockFprog{Len: uint16(len(fs)), Filter: &fs[0]}
	_, _, e := syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fp)))
	if e != 0 {
		return e
	}
	return nil
}
