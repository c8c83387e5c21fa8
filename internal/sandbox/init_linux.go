//go:build linux && (amd64 || arm64)

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// initArg0 is the argv[0] under which ttsguard re-executes itself as the
// sandbox's first stage, the init of the command's process tree. It reads
// an initSpec from file descriptor 3, reports a failure on descriptor 4,
// and runs the second stage (childArg0) as its only child:
//
//   - it is the leader of a new session (ttsguard starts it with setsid),
//     so nothing under it has a controlling terminal;
//   - started as root, it is process 1 of a new PID namespace and runs in a
//     new mount namespace where it mounts a private tmpfs on the scratch
//     folder (invisible from outside) and a /proc of the new namespace;
//     when it exits, the kernel kills every process left in the namespace;
//   - otherwise it is a child subreaper: processes that leave the command's
//     process group or session still end up its children, and it kills
//     them all when the command ends or when ttsguard dies;
//   - it forwards the signals ttsguard forwards to the command's process
//     group, reaps every orphan, and exits with the command's status
//     (128+N for signal N).
const initArg0 = "ttsguard-sandbox-init"

// initSpec is what the first stage applies.
type initSpec struct {
	Child      *childSpec `json:"child"`
	Namespaces bool       `json:"namespaces"`
	ParentPID  int        `json:"parent_pid"`
	// Scratch is mounted as a tmpfs of ScratchSize bytes owned by UID:GID,
	// mode 0700, in the mount namespace (only with Namespaces).
	Scratch     string `json:"scratch"`
	ScratchSize int64  `json:"scratch_size"`
	UID         int    `json:"uid"`
	GID         int    `json:"gid"`
	// Files are written into the scratch tmpfs once it is mounted, and
	// Tree is built there after them (hfcache.go).
	Files map[string][]byte `json:"files,omitempty"`
	Tree  []TreeEntry       `json:"tree,omitempty"`
	// Overlays are mounted after them (overlay.go).
	Overlays []Overlay `json:"overlays,omitempty"`
	// Inherit is how many descriptors from firstPassed up (the sealed
	// memfds of a MemfdView) are passed on to the command, at the same
	// numbers.
	Inherit int `json:"inherit,omitempty"`
}

func init() {
	if len(os.Args) == 1 && os.Args[0] == initArg0 {
		initMain() // never returns
	}
}

// reportTo returns a function that writes a setup failure to status and
// exits 127.
func reportTo(status *os.File) func(step string, err error) {
	return func(step string, err error) {
		e := childError{Step: step, Error: err.Error()}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			e.Errno = int(errno)
		}
		json.NewEncoder(status).Encode(e)
		os.Exit(127)
	}
}

// closeInherited marks every descriptor from first up close-on-exec:
// descriptors the caller of ttsguard left open (a secret file, a
// supervisor's socket) never reach the command. (Closing them outright
// would also close the Go runtime's own, such as its epoll descriptor.)
func closeInherited(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL) {
		// Kernels before 5.11: mark what /proc lists.
		ents, rerr := os.ReadDir("/proc/self/fd")
		if rerr != nil {
			return rerr
		}
		for _, e := range ents {
			if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
				syscall.CloseOnExec(fd)
			}
		}
		return nil
	}
	return err
}

// stageStart is how both stages begin: the status descriptor (4) becomes
// close-on-exec and reports failures, every inherited descriptor above it
// is marked close-on-exec, and the specification is read from descriptor 3
// into spec.
func stageStart(spec any) (status *os.File, fail func(string, error)) {
	syscall.CloseOnExec(4)
	status = os.NewFile(4, "status")
	fail = reportTo(status)
	if err := closeInherited(5); err != nil {
		fail("descriptors", err)
	}
	in := os.NewFile(3, "spec")
	data, err := io.ReadAll(io.LimitReader(in, maxSpec+1))
	in.Close()
	if err == nil && len(data) > maxSpec {
		err = errors.New("specification too large")
	}
	if err == nil {
		err = json.Unmarshal(data, spec)
	}
	if err != nil {
		fail("read specification", err)
	}
	return status, fail
}

