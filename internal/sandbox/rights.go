package sandbox

import (
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// Landlock filesystem rights, by name, in bit order.
var fsRightNames = []struct {
	bit  uint64
	name string
}{
	{ll.AccessFSExecute, "execute"},
	{ll.AccessFSWriteFile, "write_file"},
	{ll.AccessFSReadFile, "read_file"},
	{ll.AccessFSReadDir, "read_dir"},
	{ll.AccessFSRemoveDir, "remove_dir"},
	{ll.AccessFSRemoveFile, "remove_file"},
	{ll.AccessFSMakeChar, "make_char"},
	{ll.AccessFSMakeDir, "make_dir"},
	{ll.AccessFSMakeReg, "make_reg"},
	{ll.AccessFSMakeSock, "make_sock"},
	{ll.AccessFSMakeFifo, "make_fifo"},
	{ll.AccessFSMakeBlock, "make_block"},
	{ll.AccessFSMakeSym, "make_sym"},
	{ll.AccessFSRefer, "refer"},
	{ll.AccessFSTruncate, "truncate"},
	{ll.AccessFSIoctlDev, "ioctl_dev"},
}

// Rights granted by the rules.
const (
	rightsRead     = ll.AccessFSReadFile | ll.AccessFSReadDir
	rightsReadExec = rightsRead | ll.AccessFSExecute
	rightsFileExec = ll.AccessFSReadFile | ll.AccessFSExecute
	// rightsScratch: everything but execute, devices and ioctl.
	rightsScratch = ll.AccessFSWriteFile | ll.AccessFSReadFile | ll.AccessFSReadDir | ll.AccessFSRemoveDir |
		ll.AccessFSRemoveFile | ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSMakeSock | ll.AccessFSMakeFifo |
		ll.AccessFSMakeSym | ll.AccessFSRefer | ll.AccessFSTruncate
	rightsDevNull = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSTruncate
	// rightsDevice: a device the command drives (a GPU): read, write, ioctl.
	rightsDevice = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSIoctlDev
	// rightsFileOnly are the rights a rule on a file (not a folder) may hold.
	rightsFileOnly = ll.AccessFSExecute | ll.AccessFSWriteFile | ll.AccessFSReadFile | ll.AccessFSTruncate | ll.AccessFSIoctlDev
)

// maxKnownABI is the newest Landlock ABI whose rights ttsguard uses; a newer
// kernel is used at this level (its newer rights are reported as unused).
const maxKnownABI = 8

// handledFS returns the filesystem rights an ABI version can restrict.
func handledFS(abi int) uint64 {
	switch {
	case abi <= 0:
		return 0
	case abi == 1:
		return ll.AccessFSRefer - 1 // execute .. make_sym
	case abi == 2:
		return ll.AccessFSTruncate - 1
	case abi <= 4:
		return ll.AccessFSIoctlDev - 1
	}
	return ll.AccessFSIoctlDev<<1 - 1
}

// handledNet returns the network rights an ABI version can restrict.
func handledNet(abi int) uint64 {
	if abi >= 4 {
		return ll.AccessNetBindTCP | ll.AccessNetConnectTCP
	}
	return 0
}

// scopes returns the IPC scopes an ABI version can restrict.
func scopes(abi int) uint64 {
	if abi >= 6 {
		return ll.ScopeAbstractUnixSocket | ll.ScopeSignal
	}
	return 0
}

// rightNames lists the names of the rights in mask.
func rightNames(mask uint64) []string {
	var out []string
	for _, r := range fsRightNames {
		if mask&r.bit != 0 {
			out = append(out, r.name)
		}
	}
	return out
}

// notEnforced lists what a kernel with this Landlock ABI cannot restrict
// (rights ttsguard would ask for and older kernels do not know).
func notEnforced(abi int, reason string) []string {
	if abi <= 0 {
		return []string{"Landlock: " + reason + "; no filesystem, network or IPC restriction by Landlock: the command is " +
			"confined only by the user drop, file modes and the seccomp filter (which still denies connect(2))"}
	}
	var out []string
	if abi < 2 {
		out = append(out, "refer (ABI 2): files cannot be renamed or linked across folders at all, even inside the scratch folder")
	}
	if abi < 3 {
		out = append(out, "truncate (ABI 3): truncate(2) and O_TRUNC are not restricted on files the serving user may write")
	}
	if abi < 4 {
		out = append(out, "network (ABI 4): bind(2) is not restricted to the serving port; connect(2) is still denied by the seccomp filter")
	}
	if abi < 5 {
		out = append(out, "ioctl_dev (ABI 5): ioctl(2) on device files opened later is not restricted")
	}
	if abi < 6 {
		out = append(out, "scopes (ABI 6): signals to other processes of the serving user and abstract unix sockets are not restricted (connect(2) is still denied by the seccomp filter)")
	}
	if abi > maxKnownABI {
		out = append(out, "rights newer than ABI 8 are not used (ttsguard does not know them yet)")
	}
	return out
}
