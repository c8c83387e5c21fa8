//go:build linux && (amd64 || arm64)

package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var modelFiles = map[string]string{"config.json": `{"model": "vits"}`, "model_file.pth": "weights"}

// freePort returns a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestProbe starts the probe under the sandbox: everything it must not do is
// denied, serving on the allowed port works, and it runs unprivileged with a
// reduced environment.
func TestProbe(t *testing.T) {
	probe := buildProbe(t)
	base := openDir(t)
	root, model := testStore(t, base, "probe/model", modelFiles, nogroup)
	secret := filepath.Join(base, "secret.txt")
	if err := os.WriteFile(secret, []byte("do not read"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(base, "outside")
	if err := os.Mkdir(outside, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(outside, 0o777)
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := freePort(t)
	// A descriptor the caller left open (not close-on-exec), as a shell's
	// 7<secret.txt or a supervisor's socket would be.
	leaked, err := syscall.Open(secret, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(leaked)
	p, err := Prepare(Spec{
		Model: model,
		Command: []string{probe, "checks", "-secret", secret, "-outside", outside, "-model", "{model}",
			"-connect", target.Addr().String(), "-port", strconv.Itoa(port), "-fd", strconv.Itoa(leaked)},
		Port: port, GroupFrom: root,
		Environ: []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C", "SECRET_TOKEN=x", "TERM=xterm"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Command[7] != model {
		t.Errorf("{model} not replaced: %q", p.Command)
	}
	out := newLines()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, err := Run(context.Background(), p, IO{Stdout: out.w, Stderr: os.Stderr})
		out.w.Close()
		done <- result{code, err}
	}()
	r := decodeJSON(t, out.next(t, 30*time.Second))
	if l := out.next(t, 10*time.Second); l != "LISTENING" {
		t.Fatalf("probe: %s", l)
	}
	if os.Geteuid() == 0 {
		// Item 6: the scratch folder the command writes to (its HOME) is a
		// tmpfs of its own mount namespace: from outside, the folder is
		// empty, and nothing planted there reaches the command.
		if ents, err := os.ReadDir(p.Scratch); err != nil || len(ents) != 0 {
			t.Errorf("the scratch folder is visible from outside: %v %v", ents, err)
		}
		if st, err := os.Stat(p.Scratch); err != nil || st.Sys().(*syscall.Stat_t).Uid != 0 || st.Mode().Perm() != 0o700 {
			t.Errorf("the scratch folder outside must be root's, 0700: %v %v", st, err)
		}
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("connect to the sandboxed server: %v", err)
	}
	hello, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if hello != "hello from the sandbox\n" {
		t.Errorf("server said %q", hello)
	}
	res := <-done
	if res.err != nil || res.code != 0 {
		t.Fatalf("Run: %d %v", res.code, res.err)
	}
	t.Logf("probe results: %v", r)

	wantRes := map[string]string{
		"read_model": "ok", "write_home": "ok", "exec_system": "ok",
		"connect_loopback": "EPERM", "udp_sendto": "socket: EPROTONOSUPPORT", "ptrace_traceme": "EPERM", "unshare_user": "EPERM",
		"clone_newuser": "EPERM", "clone3": "ENOSYS", "mptcp_socket": "EPROTONOSUPPORT", "mount": "EPERM", "bpf": "EPERM", "io_uring_setup": "EPERM",
		// Item 4: inherited descriptors; 5: socket families, personality; 9: memfd execution.
		"read_inherited_fd": "EBADF", "vsock_socket": "EAFNOSUPPORT", "netlink_socket": "EAFNOSUPPORT",
		"packet_socket": "EAFNOSUPPORT", "unix_socket": "EAFNOSUPPORT", "personality_no_aslr": "EPERM", "personality_query": "ok (0)",
		"memfd_exec": "memfd_create: EPERM; execveat: EPERM",
		// The attack review: prlimit on the init, renice of the user, SysV IPC, inotify.
		"prlimit_parent": "EPERM", "setpriority_user": "EPERM", "shmget": "EPERM", "inotify_watch": "EPERM",
	}
	if p.Landlock.Enforced {
		wantRes["read_secret"] = "EACCES"
		wantRes["write_outside"] = "EACCES"
		wantRes["write_model"] = "EACCES"
		wantRes["exec_scratch"] = "EACCES"
		// Item 5: the host's sockets and mounts stay hidden.
		for _, f := range []string{"/proc/self/net/tcp", "/proc/net/tcp", "/proc/self/mountinfo", "/proc/self/mounts", "/proc/self/task/TID/net/tcp"} {
			wantRes["read "+f] = "EACCES"
		}
		wantRes["read /proc/self/status"] = "ok"
	} else {
		t.Logf("Landlock is not available on this kernel: the filesystem checks are skipped (%v)", p.Landlock.NotEnforced)
	}
	if p.Landlock.Network {
		wantRes["bind_other_port"] = "EACCES"
	} else {
		t.Log("Landlock ABI < 4: the bind check is skipped")
	}
	for k, v := range wantRes {
		if r[k] != v {
			t.Errorf("%s: got %v, want %s", k, r[k], v)
		}
	}
	if fds, _ := r["open_fds"].([]any); len(fds) != 0 {
		t.Errorf("the command holds descriptors it did not open: %v", fds)
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the loopback listener accepted %d connections from the sandbox", n)
	}

	id := r["identity"].(map[string]any)
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb", "SigBlk"} {
		if id[k] != "0000000000000000" {
			t.Errorf("%s = %v, want none", k, id[k])
		}
	}
	if os.Geteuid() == 0 && id["CapBnd"] != "0000000000000000" {
		t.Errorf("CapBnd = %v, want none", id["CapBnd"])
	}
	if id["NoNewPrivs"] != "1" || id["Seccomp"] != "2" || id["pdeathsig"] != float64(syscall.SIGKILL) {
		t.Errorf("no_new_privs %v, seccomp %v, parent death signal %v", id["NoNewPrivs"], id["Seccomp"], id["pdeathsig"])
	}
	if os.Geteuid() == 0 {
		if !isDynamicUID(id["uid"]) || id["euid"] != id["uid"] || id["gid"] != float64(nogroup) || id["egid"] != float64(nogroup) {
			t.Errorf("identity %v, want a dynamic user and nogroup", id)
		}
		if g, _ := id["groups"].([]any); len(g) != 0 {
			t.Errorf("supplementary groups %v, want none", g)
		}
	} else {
		t.Log("not root: the user switch is not tested (CI runs as root)")
	}
	names := envNames(r["env"].([]any))
	slices.Sort(names)
	want := []string{"HOME", "LANG", "LC_ALL", "PATH", "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "TMPDIR", "TTSGUARD_MODEL"}
	if os.Geteuid() == 0 {
		want = append(want, "LOGNAME", "USER")
		slices.Sort(want)
	}
	if !slices.Equal(names, want) {
		t.Errorf("environment %q, want %q", names, want)
	}
	if r["cwd"] != p.Scratch || filepath.Dir(p.Scratch) != os.TempDir() {
		t.Errorf("working folder %v, scratch %q", r["cwd"], p.Scratch)
	}
	if _, err := os.Stat(p.Scratch); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the scratch folder was not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "dropped")); err == nil && p.Landlock.Enforced {
		t.Error("the probe wrote outside")
	}
}

// isDynamicUID reports whether a JSON number is a user id from DynamicUIDs.
func isDynamicUID(v any) bool {
	f, ok := v.(float64)
	return ok && f >= float64(DynamicUIDs[0]) && f <= float64(DynamicUIDs[1])
}

// TestExitStatus: exit codes pass through; a signal N gives 128+N.
func TestExitStatus(t *testing.T) {
	probe := buildProbe(t)
	root, model := testStore(t, openDir(t), "m", modelFiles, nogroup)
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"exit", "0"}, 0},
		{[]string{"exit", "7"}, 7},
		{[]string{"kill", strconv.Itoa(int(syscall.SIGTERM))}, 128 + int(syscall.SIGTERM)},
		{[]string{"kill", strconv.Itoa(int(syscall.SIGKILL))}, 128 + int(syscall.SIGKILL)},
	} {
		p, err := Prepare(Spec{Model: model, Command: append([]string{probe}, tt.args...), GroupFrom: root})
		if err != nil {
			t.Fatal(err)
		}
		code, err := Run(context.Background(), p, IO{Stderr: os.Stderr})
		if err != nil || code != tt.want {
			t.Errorf("%v: got %d %v, want %d", tt.args, code, err, tt.want)
		}
	}
}

