//go:build linux && (amd64 || arm64)

package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// supported says whether Run works on this system.
const supported = true

// waitDelay bounds how long Run waits for the command's output once the
// sandbox's first stage has exited (and with it every process of the
// command).
const waitDelay = 2 * time.Second

// IO connects the command to the caller.
type IO struct {
	Stdin          io.Reader // nil: /dev/null
	Stdout, Stderr io.Writer // nil: discarded
	// Signals replaces the process's own signals as what is forwarded to
	// the command (for tests); nil: SIGINT, SIGTERM, SIGHUP, SIGQUIT,
	// SIGUSR1 and SIGUSR2 sent to this process are forwarded.
	Signals <-chan os.Signal
	// Started, when set, is called with the command's process id once the
	// sandbox is applied and the command runs.
	Started func(pid int)
	// Forwarded, when set, is called with each signal passed on to the
	// command.
	Forwarded func(os.Signal)
}

// SetupError says that the sandbox could not be applied: nothing of the
// command ran. It wraps the system error, if any.
type SetupError struct {
	Step  string
	Msg   string
	Errno syscall.Errno
}

func (e *SetupError) Error() string { return "sandbox: " + e.Step + ": " + e.Msg }

// Unwrap returns the system error (such as EACCES), or nil.
func (e *SetupError) Unwrap() error {
	if e.Errno != 0 {
		return e.Errno
	}
	return nil
}

