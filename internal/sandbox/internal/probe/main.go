//go:build linux

// Command probe is started under the sandbox by internal/sandbox's tests. It
// tries what the sandbox must deny and what it must allow, and prints one
// JSON object: each check's result ("ok" or the error number's name), its
// identity and environment.
//
//	probe checks -secret F -outside D -model D -connect ADDR -port N
//	    run every check, print the JSON object and "LISTENING" once it
//	    listens on -port (when given), answer one connection and exit 0
//	probe exit N          exit with status N
//	probe kill SIGNAL     kill itself with signal number SIGNAL
//	probe wait-signal     print "READY", exit 40+N on signal N (SIGTERM, SIGUSR1, SIGINT)
//	probe terminal        attack the terminal: TIOCSTI on 0, 1, 2 and /dev/tty,
//	                      take the foreground (tcsetpgrp) ignoring SIGTTOU, write
//	                      escape sequences; print one JSON object
//	probe spawn TOKEN     start two "linger TOKEN" processes, one in a session
//	                      of its own (setsid), one in the probe's group, print
//	                      "SPAWNED" and wait for a signal (exit 0 on SIGTERM)
//	probe linger TOKEN    sleep until killed
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parent death signal belongs to the thread that exec'd the probe; the
// threads the Go runtime starts later have none. Stay on that thread so
// PR_GET_PDEATHSIG reads what the sandbox set (otherwise the read is 0 when
// the main goroutine happens to move).
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe checks|exit|kill|wait-signal ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "exit":
		n, _ := strconv.Atoi(os.Args[2])
		os.Exit(n)
	case "kill":
		n, _ := strconv.Atoi(os.Args[2])
		signal.Reset()
		syscall.Kill(os.Getpid(), syscall.Signal(n))
		select {}
	case "wait-signal":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGINT)
		fmt.Println("READY")
		s := <-ch
		os.Exit(40 + int(s.(syscall.Signal)))
	case "checks":
		checks(os.Args[2:])
	case "terminal":
		terminal()
	case "spawn":
		spawn(os.Args[2])
	case "linger":
		for {
			time.Sleep(time.Hour)
		}
	}
}

// result names an error by its errno ("EACCES"), or "ok".
func result(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if n := unix.ErrnoName(errno); n != "" {
			return n
		}
	}
	return err.Error()
}

func errnoResult(r uintptr, e syscall.Errno) string {
	if e != 0 {
		return result(e)
	}
	return "ok (" + strconv.Itoa(int(r)) + ")"
}