// TestSignalForwarding: a signal ttsguard receives reaches the command.
func TestSignalForwarding(t *testing.T) {
	probe := buildProbe(t)
	root, model := testStore(t, openDir(t), "m", modelFiles, nogroup)
	for _, sig := range []syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT} {
		p, err := Prepare(Spec{Model: model, Command: []string{probe, "wait-signal"}, GroupFrom: root})
		if err != nil {
			t.Fatal(err)
		}
		out := newLines()
		sigs := make(chan os.Signal, 1)
		done := make(chan int, 1)
		go func() {
			code, err := Run(context.Background(), p, IO{Stdout: out.w, Stderr: os.Stderr, Signals: sigs})
			if err != nil {
				t.Error(err)
			}
			out.w.Close()
			done <- code
		}()
		if l := out.next(t, 30*time.Second); l != "READY" {
			t.Fatalf("probe: %s", l)
		}
		sigs <- sig
		if code := <-done; code != 40+int(sig) {
			t.Errorf("%v: exit %d, want %d", sig, code, 40+int(sig))
		}
	}
}

// TestModelUnreadable: a store the serving user cannot traverse is reported
// before anything runs, with the fix.
func TestModelUnreadable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test switches to nobody (CI runs as root)")
	}
	probe := buildProbe(t)
	root, model := testStore(t, openDir(t), "m", modelFiles, 0) // store group root, 0750
	for _, d := range []string{root, filepath.Join(root, "models"), filepath.Join(root, "models", "m")} {
		if err := os.Chmod(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	p, err := Prepare(Spec{Model: model, Command: []string{probe, "exit", "0"}, GroupFrom: root})
	if err != nil {
		t.Fatal(err)
	}
	if p.Identity.Group != "nogroup" || p.Identity.GroupFrom != "default" {
		t.Errorf("identity %+v", p.Identity)
	}
	_, err = Run(context.Background(), p, IO{})
	var se *SetupError
	if !errors.As(err, &se) || se.Step != "model" || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("got %v", err)
	}
}

