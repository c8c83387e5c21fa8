//go:build linux && (amd64 || arm64)

package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// envOperator makes the test binary an operator's ttsguard: it runs the
// Spec in this variable (JSON) with its own standard streams and exits with
// the command's status (see operatorMain).
const envOperator = "TTSGUARD_TEST_OPERATOR"

// operatorMain is called by TestMain: it prints "STARTED" on stderr once
// the command runs.
func operatorMain(spec string) {
	var s Spec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		os.Exit(120)
	}
	p, err := Prepare(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		os.Exit(121)
	}
	code, err := Run(context.Background(), p, IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Started: func(int) { fmt.Fprintln(os.Stderr, "STARTED") }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		os.Exit(122)
	}
	os.Exit(code)
}

// operator returns the test binary started as an operator running spec.
func operator(t *testing.T, spec Spec) *exec.Cmd {
	t.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envOperator+"="+string(data))
	return cmd
}

// openPTY returns a new pseudo-terminal's master and the path of its slave.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), "ptmx"), "/dev/pts/" + strconv.Itoa(n)
}

// TestTerminal runs the terminal attacks of issue 9 (items 1 and 2) under
// `run` started from a shell's terminal: the operator's ttsguard has a
// pseudo-terminal as its controlling terminal and standard streams. The
// command must not be able to push input into it (TIOCSTI), take its
// foreground (tcsetpgrp), make it its controlling terminal, or send it raw
// escape sequences.
func TestTerminal(t *testing.T) {
	probe := buildProbe(t)
	base := openDir(t)
	root, model := testStore(t, base, "tty/model", modelFiles, nogroup)
	master, slavePath := openPTY(t)
	defer master.Close()
	slave, err := os.OpenFile(slavePath, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	var out bytes.Buffer
	var mu sync.Mutex
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	cmd := operator(t, Spec{Model: model, Command: []string{probe, "terminal"}, GroupFrom: root})
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if err != nil {
		t.Errorf("operator: %v", err)
	}
	// What is waiting in the terminal's input queue is what the
	// operator's shell would read and run next.
	queued, err := unix.IoctlGetInt(int(slave.Fd()), unix.TIOCINQ)
	if err != nil {
		t.Fatal(err)
	}
	if queued != 0 {
		pending := make([]byte, queued)
		syscall.SetNonblock(int(slave.Fd()), true)
		n, _ := slave.Read(pending)
		t.Errorf("the command pushed %d bytes into the operator's terminal input: %q", queued, pending[:n])
	}
	time.Sleep(100 * time.Millisecond)
	slave.Close()
	master.SetReadDeadline(time.Now().Add(2 * time.Second))
	<-readDone
	mu.Lock()
	text := out.String()
	mu.Unlock()
	if strings.Contains(text, "\x1b]0;pwned") {
		t.Errorf("a raw escape sequence reached the terminal: %q", text)
	}
	if !strings.Contains(text, "^[]0;pwned^G") || !strings.Contains(text, "\\u009b6n") || !strings.Contains(text, "\\u009d0;c1title") {
		t.Errorf("the escaped sequences are missing from the output: %q", text)
	}
	if i := strings.IndexFunc(text, func(r rune) bool { return r >= 0x80 || r == 0x1b }); i >= 0 {
		t.Errorf("a raw escape or 8-bit byte reached the terminal at %d: %q", i, text)
	}
	i := strings.Index(text, "{")
	if i < 0 {
		t.Fatalf("no result from the probe: %q", text)
	}
	var r map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(text[i:strings.LastIndex(text, "}")+1])), &r); err != nil {
		t.Fatalf("probe output %q: %v", text, err)
	}
	t.Logf("terminal attacks: %v", r)
	if r["open /dev/tty"] == "ok" {
		t.Error("the command opened /dev/tty: it has a controlling terminal")
	}
	for k, v := range r {
		if strings.HasPrefix(k, "tiocsti") || strings.HasPrefix(k, "tcsetpgrp") || strings.HasPrefix(k, "tiocsctty") {
			if v == "ok" || strings.HasPrefix(v.(string), "ok ") {
				t.Errorf("%s: %v", k, v)
			}
		}
	}
}

// lingering lists the "probe linger token" processes.
func lingering(token string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cl, []byte("linger\x00"+token)) {
			stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
				continue // a zombie already dead, not yet reaped
			}
			out = append(out, e.Name()+": "+strings.ReplaceAll(string(cl), "\x00", " "))
		}
	}
	return out
}