func checks(args []string) {
	fl := flag.NewFlagSet("checks", flag.ExitOnError)
	secret := fl.String("secret", "", "a file outside the allowed paths")
	outside := fl.String("outside", "", "a world-writable folder outside the allowed paths")
	model := fl.String("model", "", "the model folder")
	connect := fl.String("connect", "", "a TCP address listening on loopback")
	inherited := fl.Int("fd", -1, "a descriptor the caller of ttsguard left open")
	port := fl.Int("port", 0, "the allowed port")
	fl.Parse(args)
	r := map[string]any{}
	_, err := os.ReadFile(*secret)
	r["read_secret"] = result(err)
	r["write_model"] = result(os.WriteFile(filepath.Join(*model, "injected.pth"), []byte("x"), 0o644))
	r["write_outside"] = result(os.WriteFile(filepath.Join(*outside, "dropped"), []byte("x"), 0o644))
	_, err = os.ReadFile(filepath.Join(*model, "config.json"))
	r["read_model"] = result(err)
	home := os.Getenv("HOME")
	r["write_home"] = result(os.WriteFile(filepath.Join(home, "cache.bin"), []byte("x"), 0o600))
	c, err := net.Dial("tcp", *connect)
	if err == nil {
		c.Close()
	}
	r["connect_loopback"] = result(err)
	r["udp_sendto"] = udpSend(*connect)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_MPTCP)
	if err == nil {
		unix.Close(fd)
	}
	r["mptcp_socket"] = result(err)
	r["listen_unbound"] = listenUnbound()
	_, _, e := syscall.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)
	r["ptrace_traceme"] = errnoResult(0, e)
	r["unshare_user"] = result(unix.Unshare(unix.CLONE_NEWUSER))
	r["clone_newuser"] = cloneNewUser()
	var cl [88]byte // struct clone_args, zeroed
	rv, _, e := syscall.RawSyscall(unix.SYS_CLONE3, uintptr(unsafe.Pointer(&cl)), unsafe.Sizeof(cl), 0)
	if e == 0 && rv == 0 {
		unix.Exit(0) // the child of an unexpected success
	}
	r["clone3"] = errnoResult(rv, e)
	r["mount"] = result(unix.Mount("none", home, "tmpfs", 0, ""))
	rv, _, e = syscall.RawSyscall(unix.SYS_BPF, 0, 0, 0)
	r["bpf"] = errnoResult(rv, e)
	var params [120]byte
	rv, _, e = syscall.RawSyscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
	r["io_uring_setup"] = errnoResult(rv, e)
	if *port > 0 {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(*port+1))
		if err == nil {
			l.Close()
		}
		r["bind_other_port"] = result(err)
	}
	r["exec_system"] = result(exec.Command("/bin/true").Run())
	if *inherited >= 0 {
		buf := make([]byte, 64)
		_, err := unix.Read(*inherited, buf)
		r["read_inherited_fd"] = result(err)
	}
	r["open_fds"] = openFDs()
	r["vsock_socket"] = socketResult(unix.AF_VSOCK, unix.SOCK_STREAM, 0)
	r["netlink_socket"] = socketResult(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE)
	r["packet_socket"] = socketResult(unix.AF_PACKET, unix.SOCK_RAW, 0)
	r["unix_socket"] = socketResult(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	for _, f := range []string{"/proc/self/net/tcp", "/proc/net/tcp", "/proc/self/mountinfo", "/proc/self/mounts", "/proc/self/status"} {
		_, err := os.ReadFile(f)
		r["read "+f] = result(err)
	}
	tid := strconv.Itoa(unix.Gettid())
	_, err = os.ReadFile("/proc/self/task/" + tid + "/net/tcp")
	r["read /proc/self/task/TID/net/tcp"] = result(err)
	rv, _, e = syscall.RawSyscall(unix.SYS_PERSONALITY, 0x0040000, 0, 0) // ADDR_NO_RANDOMIZE
	r["personality_no_aslr"] = errnoResult(rv, e)
	rv, _, e = syscall.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	r["personality_query"] = errnoResult(0, e)
	r["memfd_exec"] = memfdExec()
	// The attack review's: a resource limit set on the sandbox's init (it
	// would stop its cleanup), all of the user's processes reniced, System V
	// shared memory (outlives the run), watching host folders.
	r["prlimit_parent"] = result(unix.Prlimit(os.Getppid(), unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 0, Max: 0}, nil))
	r["setpriority_user"] = result(unix.Setpriority(unix.PRIO_USER, 0, 19))
	_, err = unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	r["shmget"] = result(err)
	if ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC); err == nil {
		_, err = unix.InotifyAddWatch(ifd, "/tmp", unix.IN_ALL_EVENTS)
		r["inotify_watch"] = result(err)
		unix.Close(ifd)
	} else {
		r["inotify_watch"] = "init: " + result(err)
	}
	r["exec_scratch"] = execCopy(home)
	r["identity"] = identity()
	r["env"] = os.Environ()
	r["cwd"], _ = os.Getwd()
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	if *port > 0 {
		serve(*port)
	}
}

// openFDs lists the probe's descriptors above 2 that point to something
// the probe did not open itself (not a Go runtime pipe or epoll, not the
// listing of /proc/self/fd).
func openFDs() []string {
	out := []string{}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return []string{"list: " + result(err)}
	}
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		if n <= 2 {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || strings.HasPrefix(target, "anon_inode:") || target == "/proc/"+strconv.Itoa(os.Getpid())+"/fd" {
			continue
		}
		out = append(out, e.Name()+" -> "+target)
	}
	return out
}

func socketResult(family, typ, proto int) string {
	fd, err := unix.Socket(family, typ, proto)
	if err == nil {
		unix.Close(fd)
	}
	return result(err)
}

// memfdExec writes /bin/true into an anonymous memory file and executes it
// with execveat(2) in a child process: a way to run a binary from no path
// Landlock can see.
func memfdExec() string {
	fd, err := unix.MemfdCreate("payload", 0)
	if err != nil {
		// Also try execveat alone on an ordinary file descriptor.
		tfd, oerr := unix.Open("/bin/true", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if oerr != nil {
			return "memfd_create: " + result(err) + "; open: " + result(oerr)
		}
		defer unix.Close(tfd)
		return "memfd_create: " + result(err) + "; execveat: " + execveatChild(tfd)
	}
	defer unix.Close(fd)
	data, _ := os.ReadFile("/bin/true")
	unix.Write(fd, data)
	return "memfd_create: ok; execveat: " + execveatChild(fd)
}

// execveatChild forks; the child execveat(2)s fd and reports errno as its
// exit status (0: the program ran and exited 0).
func execveatChild(fd int) string {
	empty, _ := unix.BytePtrFromString("")
	argv := []*byte{empty, nil}
	env := []*byte{nil}
	pid, _, e := syscall.RawSyscall(unix.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if e != 0 {
		return "fork: " + result(e)
	}
	if pid == 0 {
		_, _, e := syscall.RawSyscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(empty)),
			uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&env[0])), unix.AT_EMPTY_PATH, 0)
		unix.Exit(int(e))
	}
	var ws syscall.WaitStatus
	syscall.Wait4(int(pid), &ws, 0, nil)
	if ws.ExitStatus() == 0 {
		return "ok (the program ran)"
	}
	return result(syscall.Errno(ws.ExitStatus()))
}