// TestSetupErrors: what cannot be started is an error before anything runs.
func TestSetupErrors(t *testing.T) {
	base := openDir(t)
	root, model := testStore(t, base, "m", modelFiles, nogroup)
	if os.Geteuid() == 0 {
		// A program in a folder only root may enter: nobody cannot execute it.
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		hidden := filepath.Join(dir, "probe")
		data, err := os.ReadFile(buildProbe(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(hidden, data, 0o755); err != nil {
			t.Fatal(err)
		}
		p, err := Prepare(Spec{Model: model, Command: []string{hidden, "exit", "0"}, GroupFrom: root})
		if err != nil {
			t.Fatal(err)
		}
		_, err = Run(context.Background(), p, IO{})
		var se *SetupError
		// The error names the folder that blocks the serving user.
		if !errors.As(err, &se) || se.Step != "command" || !strings.Contains(se.Msg, "the folder "+dir+" on its way is not traversable") {
			t.Errorf("hidden program: %v", err)
		}
	}
	if _, err := Prepare(Spec{Model: model, Command: []string{"no-such-program-ttsguard"}}); !errors.Is(err, ErrSpec) {
		t.Errorf("missing program: %v", err)
	}
	if _, err := Prepare(Spec{Model: filepath.Join(base, "none"), Command: []string{"/bin/true"}}); !errors.Is(err, ErrSpec) {
		t.Errorf("missing model: %v", err)
	}
	if _, err := Prepare(Spec{Model: model, Command: []string{"/bin/true"}, AllowRead: []string{filepath.Join(base, "none")}}); !errors.Is(err, ErrSpec) {
		t.Errorf("missing allowed path: %v", err)
	}
	if _, err := Prepare(Spec{Model: model, Command: []string{"/bin/true"}, Port: 70000}); !errors.Is(err, ErrSpec) {
		t.Errorf("bad port: %v", err)
	}
}