// noneLeft fails when a process holding token is alive after d.
func noneLeft(t *testing.T, token string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := lingering(token)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes outlived the sandbox: %q", left)
			for _, l := range left {
				pid, _ := strconv.Atoi(strings.SplitN(l, ":", 2)[0])
				syscall.Kill(pid, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNoSurvivors (issue 9, item 3): processes the command starts, one of
// them in a session of its own, end when the command ends, and when the
// operator's ttsguard is killed with SIGKILL.
func TestNoSurvivors(t *testing.T) {
	probe := buildProbe(t)
	base := openDir(t)
	root, model := testStore(t, base, "survivors/model", modelFiles, nogroup)
	t.Run("command exits", func(t *testing.T) {
		token := fmt.Sprintf("ttsguard-token-exit-%d", time.Now().UnixNano())
		p, err := Prepare(Spec{Model: model, Command: []string{probe, "spawn", token}, GroupFrom: root})
		if err != nil {
			t.Fatal(err)
		}
		out := newLines()
		sigs := make(chan os.Signal, 1)
		done := make(chan error, 1)
		go func() {
			_, err := Run(context.Background(), p, IO{Stdout: out.w, Stderr: os.Stderr, Signals: sigs})
			out.w.Close()
			done <- err
		}()
		if l := out.next(t, 30*time.Second); l != "SPAWNED" {
			t.Fatalf("probe: %s", l)
		}
		if left := lingering(token); len(left) != 2 {
			t.Errorf("want the two lingering processes running, got %q", left)
		}
		sigs <- syscall.SIGTERM // the probe exits 0; its children stay behind
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		noneLeft(t, token, 2*time.Second)
	})
	t.Run("ttsguard killed", func(t *testing.T) {
		token := fmt.Sprintf("ttsguard-token-kill-%d", time.Now().UnixNano())
		cmd := operator(t, Spec{Model: model, Command: []string{probe, "spawn", token}, GroupFrom: root})
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line := make([]byte, 8)
		if _, err := stdout.Read(line); err != nil || string(line) != "SPAWNED\n" {
			t.Fatalf("probe: %q %v", line, err)
		}
		if left := lingering(token); len(left) != 2 {
			t.Errorf("want the two lingering processes running, got %q", left)
		}
		cmd.Process.Kill()
		var ee *exec.ExitError
		if err := cmd.Wait(); !errors.As(err, &ee) {
			t.Fatalf("operator: %v", err)
		}
		noneLeft(t, token, 5*time.Second)
	})
}

// TestServeAsStoreOwner (issue 9, item 7): started by the user who owns the
// store, ttsguard cannot switch users, so the command would own the store:
// run refuses, naming the owner.
func TestServeAsStoreOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the store to another user (CI runs as root)")
	}
	const owner = 4242
	base := openDir(t)
	root, model := testStore(t, base, "owned/model", modelFiles, -1)
	filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			os.Lchown(p, owner, owner)
		}
		return nil
	})
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "ttsguard-test")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := operator(t, Spec{Model: model, Command: []string{"/bin/true"}, GroupFrom: root})
	cmd.Path = bin
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: owner, Gid: owner}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 122 || !strings.Contains(string(out), "the owner of "+root) {
		t.Errorf("run as the store's owner: %v: %s", err, out)
	}
	// A user who does not own the store may run it (the command keeps
	// that user: ttsguard was not started as root).
	cmd = operator(t, Spec{Model: model, Command: []string{"/bin/true"}, GroupFrom: root})
	cmd.Path = bin
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: owner + 1, Gid: owner}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("run as another user: %v: %s", err, out)
	}
}

// TestVenvOnPythonUnderRoot (issue 15, item 2; issue 9, item 14): a virtual
// environment on a pyenv Python under /root, which the serving user cannot
// traverse: the error names /root and the fix, not "permission denied".
func TestVenvOnPythonUnderRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the serving user must differ from /root's owner")
	}
	pys, _ := filepath.Glob("/root/.pyenv/versions/3.*/bin/python3")
	if len(pys) == 0 {
		t.Skip("no pyenv Python under /root here")
	}
	venv := filepath.Join(openDir(t), "venv")
	if out, err := exec.Command(pys[0], "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Skipf("%s -m venv: %v: %s", pys[0], err, out)
	}
	base := openDir(t)
	root, model := testStore(t, base, "venv/model", modelFiles, nogroup)
	p, err := Prepare(Spec{Model: model, Command: []string{filepath.Join(venv, "bin", "python3"), "-c", "print(1)"}, GroupFrom: root})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range p.Landlock.Rules {
		found = found || strings.HasPrefix(pys[0], r.Path+"/") && strings.HasPrefix(r.Path, "/root/.pyenv/versions/")
	}
	if !found {
		t.Errorf("the pyenv installation is not among the rules: %+v", p.Landlock.Rules)
	}
	_, err = Run(context.Background(), p, IO{})
	var se *SetupError
	if !errors.As(err, &se) || se.Step != "command" || !strings.Contains(se.Msg, "the folder /root on its way is not traversable") ||
		!strings.Contains(se.Msg, "outside /root") {
		t.Errorf("got %v", err)
	}
}