func initMain() {
	runtime.LockOSThread() // the second stage's parent-death signal follows this thread
	var is initSpec
	status, fail := stageStart(&is)
	if is.Child == nil {
		fail("read specification", errors.New("no command"))
	}
	if os.Getppid() != is.ParentPID {
		fail("parent death signal", errors.New("ttsguard exited before the command started"))
	}
	if is.Namespaces {
		if err := privateMounts(&is); err != nil {
			fail("mount namespace", err)
		}
	} else if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fail("subreaper", err)
	}
	files := []*os.File{os.Stdin, os.Stdout, os.Stderr, nil, status}
	if is.Inherit > 0 {
		// It holds the decrypted model's memfds until the command has
		// them: no other process of the user may open them through
		// /proc/PID/fd (a process that is not dumpable is the kernel's
		// "ptrace" check's to refuse).
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			fail("dumpable", err)
		}
		for i := range is.Inherit {
			files = append(files, os.NewFile(uintptr(firstPassed+i), "memfd"))
		}
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	is.Child.ParentPID = os.Getpid()
	specR, specW, err := os.Pipe()
	if err != nil {
		fail("start", err)
	}
	files[3] = specR
	proc, err := os.StartProcess("/proc/self/exe", []string{childArg0}, &os.ProcAttr{
		Dir: "/", Env: []string{},
		Files: files,
		// The command leads its own process group, to which signals go.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	specR.Close()
	if err != nil {
		fail("start", err)
	}
	for _, f := range files[5:] {
		f.Close() // the command has them
	}
	status.Close() // the second stage holds it until exec closes it
	json.NewEncoder(specW).Encode(is.Child)
	specW.Close()
	main := proc.Pid
	go func() {
		for s := range sigs {
			if os.Getppid() != is.ParentPID {
				// ttsguard is gone (its parent-death signal): nothing may
				// outlive it.
				endAll(is.Namespaces)
				os.Exit(128 + int(syscall.SIGKILL))
			}
			syscall.Kill(-main, s.(syscall.Signal))
		}
	}()
	code := 0
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			code = 127
			break
		}
		if pid == main {
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			break
		}
	}
	endAll(is.Namespaces)
	os.Exit(code)
}

// endAll kills every process left under this one. In a PID namespace the
// kernel does it when its process 1 (this one) exits; as a subreaper, every
// child is killed and reaped until none is left (the children of a killed
// process become this one's children, and are killed in the next round).
func endAll(namespace bool) {
	if namespace {
		return
	}
	self := os.Getpid()
	for {
		for _, pid := range childrenOf(self) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		_, err := syscall.Wait4(-1, nil, 0, nil)
		if errors.Is(err, syscall.ECHILD) {
			return
		}
	}
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// privateMounts makes every mount private to this namespace, mounts a tmpfs
// on the scratch folder (so that no process outside the sandbox can see or
// plant files in it) and a /proc that shows only this PID namespace.
func privateMounts(is *initSpec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// One inode per 16 KiB of the size (at least 4096): a tmpfs's default
	// inode count grows with the host's memory, and empty files take
	// kernel memory without taking space.
	inodes := max(is.ScratchSize/(16<<10), 4096)
	if is.ScratchSize == 0 {
		inodes = 0 // no limit asked for
	}
	opts := fmt.Sprintf("mode=0700,uid=%d,gid=%d,size=%d,nr_inodes=%d", is.UID, is.GID, is.ScratchSize, inodes)
	if err := unix.Mount("ttsguard-scratch", is.Scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		return fmt.Errorf("tmpfs on %q: %w", is.Scratch, err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/proc of the PID namespace: %w", err)
	}
	if err := writeFiles(is.Scratch, is.Files); err != nil {
		return err
	}
	if err := buildTree(is.Scratch, is.Tree, true); err != nil {
		return err
	}
	for _, o := range is.Overlays {
		if err := mountOverlay(o); err != nil {
			return err
		}
	}
	return nil
}

// mountOverlay mounts a tmpfs on o.Dir (in this mount namespace only),
// sized to its tree, builds the tree in it and makes it read-only.
func mountOverlay(o Overlay) error {
	var size int64 = 1 << 20
	for _, e := range o.Tree {
		size += int64(len(e.Data)) + e.Size + 4096
	}
	inodes := 2*len(o.Tree) + 64
	opts := fmt.Sprintf("mode=0555,uid=0,gid=0,size=%d,nr_inodes=%d", size, inodes)
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("ttsguard-decrypted", o.Dir, "tmpfs", flags, opts); err != nil {
		return fmt.Errorf("tmpfs on %q: %w", o.Dir, err)
	}
	if err := buildTree(o.Dir, o.Tree, true); err != nil {
		return fmt.Errorf("decrypted model in %q: %w", o.Dir, err)
	}
	if err := unix.Mount("", o.Dir, "", flags|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("read-only tmpfs on %q: %w", o.Dir, err)
	}
	return nil
}

// writeFiles writes files into dir, read-only (0444), refusing to replace
// anything (names are single path components, checked by Prepare).
func writeFiles(dir string, files map[string][]byte) error {
	for name, data := range files {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o444)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		if err == nil {
			err = f.Chmod(0o444) // whatever the umask: the serving user reads it
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
