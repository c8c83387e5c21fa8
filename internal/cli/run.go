package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/hub"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/sandbox"
	"github.com/ttsguard/ttsguard/internal/store"
	"github.com/ttsguard/ttsguard/internal/ui"
)

// exitStatus is the exit status of the command `ttsguard run` started
// (128+N when a signal N killed it); Main exits with it.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("the command exited with status %d", int(e)) }

// ExitCode is the status to exit with.
func (e exitStatus) ExitCode() int { return int(e) }

type runFlags struct {
	policy, host, vocoder, output string
	allowRead                     []string
	explain, ttsServer, gpu       bool
	port                          int
}

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use: "run [--policy F] [--allow-read PATH]... [--port N] [--vocoder NAME] [--output DIR] [--gpu] [--explain] NAME -- COMMAND [ARGS...]\n" +
			"  ttsguard run [--policy F] [--explain] [--gpu] NAME --tts-server [--port N] [--host H] [--vocoder NAME] [-- TTS-SERVER OPTIONS]",
		Short: "Check a stored model, then start a command (or coqui's tts-server) on it in a sandbox",
		Long: `run checks the stored model NAME (integrity, pin, signature, scan) and refuses to start on any failure.
It then starts COMMAND in a sandbox: the model folder read-only in $TTSGUARD_MODEL (and in place of {model}
in the arguments), only the system paths and --allow-read paths readable, one private scratch folder
writable (HOME, TMPDIR), bind only on --port and no outbound connections (Landlock), a seccomp filter,
no capabilities, and, when started as root, the policy's unprivileged user (default a fresh one per run).
Signals are forwarded and the command's exit status is ttsguard's. --vocoder gives a checked vocoder
read-only ($TTSGUARD_VOCODER, {vocoder}); --output gives one folder the command may write and that stays
($TTSGUARD_OUTPUT, {output}); --gpu allows the NVIDIA device files. --tts-server builds coqui tts-server's
arguments from the model's layout; after -- it takes tts-server's --speaker_idx, --language_idx,
--device, --[no-]use_cuda and --[no-]show_details. --explain prints the sandbox without starting
anything. See docs/sandbox.md.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runModel(c.Context(), g, f, args, c.ArgsLenAtDash())
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.policy, "policy", "", "trust policy file")
	fl.StringArrayVar(&f.allowRead, "allow-read", nil, "a file or folder the command may also read and execute (repeatable)")
	fl.BoolVar(&f.explain, "explain", false, "print the sandbox that would be applied, without checking or starting anything")
	fl.BoolVar(&f.ttsServer, "tts-server", false, "start coqui's tts-server (found in PATH) on the model")
	fl.IntVar(&f.port, "port", 0, fmt.Sprintf("the one TCP port the command may listen on (--tts-server: default %d)", sandbox.DefaultTTSPort))
	fl.StringVar(&f.host, "host", "", "--tts-server: the address to listen on (tts-server itself listens on every address)")
	fl.StringVar(&f.vocoder, "vocoder", "", "a stored vocoder model to check and give read-only (--tts-server: to use)")
	fl.StringVar(&f.output, "output", "", "a folder the command may write, kept afterwards and given to you (created when missing)")
	fl.BoolVar(&f.gpu, "gpu", false, "allow the NVIDIA device files (as the policy's run.gpu: true does)")
	return c
}

// runModel is `ttsguard run`.
func runModel(ctx context.Context, g *globals, f runFlags, args []string, dash int) error {
	name, command, err := runArgs(f, args, dash)
	if err != nil {
		return err
	}
	// Until the command starts, SIGHUP and SIGQUIT end ttsguard as SIGINT
	// and SIGTERM do (the root's context), so that what it set up (the
	// decrypted model's folder of links) is removed; from the start on,
	// the sandbox forwards them to the command.
	runCtx := ctx
	ctx, early := earlySignals(ctx)
	defer early()
	// With an access section, a server who is not root runs a model of
	// root's store, opened read-only (store.OpenRead); the run is then not
	// recorded in the audit log (a warning says so).
	pol, st, err := openStoreToRead(f.policy, "run")
	if err != nil {
		return err
	}
	if st == nil {
		return usageError{fmt.Errorf("model %q: %w (no store yet)", name, store.ErrNotFound)}
	}
	v, err := st.Get(name)
	if err != nil {
		return usageError{err}
	}
	var vocoder *store.Version
	if f.vocoder != "" {
		if vocoder, err = st.Get(f.vocoder); err != nil {
			return usageError{err}
		}
	}
	port := f.port
	if f.ttsServer && port == 0 {
		port = sandbox.DefaultTTSPort // the port ttsServerCommand gives tts-server
	}
	gpu := f.gpu || pol.Run.GPU
	spec := sandbox.Spec{
		Model: v.Dir, AllowRead: append(append([]string(nil), pol.Run.AllowRead...), f.allowRead...), Port: port,
		User: pol.Run.User, Group: pol.Run.Group, GroupFrom: st.Root, Env: pol.Run.Env, Command: command,
		Output: f.output, GPU: gpu, Limits: runLimits(pol.Run.Limits, gpu),
	}
	if vocoder != nil {
		spec.Vocoder = vocoder.Dir
	}
	// The Hugging Face repositories the model loads at start (Bark's
	// tokenizer and codec): stored requirements, given read-only as an
	// offline cache; the model's check checks them too.
	deps, err := pull.StoredRequirements(pol, st, v)
	if err != nil {
		if errors.Is(err, pull.ErrRequirement) {
			return usageError{err}
		}
		return err
	}
	spec.HFCache = hfCache(deps)
	var verified []string // how each checked model was verified, for the start event
	checkAll := func() error {
		how, err := checkStored(ctx, g, pol, v, deps)
		if err != nil {
			return err
		}
		verified = append(verified[:0], how)
		if vocoder != nil {
			how, err := checkStored(ctx, g, pol, vocoder, nil)
			verified = append(verified, "vocoder "+how)
			return err
		}
		return nil
	}
	// Arguments and the plan come from the immutable version folders; a
	// model that fails its check is reported as such, not as whatever
	// building the plan from it found wrong.
	decrypt := []*store.Version{v, vocoder}
	for _, d := range deps { // the Hugging Face requirements too, when encrypted
		decrypt = append(decrypt, d.Version)
	}
	dec, release, err := decryptModels(ctx, st, &spec, decrypt...)
	if err != nil {
		return err
	}
	defer release()
	plan, ts, err := prepareRun(f, spec, v, vocoder, dec)
	if err != nil {
		if f.explain {
			return err
		}
		if cerr := checkAll(); cerr != nil {
			return cerr
		}
		return err
	}
	if f.ttsServer && f.host == "" {
		plan.Notes = append(plan.Notes, "tts-server listens on every address (\"::\"); --host limits it to one")
	}
	res := runPlan{Name: name, Plan: plan, TTSServer: ts}
	if f.explain {
		return g.printer().Print(res)
	}
	if plan.Identity.Problem != "" {
		return usagef("%s", plan.Identity.Problem)
	}
	if err := checkAll(); err != nil {
		return err
	}
	started := audit.Event{Command: "run", Model: v.Name, Root: v.Root, OK: true, Detail: "starting " + firstLine(strings.Join(plan.Command, " ")),
		Verify: firstLine(strings.Join(verified, "; "))}
	if err := logEvent(g, pol, started, false); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	if err := (ui.Printer{W: g.stderr, JSON: g.json}).Print(runStart{res}); err != nil {
		return err
	}
	var stop atomic.Value // the last stop signal forwarded to the command
	early()
	code, err := sandbox.Run(runCtx, plan, sandbox.IO{Stdin: commandStdin(), Stdout: g.stdout, Stderr: g.stderr,
		Forwarded: func(s os.Signal) {
			if s == syscall.SIGTERM || s == syscall.SIGINT {
				stop.Store(s)
			}
		}})
	ended := audit.Event{Command: "run-exit", Model: v.Name, Root: v.Root, OK: err == nil && code == 0, Detail: fmt.Sprintf("exit status %d", code)}
	// A stop the operator (or systemd) asked for is a clean end: the
	// command died of the signal ttsguard passed on, or exited with its
	// 128+N. ttsguard then exits 0.
	if s, ok := stop.Load().(syscall.Signal); ok && err == nil && code == 128+int(s) {
		code, ended.OK, ended.Detail = 0, true, fmt.Sprintf("stopped by %s (forwarded to the command; exit status %d)", unix.SignalName(s), 128+int(s))
	}
	if err != nil {
		ended.Detail = firstLine(err.Error())
	}
	_ = logEventAfter(g, pol, ended, false, errors.New("ended"))
	if err != nil {
		return sandboxErr(err)
	}
	if code != 0 {
		return exitStatus(code)
	}
	return nil
}

// prepareRun builds the command (for --tts-server) and the sandbox plan.
// dec says which folders are decrypted models, and which folders the
// command is given for them.
func prepareRun(f runFlags, spec sandbox.Spec, v, vocoder *store.Version, dec *sandbox.Decrypted) (plan *sandbox.Plan, _ *sandbox.TTSServer, _ error) {
	var ts *sandbox.TTSServer
	if f.ttsServer {
		opts, needGPU, err := sandbox.TTSServerOptions(spec.Command)
		if err != nil {
			return nil, nil, sandboxErr(err)
		}
		if needGPU && !spec.GPU {
			return nil, nil, usagef("tts-server on CUDA needs --gpu (or the policy's run.gpu: true)")
		}
		if ts, spec.Command, err = ttsServerCommand(f, v, vocoder, dec); err != nil {
			return nil, nil, err
		}
		spec.Command = append(spec.Command, opts...)
	}
	// coqui opens the paths in config.json as they are: a trainer's
	// absolute paths and relative ones (against the working folder) miss
	// the model's files. The command gets a copy that points into the
	// verified folder (tts-server as --config_path, any command as
	// {config}); the stored model stays as it is. Of a model encrypted at
	// rest, the copy is of its plaintext and points into the folder the
	// command is given for it (dec).
	cfg := filepath.Join(spec.Model, "config.json")
	if copyData, fields, err := sandbox.RewriteConfigDecrypted(v.Dir, dec); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, sandboxErr(err)
	} else if copyData != nil {
		spec.Files = map[string][]byte{sandbox.ConfigCopy: copyData}
		cfg = sandbox.ScratchPlaceholder + "/" + sandbox.ConfigCopy
		defer func() {
			if plan != nil {
				plan.Notes = append(plan.Notes, "config.json is given as a copy in the scratch folder whose paths point into the model folder: "+strings.Join(fields, ", "))
			}
		}()
	}
	for i, a := range spec.Command {
		if f.ttsServer && i > 0 && spec.Command[i-1] == "--config_path" && a == filepath.Join(spec.Model, "config.json") {
			spec.Command[i] = cfg
		}
		spec.Command[i] = strings.ReplaceAll(spec.Command[i], "{config}", cfg)
	}
	plan, err := sandbox.Prepare(spec)
	if err != nil {
		return nil, nil, sandboxErr(err)
	}
	return plan, ts, nil
}

// commandStdin is ttsguard's standard input, or nil (/dev/null) when it is a
// terminal: the command runs in its own process group, and reading the
// terminal from there would stop it.
func commandStdin() io.Reader {
	if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
		return nil
	}
	return os.Stdin
}

// runArgs splits NAME and the command after "--".
func runArgs(f runFlags, args []string, dash int) (string, []string, error) {
	var command []string
	switch {
	case dash == -1 && len(args) > 1:
		return "", nil, usagef("one model name, then the command after --: ttsguard run NAME -- COMMAND [ARGS...]")
	case dash == 0:
		return "", nil, usagef("the model name comes before --")
	case dash > 1:
		return "", nil, usagef("one model name before --, got %q", args[:dash])
	case dash == 1:
		command = args[1:]
		if len(command) == 0 {
			return "", nil, usagef("no command after --")
		}
	}
	switch {
	case !f.ttsServer && command == nil && !f.explain:
		return "", nil, usagef("give the command after -- or use --tts-server")
	case !f.ttsServer && f.host != "":
		return "", nil, usagef("--host goes with --tts-server")
	case f.ttsServer && f.output != "":
		return "", nil, usagef("--output is for a command after --: tts-server answers over HTTP")
	case f.port < 0 || f.port > 65535:
		return "", nil, usagef("--port %d: want 1 to 65535", f.port)
	}
	return args[0], command, nil
}

// hfCache is the sandbox's Hugging Face cache of a model's stored
// requirements: each under the repository id its code loads, its pinned
// commit as "main" (what from_pretrained asks for without a revision) and
// as the revision it was pulled at.
func hfCache(deps []pull.Dependency) []sandbox.HFRepo {
	var out []sandbox.HFRepo
	for _, d := range deps {
		refs := []string{"main"}
		if d.Ref != "" && d.Ref != "main" && !hub.IsCommit(d.Ref) {
			refs = append(refs, d.Ref)
		}
		out = append(out, sandbox.HFRepo{RepoID: d.LoadAs, Commit: d.Commit, Refs: refs, Dir: d.Dir})
	}
	return out
}

// checkStored runs every gate of the policy on a stored model; a failure is
// printed like `ttsguard check` prints it and refuses the start. deps are
// the model's requirements the sandbox gives: the check must have checked
// those versions. It returns how the model's files were verified (fast or
// full, and why).
func checkStored(ctx context.Context, g *globals, pol *policy.Policy, v *store.Version, deps []pull.Dependency) (string, error) {
	r, err := pull.CheckStored(ctx, pol, v.Name)
	how := ""
	if r != nil && r.Verification != nil {
		how = r.Verification.String()
	}
	return how, checkedStart(g, pol, "run", v, deps, r, err)
}

// checkedStart refuses the start unless the check r of the stored model v
// (and of its requirements deps) passed on the version the sandbox gets.
func checkedStart(g *globals, pol *policy.Policy, cmd string, v *store.Version, deps []pull.Dependency, r *pull.CheckResult, err error) error {
	if r != nil && (!r.Stored || r.Dir != v.Dir) {
		return fmt.Errorf("refusing to start: the current version of %q changed while it was being checked (a concurrent pull or lock update?): start it again", v.Name)
	}
	if r != nil && err == nil && r.OK {
		checked := map[string]string{}
		for _, d := range r.Requires {
			checked[d.Name] = d.Dir
		}
		for _, d := range deps {
			if checked[d.Name] != d.Dir {
				return fmt.Errorf("refusing to start: the current version of %q, which %q requires, changed while it was being checked (a concurrent pull or lock update?): start it again", d.Name, v.Name)
			}
		}
	}
	if r != nil && (err != nil || !r.OK) {
		// A refused start is recorded here; a start, just before it happens.
		if lerr := logEventAfter(g, pol, checkEvent(cmd, r, err), false, errors.New("refused")); lerr != nil {
			return lerr
		}
	}
	if err != nil || r == nil || !r.OK {
		if r != nil {
			if perr := g.printer().Print(checkResult{r}); perr != nil {
				return perr
			}
		}
		if err == nil {
			err = fmt.Errorf("%w: %s", pull.ErrGate, v.Name)
		}
		return fmt.Errorf("refusing to start: %w", err)
	}
	return nil
}

// ttsServerCommand builds coqui tts-server's command line for the model.
func ttsServerCommand(f runFlags, v, vocoder *store.Version, dec *sandbox.Decrypted) (*sandbox.TTSServer, []string, error) {
	path, err := exec.LookPath("tts-server")
	if err != nil {
		return nil, nil, usagef("tts-server is not in PATH: install coqui-tts (pip install 'coqui-tts[server]') or give the command after --")
	}
	port := f.port
	if port == 0 {
		port = sandbox.DefaultTTSPort
	}
	vdir := ""
	if vocoder != nil {
		vdir = vocoder.Dir
	}
	ts, err := sandbox.TTSServerArgsDecrypted(v.Dir, vdir, port, dec)
	if err != nil {
		return nil, nil, sandboxErr(err)
	}
	cmd, err := sandbox.TTSServerCommand(path, f.host, ts.Args)
	if err != nil {
		return nil, nil, sandboxErr(err)
	}
	return ts, cmd, nil
}

// sandboxErr maps sandbox errors to exit codes: what the caller asked for
// is bad usage; a setup failure keeps its system error (EACCES: exit 2).
func sandboxErr(err error) error {
	if errors.Is(err, sandbox.ErrSpec) || errors.Is(err, sandbox.ErrUnsupported) {
		return usageError{err}
	}
	return err
}

// runPlan is what --explain prints.
type runPlan struct {
	Name      string             `json:"name"`
	Plan      *sandbox.Plan      `json:"sandbox"`
	TTSServer *sandbox.TTSServer `json:"tts_server,omitempty"`
}

func (r runPlan) Text(w io.Writer) error {
	p := r.Plan
	var b strings.Builder
	fmt.Fprintf(&b, "sandbox for %s (the model is checked before every start)\n", r.Name)
	fmt.Fprintf(&b, "  model:        %s (read-only, $%s)\n", p.Model, sandbox.EnvModel)
	if r.TTSServer != nil {
		fmt.Fprintf(&b, "  tts-server:   model family %s", r.TTSServer.Family)
		if r.TTSServer.Vocoder != "" {
			fmt.Fprintf(&b, ", vocoder %s", r.TTSServer.Vocoder)
		}
		b.WriteString("\n")
	}
	if len(p.Command) > 0 {
		fmt.Fprintf(&b, "  command:      %s\n", quoteArgs(p.Path, p.Command[1:]))
	}
	if p.Vocoder != "" {
		fmt.Fprintf(&b, "  vocoder:      %s (read-only, $%s)\n", p.Vocoder, sandbox.EnvVocoder)
	}
	for _, h := range p.HFCache {
		fmt.Fprintf(&b, "  hf cache:     %s at %s (refs %s) from %s (read-only, offline, $HF_HUB_CACHE)\n", h.RepoID, h.Commit, strings.Join(h.Refs, " "), h.Dir)
	}
	if p.Output != "" {
		fmt.Fprintf(&b, "  output:       %s (written by the command, given to you afterwards, $%s)\n", p.Output, sandbox.EnvOutput)
	}
	if len(p.GPU) > 0 {
		fmt.Fprintf(&b, "  gpu:          %s\n", strings.Join(p.GPU, " "))
	}
	id := p.Identity
	switch {
	case id.Dynamic:
		fmt.Fprintf(&b, "  user:         a fresh user id for this run (%d-%d, in no account database, shared with no other process), "+
			"group %s (%d: %s), no supplementary groups\n", sandbox.DynamicUIDs[0], sandbox.DynamicUIDs[1], id.Group, id.GID, id.GroupFrom)
	case id.Change:
		fmt.Fprintf(&b, "  user:         %s (%d), group %s (%d: %s), no supplementary groups\n", id.User, id.UID, id.Group, id.GID, id.GroupFrom)
	default:
		fmt.Fprintf(&b, "  user:         %s (%d), group %s (%d): not started as root, unchanged; supplementary groups %s\n", id.User, id.UID, id.Group, id.GID, id.Supplemental)
	}
	if id.Problem != "" {
		fmt.Fprintf(&b, "  PROBLEM:      %s\n", id.Problem)
	}
	fmt.Fprintf(&b, "  capabilities: %s\n", id.Capabilities)
	fmt.Fprintf(&b, "  process:      no_new_privs; parent death signal %s; forwarded signals %s; own process group\n", p.ParentDeath, strings.Join(p.Signals, " "))
	pr := p.Process
	fmt.Fprintf(&b, "    session:     %s\n", pr.Session)
	fmt.Fprintf(&b, "    output:      %s\n", pr.Output)
	fmt.Fprintf(&b, "    descriptors: %s\n", pr.Descriptors)
	ns := "none"
	if len(pr.Namespaces) > 0 {
		ns = strings.Join(pr.Namespaces, "; ")
	}
	fmt.Fprintf(&b, "    namespaces:  %s\n", ns)
	fmt.Fprintf(&b, "    descendants: %s\n", pr.Descendants)
	fmt.Fprintf(&b, "    cgroup:      %s\n", pr.Cgroup)
	fmt.Fprintf(&b, "    scratch:     %s\n", pr.Scratch)
	lim := p.Limits
	fmt.Fprintf(&b, "  limits:       memory %s per process (address space), %s processes and threads, files up to %s, %s open files, scratch %s; no core dumps\n",
		limitText(lim.Memory, true), limitText(lim.Processes, false), limitText(lim.FileSize, true), limitText(lim.OpenFiles, false), limitText(lim.Scratch, true))
	l := p.Landlock
	if l.Enforced {
		fmt.Fprintf(&b, "  landlock:     kernel ABI %d, enforced; everything not listed is denied (handled: %s)\n", l.ABI, strings.Join(l.Handled, " "))
	} else {
		b.WriteString("  landlock:     NOT ENFORCED on this kernel\n")
	}
	for _, r := range l.Rules {
		fmt.Fprintf(&b, "    %-10s %s  (%s)\n", accessSummary(r.Access), r.Path, r.Why)
	}
	if l.Network {
		fmt.Fprintf(&b, "    network: bind TCP %s; connect TCP: none\n", ports(l.BindTCP))
	}
	if len(l.Scoped) > 0 {
		fmt.Fprintf(&b, "    scoped: %s (only within the sandbox)\n", strings.Join(l.Scoped, ", "))
	}
	for _, n := range l.NotEnforced {
		fmt.Fprintf(&b, "    not enforced: %s\n", n)
	}
	s := p.Seccomp
	fmt.Fprintf(&b, "  seccomp:      %s system calls only (%s)\n", s.Arch, s.OtherArch)
	fmt.Fprintf(&b, "    EPERM:  %s\n", strings.Join(s.DenyEPERM, " "))
	fmt.Fprintf(&b, "    ENOSYS: %s\n", strings.Join(s.DenyENOSYS, "; "))
	for _, c := range s.Conditional {
		fmt.Fprintf(&b, "    %s\n", c)
	}
	fmt.Fprintf(&b, "  environment:  %s\n", strings.Join(p.Env, " "))
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// runStart is the line printed (to stderr) before the command starts.
type runStart struct{ runPlan }

func (r runStart) Text(w io.Writer) error {
	p := r.Plan
	ll := "Landlock not enforced"
	if p.Landlock.Enforced {
		ll = fmt.Sprintf("Landlock ABI %d", p.Landlock.ABI)
	}
	bind := "bind not restricted"
	if p.Landlock.Network {
		bind = "bind " + ports(p.Landlock.BindTCP)
	}
	_, err := fmt.Fprintf(w, "ttsguard: %s verified; starting %s as %s:%s (%s, seccomp, no capabilities, %s)\n",
		r.Name, p.Path, p.Identity.User, p.Identity.Group, ll, bind)
	return err
}

// runLimits turns the policy's run.limits into the sandbox's: a field the
// policy leaves out gets sandbox.DefaultLimits' value (with a GPU, no
// memory limit: CUDA reserves terabytes of address space), "unlimited" 0.
func runLimits(pl policy.RunLimits, gpu bool) *sandbox.Limits {
	l := sandbox.DefaultLimits
	if gpu {
		l.Memory = 0
	}
	for _, f := range []struct {
		from int64
		to   *int64
	}{{pl.Memory, &l.Memory}, {pl.Processes, &l.Processes}, {pl.FileSize, &l.FileSize}, {pl.OpenFiles, &l.OpenFiles}, {pl.Scratch, &l.Scratch}} {
		switch f.from {
		case 0:
		case policy.Unlimited:
			*f.to = 0
		default:
			*f.to = f.from
		}
	}
	return &l
}

// limitText writes a limit for people ("no limit" for 0).
func limitText(v int64, size bool) string {
	switch {
	case v == 0:
		return "no limit"
	case !size:
		return fmt.Sprint(v)
	case v%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", v>>30)
	case v%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", v>>20)
	}
	return fmt.Sprintf("%d bytes", v)
}

// accessSummary names a rule's rights in short: read, read+exec, read-write.
func accessSummary(access []string) string {
	has := func(n string) bool { return slices.Contains(access, n) }
	switch {
	case has("make_reg"):
		return "read-write"
	case has("write_file"):
		return "read+write"
	case has("execute"):
		return "read+exec"
	}
	return "read"
}

func ports(ps []int) string {
	if len(ps) == 0 {
		return "none"
	}
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprint(p))
	}
	return strings.Join(s, ",")
}

func quoteArgs(path string, args []string) string {
	out := []string{path}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$") {
			a = fmt.Sprintf("%q", a)
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// earlySignals returns ctx canceled on SIGHUP or SIGQUIT, and the function
// that stops catching them (the default action again, until the sandbox
// catches them) and cancels the context (the caller goes on with its own).
func earlySignals(ctx context.Context) (context.Context, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP, syscall.SIGQUIT)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel()
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			cancel()
		})
	}
}
