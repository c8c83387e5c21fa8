//go:build linux && (amd64 || arm64)

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// childArg0 is the argv[0] under which the first stage (initArg0) starts
// ttsguard again to apply the sandbox: the process reads a childSpec from
// file descriptor 3, reports a failure on file descriptor 4 (closed on
// exec, so nothing means the command started), and execs the command.
const childArg0 = "ttsguard-sandbox-exec"

// maxSpec caps the childSpec the child reads.
const maxSpec = 4 << 20

// childSpec is what the re-executed ttsguard applies, in this order: close
// every inherited descriptor but 0, 1 and 2, open the Landlock rule paths
// (while still privileged), set the resource limits, drop the capability
// bounding set, setgroups([]), setresgid, setresuid, clear the ambient and
// inheritable capabilities, set the parent-death signal (after the switch:
// changing credentials clears it) and check the parent is alive, chdir to
// the scratch folder, umask 077, check the model folder can be read and
// the command reached, no_new_privs, Landlock, seccomp, unblock signals,
// execve.
type childSpec struct {
	Path       string      `json:"path"`
	Argv       []string    `json:"argv"`
	Env        []string    `json:"env"`
	Dir        string      `json:"dir"`
	Change     bool        `json:"change"`
	UID        int         `json:"uid"`
	GID        int         `json:"gid"`
	ParentPID  int         `json:"parent_pid"`
	Model      string      `json:"model"`
	Landlock   bool        `json:"landlock"`
	HandledFS  uint64      `json:"handled_fs"`
	HandledNet uint64      `json:"handled_net"`
	Scoped     uint64      `json:"scoped"`
	Rules      []childRule `json:"rules"`
	BindTCP    []int       `json:"bind_tcp"`
	Limits     Limits      `json:"limits"`
	// Reach are the files the serving user must reach to start the
	// command (the program, its #! interpreter, their link targets).
	Reach []string `json:"reach"`
	// Inputs are the declared inputs the serving user must read.
	Inputs []string `json:"inputs"`
	// Inherit is how many descriptors from firstPassed up the command
	// keeps (the memfds of a MemfdView); every other is closed on exec.
	Inherit int `json:"inherit,omitempty"`
}

type childRule struct {
	Path   string `json:"path"`
	Access uint64 `json:"access"`
}

// childError is what the child reports on file descriptor 4 before exiting.
type childError struct {
	Step  string `json:"step"`
	Error string `json:"error"`
	Errno int    `json:"errno,omitempty"`
}

func init() {
	if len(os.Args) == 1 && os.Args[0] == childArg0 {
		childMain() // never returns
	}
}

func childMain() {
	runtime.LockOSThread() // everything below applies to this thread, which execs
	var cs childSpec
	_, fail := stageStart(&cs)
	var err error
	fds := make([]int, len(cs.Rules))
	for i, r := range cs.Rules {
		if fds[i], err = unix.Open(r.Path, unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			fail("landlock", fmt.Errorf("open %q: %w", r.Path, err))
		}
	}
	if err := setLimits(cs.Limits); err != nil {
		fail("limits", err)
	}
	if err := dropPrivileges(&cs); err != nil {
		fail("privileges", err)
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		fail("parent death signal", err)
	}
	if os.Getppid() != cs.ParentPID {
		fail("parent death signal", errors.New("ttsguard exited before the command started"))
	}
	if err := syscall.Chdir(cs.Dir); err != nil {
		fail("scratch folder", fmt.Errorf("chdir %q: %w", cs.Dir, err))
	}
	syscall.Umask(0o077)
	if cs.Model != "" {
		if err := readable(cs.Model); err != nil {
			fail("model", fmt.Errorf("the serving user (uid %d, gid %d) cannot read the model folder: %w%s; `ttsguard doctor` "+
				"names the folder and `ttsguard doctor --fix` gives the store its serving group (the policy's run.group)",
				os.Getuid(), os.Getgid(), err, blocker(cs.Model, true)))
		}
	}
	for _, in := range cs.Inputs {
		if err := readable(in); err != nil {
			fail("input", fmt.Errorf("the serving user (uid %d, gid %d) cannot read the input %s: %w%s; make it and the folders "+
				"on its way readable by that user (chmod o+rX, or a group it has: the policy's run.group)",
				os.Getuid(), os.Getgid(), in, err, inputBlocker(in)))
		}
	}
	for _, p := range cs.Reach {
		if err := reachable(p); err != nil {
			fail("command", fmt.Errorf("the serving user (uid %d, gid %d) cannot start the command: %w", os.Getuid(), os.Getgid(), err))
		}
	}
	for fd := firstPassed; fd < firstPassed+cs.Inherit; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			fail("descriptors", fmt.Errorf("keep the decrypted model's descriptor %d: %w", fd, err))
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail("no_new_privs", err)
	}
	if cs.Landlock {
		if err := applyLandlock(&cs, fds); err != nil {
			fail("landlock", err)
		}
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	prog, err := buildFilter()
	if err == nil {
		err = installFilter(prog)
	}
	if err != nil {
		fail("seccomp", err)
	}
	var none unix.Sigset_t
	if _, _, e := syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(unsafe.Pointer(&none)), 0, 8, 0, 0); e != 0 {
		fail("signal mask", e)
	}
	err = syscall.Exec(cs.Path, cs.Argv, cs.Env)
	fail("exec", fmt.Errorf("%s: %w", cs.Path, err))
}

// dropPrivileges switches to the serving user and group with no
// supplementary groups (when cs.Change) and clears every capability set.
func dropPrivileges(cs *childSpec) error {
	// The bounding set can only shrink with CAP_SETPCAP: before the switch.
	for c := 0; c < 64; c++ {
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if errors.Is(err, syscall.EINVAL) {
			break // past the last capability this kernel knows
		}
		if err != nil && cs.Change {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if cs.Change {
		if err := syscall.Setgroups([]int{}); err != nil {
			return fmt.Errorf("setgroups: %w", err)
		}
		if err := syscall.Setresgid(cs.GID, cs.GID, cs.GID); err != nil {
			return fmt.Errorf("setresgid %d: %w", cs.GID, err)
		}
		if err := syscall.Setresuid(cs.UID, cs.UID, cs.UID); err != nil {
			return fmt.Errorf("setresuid %d: %w", cs.UID, err)
		}
		if os.Getuid() != cs.UID || os.Geteuid() != cs.UID || os.Getgid() != cs.GID || os.Getegid() != cs.GID {
			return errors.New("the user switch did not take effect")
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capset(&hdr, &caps[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

// inputBlocker is blocker for a declared input: a folder must be listable,
// a file's folders traversable.
func inputBlocker(p string) string {
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return blocker(filepath.Dir(p), true)
	}
	return blocker(p, true)
}

// readable checks that a folder can be opened and listed, or a file opened.
func readable(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.IsDir() {
		return nil
	}
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