// terminal attacks the operator's terminal through every descriptor the
// probe holds and through /dev/tty.
func terminal() {
	signal.Ignore(syscall.SIGTTOU, syscall.SIGTTIN)
	r := map[string]any{}
	fds := map[string]int{"0": 0, "1": 1, "2": 2}
	if fd, err := unix.Open("/dev/tty", unix.O_RDWR, 0); err == nil {
		fds["/dev/tty"] = fd
		r["open /dev/tty"] = "ok"
	} else {
		r["open /dev/tty"] = result(err)
	}
	for name, fd := range fds {
		var injected []string
		for _, c := range []byte("id\n") {
			b := c
			_, _, e := syscall.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSTI, uintptr(unsafe.Pointer(&b)))
			injected = append(injected, errnoResult(0, e))
		}
		r["tiocsti "+name] = injected[0]
		r["tcsetpgrp "+name] = result(unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpgrp()))
		_, _, e := syscall.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCSCTTY, 1)
		r["tiocsctty "+name] = errnoResult(0, e)
	}
	out, _ := json.Marshal(r)
	// An escape sequence that sets the window title; C1 ones, one of them
	// started on standard output and finished on standard error; a raw
	// 8-bit control sequence introducer; then the result.
	fmt.Print("\x1b]0;pwned\x07")
	os.Stdout.Write([]byte("\xc2\x9b6n\xc2"))
	os.Stderr.Write([]byte("\x9d0;c1title\xc2\x9c\x9b8m"))
	fmt.Println(string(out))
}

// spawn starts two lingering processes and waits for SIGTERM.
func spawn(token string) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	self, _ := os.Executable()
	for _, setsid := range []bool{true, false} {
		c := exec.Command(self, "linger", token)
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid}
		if err := c.Start(); err != nil {
			fmt.Println("SPAWN FAILED:", err)
			os.Exit(3)
		}
	}
	fmt.Println("SPAWNED")
	<-ch
	os.Exit(0)
}

func udpSend(addr string) string {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err.Error()
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		return "socket: " + result(err)
	}
	defer syscall.Close(fd)
	sa := &syscall.SockaddrInet4{Port: ua.Port}
	copy(sa.Addr[:], ua.IP.To4())
	return result(syscall.Sendto(fd, []byte("exfiltrated"), 0, sa))
}

// listenUnbound listens on a TCP socket that was never bound: the kernel
// picks a port without calling bind(2).
func listenUnbound() string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return "socket: " + result(err)
	}
	defer unix.Close(fd)
	if err := unix.Listen(fd, 1); err != nil {
		return result(err)
	}
	sa, _ := unix.Getsockname(fd)
	if in, ok := sa.(*unix.SockaddrInet4); ok {
		return "ok (port " + strconv.Itoa(in.Port) + ")"
	}
	return "ok"
}

// cloneNewUser asks clone(2) for a new user namespace; a child that
// unexpectedly exists leaves at once.
func cloneNewUser() string {
	r, _, e := syscall.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if e == 0 && r == 0 {
		unix.Exit(0)
	}
	if e == 0 {
		var ws syscall.WaitStatus
		syscall.Wait4(int(r), &ws, 0, nil)
	}
	return errnoResult(r, e)
}

// execCopy copies /bin/true into dir and tries to run the copy.
func execCopy(dir string) string {
	data, err := os.ReadFile("/bin/true")
	if err != nil {
		return "read /bin/true: " + result(err)
	}
	p := filepath.Join(dir, "true-copy")
	if err := os.WriteFile(p, data, 0o700); err != nil {
		return "write: " + result(err)
	}
	err = exec.Command(p).Run()
	var pe *os.PathError
	if errors.As(err, &pe) {
		return result(pe.Err)
	}
	return result(err)
}

func identity() map[string]any {
	groups, _ := os.Getgroups()
	id := map[string]any{"uid": os.Getuid(), "euid": os.Geteuid(), "gid": os.Getgid(), "egid": os.Getegid(), "groups": groups}
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		switch k {
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "SigBlk":
			if ok {
				id[k] = strings.TrimSpace(v)
			}
		}
	}
	var sig int32
	if _, _, e := syscall.RawSyscall(unix.SYS_PRCTL, unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0); e != 0 {
		sig = -1
	}
	id["pdeathsig"] = sig
	return id
}

func serve(port int) {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Println("LISTEN FAILED:", result(err))
		os.Exit(3)
	}
	fmt.Println("LISTENING")
	c, err := l.Accept()
	if err != nil {
		os.Exit(4)
	}
	c.Write([]byte("hello from the sandbox\n"))
	c.Close()
	l.Close()
}