// Run applies the plan and runs its command to the end. It creates the
// scratch folder, picks the serving user (a fresh one for this run when the
// plan's identity is dynamic), and re-executes ttsguard (/proc/self/exe)
// as the sandbox's first stage (see initArg0) in a session of its own, as
// root in new PID and mount namespaces; that stage starts the second
// (childArg0), which applies the sandbox and execs the command. The
// command's output is relayed through pipes (control characters escaped
// when the destination is a terminal); a terminal is never its input.
// Forwarded signals go to the command's process group; when the command
// ends, every process it started is killed. Run returns the command's exit
// status (128+N when killed by signal N). A *SetupError means the command
// never started. ctx only cancels before the start: once running, the
// command is stopped with signals, not by ctx.
func Run(ctx context.Context, p *Plan, stdio IO) (code int, err error) {
	if p.Path == "" {
		return 0, fmt.Errorf("%w: no command", ErrSpec)
	}
	if p.Identity.Problem != "" {
		return 0, fmt.Errorf("%w: %s", ErrSpec, p.Identity.Problem)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if p.Identity.Dynamic {
		uid, release, err := dynamicUID()
		if err != nil {
			return 0, err
		}
		defer release()
		p.Identity.UID = uid
	}
	scratch, err := os.MkdirTemp(p.scratchParent, "ttsguard-run-")
	if err != nil {
		return 0, fmt.Errorf("scratch folder: %w", err)
	}
	defer os.RemoveAll(scratch)
	if err := os.Chmod(scratch, 0o700); err != nil {
		return 0, fmt.Errorf("scratch folder: %w", err)
	}
	ns := p.Process.namespaces
	if p.Identity.Change && !ns {
		if err := os.Chown(scratch, p.Identity.UID, p.Identity.GID); err != nil {
			return 0, fmt.Errorf("scratch folder: %w", err)
		}
	}
	p.Scratch = scratch
	if err := p.prepareOutput(); err != nil {
		return 0, err
	}
	defer func() {
		if oerr := p.finishOutput(); oerr != nil && err == nil {
			err = oerr
		}
	}()
	is := &initSpec{
		Child: p.childSpec(scratch), Namespaces: ns, ParentPID: os.Getpid(),
		Scratch: scratch, ScratchSize: p.Limits.Scratch, UID: p.Identity.UID, GID: p.Identity.GID,
	}
	var overlayFiles []*os.File // descriptors 5, 6, ... of the first stage
	var ownFiles []*os.File     // those of them Run made (the others are its caller's)
	defer func() { closeAll(ownFiles) }()
	switch {
	case ns:
		is.Files, is.Tree = p.files, p.tree // written into the tmpfs once it is mounted
		if is.Overlays, overlayFiles, ownFiles, err = overlayDescriptors(p.overlays, firstPassed); err != nil {
			return 0, err
		}
	case p.view != nil:
		// The command inherits the view's memfds; the scratch files (the
		// config copy holds the model's plaintext) are memfds too, linked
		// from the scratch folder.
		if ownFiles, err = linkMemfds(scratch, p.files, firstPassed+len(p.view.files)); err != nil {
			return 0, fmt.Errorf("scratch folder: %w", err)
		}
		overlayFiles = append(append(overlayFiles, p.view.files...), ownFiles...)
		is.Child.Inherit, is.Inherit = len(overlayFiles), len(overlayFiles)
	default:
		err = writeFiles(scratch, p.files)
	}
	if err == nil && !ns {
		err = buildTree(scratch, p.tree, false)
	}
	if err != nil {
		return 0, fmt.Errorf("scratch folder: %w", err)
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return 0, err
	}
	defer statusR.Close()
	// In a PID namespace, SIGKILL of its init ends everything in it; a
	// subreaper needs a signal it can catch to kill its descendants first.
	attr := &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if ns {
		is.ParentPID = 0 // the parent of a PID namespace's process 1 is outside: getppid says 0
		attr.Cloneflags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC
		attr.Pdeathsig = syscall.SIGKILL
	}
	stdout, stderr := relays(stdio.Stdout, stdio.Stderr)
	for _, w := range []io.Writer{stdout, stderr} {
		if c, ok := w.(io.Closer); ok {
			defer c.Close() // after Wait: what an escaper still holds
		}
	}
	cmd := &exec.Cmd{
		Path: "/proc/self/exe", Args: []string{initArg0}, Env: []string{}, Dir: "/",
		Stdin: commandInput(stdio.Stdin), Stdout: stdout, Stderr: stderr,
		ExtraFiles:  append([]*os.File{specR, statusW}, overlayFiles...),
		SysProcAttr: attr,
		// Bounds the wait for the relayed output once the sandbox ended.
		WaitDelay: waitDelay,
	}
	sigs, stopSignals := stdio.Signals, func() {}
	if sigs == nil {
		ch := make(chan os.Signal, 8)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		sigs, stopSignals = ch, func() { signal.Stop(ch) }
	}
	defer stopSignals()
	started, waited := make(chan error, 1), make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the
		// child exits: keep this one until the child is reaped.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			waited <- cmd.Wait()
		}
	}()
	err = <-started
	specR.Close()
	statusW.Close()
	if err != nil {
		specW.Close()
		return 0, fmt.Errorf("start the sandbox: %w", err)
	}
	if ns {
		// The first stage holds the decrypted model's memfds now and frees
		// each once it is in the tmpfs: this process keeps none (the
		// overlays' Files are spent).
		closeAll(ownFiles)
		ownFiles = nil
		CloseOverlays(p.overlays)
	}
	pid := cmd.Process.Pid
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				if sig, ok := s.(syscall.Signal); ok {
					syscall.Kill(pid, sig) // the first stage passes it to the command's group
					if stdio.Forwarded != nil {
						stdio.Forwarded(sig)
					}
				}
			case <-done:
				return
			}
		}
	}()
	werr := json.NewEncoder(specW).Encode(is)
	specW.Close()
	report, _ := io.ReadAll(io.LimitReader(statusR, 64<<10))
	var setup *SetupError
	if len(report) > 0 {
		var ce childError
		if err := json.Unmarshal(report, &ce); err != nil {
			ce = childError{Step: "start", Error: strings.TrimSpace(string(report))}
		}
		setup = &SetupError{Step: ce.Step, Msg: ce.Error, Errno: syscall.Errno(ce.Errno)}
	} else if werr != nil {
		setup = &SetupError{Step: "send specification", Msg: werr.Error()}
	}
	if setup == nil && stdio.Started != nil {
		stdio.Started(pid)
	}
	err = <-waited
	if setup != nil {
		return 0, setup
	}
	return exitStatus(cmd, err)
}

// exitStatus is the command's exit code, or 128+N for signal N.
func exitStatus(cmd *exec.Cmd, err error) (int, error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		return 0, err
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return cmd.ProcessState.ExitCode(), nil
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// childSpec is what the re-executed ttsguard applies.
func (p *Plan) childSpec(scratch string) *childSpec {
	cs := &childSpec{
		Path: p.Path, Argv: append([]string(nil), p.Command...), Dir: scratch,
		Change: p.Identity.Change, UID: p.Identity.UID, GID: p.Identity.GID,
		Model: p.Model, Landlock: p.Landlock.Enforced, Limits: p.Limits, Reach: p.reach, Inputs: p.Inputs,
	}
	for _, kv := range p.Env {
		cs.Env = append(cs.Env, strings.ReplaceAll(kv, scratchPlaceholder, scratch))
	}
	for i, a := range cs.Argv {
		cs.Argv[i] = strings.ReplaceAll(a, scratchPlaceholder, scratch)
	}
	if p.Identity.Dynamic {
		name := "ttsguard-" + strconv.Itoa(p.Identity.UID)
		cs.Env = append(cs.Env, "LOGNAME="+name, "USER="+name)
		sort.Strings(cs.Env)
	}
	l := p.Landlock
	if !l.Enforced {
		return cs
	}
	cs.HandledFS, cs.HandledNet, cs.Scoped = handledFS(l.abi), handledNet(l.abi), scopes(l.abi)
	for _, r := range l.Rules {
		path := r.Path
		if path == scratchPlaceholder {
			path = scratch
		}
		if m := r.mask & cs.HandledFS; m != 0 {
			cs.Rules = append(cs.Rules, childRule{Path: path, Access: m})
		}
	}
	if cs.HandledNet != 0 {
		cs.BindTCP = l.BindTCP
	}
	return cs
}

// processPlan describes how the command's processes are set apart.
func processPlan(root bool) Process {
	pr := Process{
		Session: "a session of its own with no controlling terminal: it cannot reach ttsguard's terminal " +
			"(no TIOCSTI, TIOCSCTTY, TIOCSPGRP: the seccomp filter refuses them too)",
		Output: "standard output and error relayed through pipes (control characters escaped when ttsguard writes to a " +
			"terminal); standard input /dev/null when ttsguard's is a terminal",
		Descriptors: "only 0, 1 and 2: every other descriptor ttsguard inherited is closed before the command starts",
		Cgroup: "none of its own (the host's cgroup layout belongs to its service manager): the limits are per-process " +
			"resource limits, and descendants end with the sandbox's init (see descendants); under systemd, " +
			"MemoryMax= and TasksMax= on ttsguard's unit cap the whole tree",
	}
	if root {
		pr.namespaces = true
		pr.Namespaces = []string{"pid (the sandbox's init is process 1)", "mount (private tmpfs scratch, /proc of the PID namespace)",
			"ipc (no System V or POSIX message queue object of the host; the filter refuses System V IPC besides)"}
		pr.Descendants = "every process the command starts is in its PID namespace and is killed when the command ends, " +
			"when ttsguard ends or is killed (SIGKILL included)"
		pr.Scratch = "a tmpfs mounted only in the sandbox's mount namespace, owned by the serving user, 0700; " +
			"outside, an empty root-owned folder"
	} else {
		pr.Namespaces = []string{}
		pr.Descendants = "the sandbox's init is a child subreaper: processes that leave the command's process group or " +
			"session remain its descendants and are killed when the command ends or ttsguard ends (if ttsguard is killed " +
			"with SIGKILL, its parent-death signal reaches the init, which kills them)"
		pr.Scratch = "a 0700 folder of the calling user, removed afterwards (start ttsguard as root for a private tmpfs)"
	}
	return pr
}
