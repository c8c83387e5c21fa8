package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/lineage"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/sandbox"
	"github.com/ttsguard/ttsguard/internal/store"
	"github.com/ttsguard/ttsguard/internal/ui"
)

type trainFlags struct {
	policy, base, config, out, code string
	datasets                        []string
	gpu, explain                    bool
	key                             keyFlags
	leaf                            string
	chain                           []string
}

func newTrainCmd(g *globals) *cobra.Command {
	var f trainFlags
	c := &cobra.Command{
		Use: "train --dataset DIR... [--base-model NAME] [--config FILE] --out DIR [--code DIR] [--gpu] --private-key K " +
			"[--password-file F] [--signing-certificate C [--certificate-chain C]...] -- COMMAND [ARGS...]",
		Short: "Run a training command in the sandbox on declared inputs only, then sign the model and its provenance",
		Long: `train runs a coqui training command in the sandbox of ` + "`ttsguard run`" + `, so that what the model was made from is
enforced, not just declared. Read-only: each --dataset (checked first: its pin and its model.sig when it has
them), the base model from the store (checked like run checks it; in $TTSGUARD_MODEL and {model}), the
config (in place of {config}), the training code (the script's git work tree or folder, or --code) and the
Python environment; read-write: --out ({output}, empty or new) and a scratch folder; no network. Every path
the config names (and --restore_path, --continue_path, --config_path, --coqpit.* on the command line) must
lie inside those, or nothing starts. Afterwards the files under --out are scanned, signed (model.sig) and
described by a signed in-toto statement with the SLSA Provenance v1 predicate (provenance.sig): the model's
files, each dataset's and the base model's root digest, the config, the code (git commit, file digests),
every Python distribution (name, version, RECORD digest), the command line, start and end.
The command's standard output goes to ttsguard's standard error. See docs/provenance.md.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return runTrain(c.Context(), g, f, args, c.ArgsLenAtDash())
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.policy, "policy", "", "trust policy file")
	fl.StringArrayVar(&f.datasets, "dataset", nil, "a training dataset folder, read-only (repeatable; at least one)")
	fl.StringVar(&f.base, "base-model", "", "a stored model to fine-tune from, checked and read-only")
	fl.StringVar(&f.config, "config", "", "the coqui training config (JSON), audited and read-only")
	fl.StringVar(&f.out, "out", "", "the folder the trained model is written to (created when missing; must be empty)")
	fl.StringVar(&f.code, "code", "", "the training code's folder (default: the git work tree or folder of the script the command runs)")
	fl.BoolVar(&f.gpu, "gpu", false, "allow the NVIDIA device files (as run --gpu)")
	fl.BoolVar(&f.explain, "explain", false, "print the inputs and the sandbox, without starting anything")
	f.key.add(c)
	fl.StringVar(&f.leaf, "signing-certificate", "", "PEM certificate of the signing key (sign as sign certificate does)")
	fl.StringArrayVar(&f.chain, "certificate-chain", nil, "PEM file of intermediate certificates to include (repeatable, with --signing-certificate)")
	return c
}

// trainPlan is a prepared training run: its inputs, the config's paths and
// the sandbox. --explain prints it.
type trainPlan struct {
	Record   *lineage.Record      `json:"inputs"`
	Paths    []lineage.ConfigPath `json:"config_paths"`
	Datasets []*pull.CheckResult  `json:"dataset_checks"`
	Plan     *sandbox.Plan        `json:"sandbox"`

	base *store.Version
}

// trainResult is what a finished training run prints.
type trainResult struct {
	Out        string          `json:"out"`
	Root       string          `json:"root"`
	Files      int             `json:"files"`
	Scan       pull.Gate       `json:"scan"`
	Signature  string          `json:"signature"`
	Provenance string          `json:"provenance"`
	Signer     *oms.Signer     `json:"signer"`
	Record     *lineage.Record `json:"lineage"`
	ElapsedMS  float64         `json:"elapsed_ms"`
}

func (r *trainResult) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "trained %s: %d files, root %s\n", r.Out, r.Files, r.Root)
	fmt.Fprintf(&b, "  scan:       %s\n", r.Scan.Detail)
	fmt.Fprintf(&b, "  signature:  %s\n", r.Signature)
	fmt.Fprintf(&b, "  provenance: %s\n", r.Provenance)
	writeLineage(&b, r.Record)
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *trainPlan) Text(w io.Writer) error {
	var b strings.Builder
	b.WriteString("training run (nothing started)\n")
	writeLineage(&b, p.Record)
	for _, cp := range p.Paths {
		fmt.Fprintf(&b, "  config path %s = %s (in %s)\n", cp.Field, cp.Path, cp.Area)
	}
	if err := (runPlan{Name: "training", Plan: p.Plan}).Text(&b); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// runTrain is `ttsguard train`.
func runTrain(ctx context.Context, g *globals, f trainFlags, args []string, dash int) error {
	switch {
	case dash != 0:
		return usagef("the training command comes after --: ttsguard train --dataset DIR --out DIR --private-key K -- COMMAND [ARGS...]")
	case len(args) == 0:
		return usagef("no command after --")
	case len(f.datasets) == 0:
		return usagef("give at least one --dataset")
	case f.out == "":
		return usagef("give --out, the folder the trained model is written to")
	case f.leaf == "" && len(f.chain) > 0:
		return usagef("--certificate-chain goes with --signing-certificate")
	}
	signer, err := f.key.loadWith(f.leaf, f.chain)
	if err != nil {
		return err
	}
	pol, st, err := openStore(f.policy, "train")
	if err != nil {
		return err
	}
	tp, err := prepareTrain(ctx, f, pol, st, args)
	if tp != nil && tp.Datasets != nil && err != nil && errors.Is(err, pull.ErrGate) {
		for _, r := range tp.Datasets {
			if !r.OK {
				if perr := g.printer().Print(checkResult{r}); perr != nil {
					return perr
				}
			}
		}
	}
	if err != nil {
		return err
	}
	if f.explain {
		return g.printer().Print(tp)
	}
	if tp.Plan.Identity.Problem != "" {
		return usagef("%s", tp.Plan.Identity.Problem)
	}
	if tp.base != nil {
		r, err := pull.CheckStored(ctx, pol, tp.base.Name)
		if err := checkedStart(g, pol, "train", tp.base, nil, r, err); err != nil {
			return err
		}
	}
	return executeTrain(ctx, g, pol, tp, signer)
}

// prepareTrain checks the inputs and builds the record and the sandbox.
func prepareTrain(ctx context.Context, f trainFlags, pol *policy.Policy, st *store.Store, command []string) (*trainPlan, error) {
	rec := &lineage.Record{Version: Version(), GPU: f.gpu || pol.Run.GPU}
	tp := &trainPlan{Record: rec}
	var areas lineage.Areas
	var err error
	if rec.Out, err = filepath.Abs(f.out); err != nil {
		return nil, usageError{err}
	}
	if err := emptyOrNew(rec.Out); err != nil {
		return nil, err
	}
	names := map[string]bool{}
	var firstErr error
	for _, d := range f.datasets {
		dir, err := existingDir("--dataset", d)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(dir)
		if names[name] {
			return nil, usagef("--dataset %s: two datasets are named %q (the folder's name)", d, name)
		}
		names[name] = true
		if within(dir, rec.Out) || dir == rec.Out || within(rec.Out, dir) {
			return nil, usagef("--dataset %s and --out %s overlap", dir, rec.Out)
		}
		cr, err := pull.CheckDataset(ctx, pol, dir, name)
		if cr == nil {
			return nil, fmt.Errorf("dataset %q: %w", dir, err)
		}
		tp.Datasets = append(tp.Datasets, cr)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("dataset %q: %w", dir, err)
		}
		var checked []string
		for _, g := range cr.Gates {
			checked = append(checked, g.Name+": "+g.Detail)
		}
		rec.Datasets = append(rec.Datasets, lineage.Dataset{Name: name, Path: dir, Root: cr.Root, Files: cr.Files, Verified: strings.Join(checked, "; ")})
		areas = append(areas, lineage.Area{Path: dir, What: fmt.Sprintf("dataset %q", name)})
	}
	if firstErr != nil {
		return tp, firstErr
	}
	spec := sandbox.Spec{
		Output: rec.Out, GPU: rec.GPU, User: pol.Run.User, Group: pol.Run.Group, GroupFrom: st.Root, Env: pol.Run.Env,
		Limits: runLimits(pol.Run.Limits, rec.GPU),
	}
	if f.base != "" {
		if tp.base, err = st.Get(f.base); err != nil {
			return nil, usageError{err}
		}
		rec.Base = &lineage.Base{Name: tp.base.Name, Dir: tp.base.Dir, Root: tp.base.Root}
		spec.Model = tp.base.Dir
		areas = append(areas, lineage.Area{Path: tp.base.Dir, What: fmt.Sprintf("the base model %q", tp.base.Name), Base: true})
	}
	cfg := ""
	if f.config != "" {
		if cfg, err = filepath.Abs(f.config); err != nil {
			return nil, usageError{err}
		}
		sum, err := fileDigest(cfg)
		if err != nil {
			return nil, usageError{fmt.Errorf("--config: %w", err)}
		}
		rec.Config = &lineage.File{Path: cfg, SHA256: sum}
		areas = append(areas, lineage.Area{Path: cfg, What: "the config"})
	}
	areas = append(areas, lineage.Area{Path: rec.Out, What: "--out", Write: true})
	for i, a := range command {
		if strings.Contains(a, "{config}") {
			if cfg == "" {
				return nil, usagef("%q uses {config} without --config", a)
			}
			command[i] = strings.ReplaceAll(a, "{config}", cfg)
		}
	}
	rec.Command = command
	for _, d := range rec.Datasets {
		spec.ReadOnly, spec.Inputs = append(spec.ReadOnly, d.Path), append(spec.Inputs, d.Path)
	}
	if cfg != "" {
		spec.ReadOnly, spec.Inputs = append(spec.ReadOnly, cfg), append(spec.Inputs, cfg)
	}
	spec.Command = command
	// A first plan finds the program and its Python; the code folder
	// depends on both.
	first, err := sandbox.Prepare(spec)
	if err != nil {
		return nil, sandboxErr(err)
	}
	code, err := codeFolder(f.code, command, first)
	if err != nil {
		return nil, err
	}
	if code != "" {
		if code == rec.Out || within(code, rec.Out) {
			return nil, usagef("the training code's folder %s holds --out %s: put the output elsewhere (or give --code)", code, rec.Out)
		}
		if rec.Code, err = lineage.ReadCode(ctx, code); err != nil {
			return nil, usageError{err}
		}
		spec.AllowRead, spec.Inputs = append(spec.AllowRead, code), append(spec.Inputs, code)
		areas = append(areas, lineage.Area{Path: code, What: "the training code"})
	}
	if tp.Plan, err = sandbox.Prepare(spec); err != nil {
		return nil, sandboxErr(err)
	}
	if py := tp.Plan.Python; py != nil {
		if rec.Python, err = lineage.ReadPythonEnv(py.Interpreter, py.Executable, py.Venv, py.Prefix); err != nil {
			return nil, err
		}
	}
	if cfg != "" {
		data, err := readLimited(cfg, lineage.MaxConfigSize)
		if err != nil {
			return nil, usageError{fmt.Errorf("--config: %w", err)}
		}
		paths, err := lineage.AuditConfig(cfg, data, areas)
		tp.Paths = paths
		if err != nil {
			return tp, usageError{err}
		}
	}
	paths, err := lineage.AuditArgs(command[1:], cfg, areas)
	tp.Paths = append(tp.Paths, paths...)
	if err != nil {
		return tp, usageError{err}
	}
	if err := auditDatasets(ctx, pol, rec, cfg); err != nil {
		return tp, err
	}
	rec.Sandbox = sandboxSummary(tp.Plan)
	return tp, nil
}

// auditDatasets runs `dataset audit` on each dataset whose name's policy
// asks for it (models.NAME.dataset_audit), read as the config's entry for
// its folder says (formatter, meta file, sample rate, characters); a
// finding at or above medium refuses the run.
func auditDatasets(ctx context.Context, pol *policy.Policy, rec *lineage.Record, cfgPath string) error {
	var cfg *dataset.Config
	for i := range rec.Datasets {
		d := &rec.Datasets[i]
		if !pol.ModelPolicy(d.Name).DatasetAudit {
			continue
		}
		if cfg == nil && cfgPath != "" {
			data, err := readLimited(cfgPath, dataset.MaxConfigBytes)
			if err != nil {
				return usageError{fmt.Errorf("--config: %w", err)}
			}
			if cfg, err = dataset.ReadConfig(bytes.NewReader(data)); err != nil {
				return usageError{fmt.Errorf("--config %s: %w", cfgPath, err)}
			}
		}
		opt := dataset.Options{Workers: runtime.NumCPU()}
		failOn := datasetPolicy(&opt, pol)
		if cfg != nil {
			for _, e := range cfg.Datasets {
				if filepath.Clean(e.Path) == d.Path {
					opt.Formatter, opt.MetaFile, opt.Language = e.Formatter, e.MetaFileTrain, e.Language
				}
			}
			opt.SampleRate, opt.Charset, opt.Cleaner = cfg.Audio.SampleRate, cfg.Charset(), cfg.TextCleaner
		}
		if opt.Formatter == "" {
			return usagef("the policy asks for a dataset audit of %q (models[%q].dataset_audit), but no --config names its folder %s with a formatter", d.Name, d.Name, d.Path)
		}
		rep, err := dataset.Audit(ctx, os.DirFS(d.Path), d.Path, opt)
		if err != nil {
			return fmt.Errorf("dataset audit of %q: %w", d.Path, err)
		}
		if rep.Failed(failOn) {
			return fmt.Errorf("%w: dataset %q: the dataset audit (models[%q].dataset_audit) has findings at or above %s (%v): "+
				"`ttsguard dataset audit --config %s` shows them", pull.ErrGate, d.Name, d.Name, failOn, rep.Counts, cfgPath)
		}
		d.Verified += fmt.Sprintf("; dataset audit (%s): %d rows, nothing at or above %s", opt.Formatter, rep.Rows, failOn)
	}
	return nil
}

// codeFolder is --code, or the folder of the script the command runs ("" for
// a module of the Python environment, or a program of the system or of the
// environment).
func codeFolder(flag string, command []string, p *sandbox.Plan) (string, error) {
	if flag != "" {
		return existingDir("--code", flag)
	}
	script := lineage.Script(command, p.Python != nil)
	if p.Python == nil {
		script = p.Path
	}
	if script == "" {
		return "", nil
	}
	if !filepath.IsAbs(script) {
		return "", usagef("the training script %q is a relative path: the command runs in the sandbox's scratch folder, so give its absolute path", script)
	}
	dir, err := lineage.CodeDir(script)
	if err != nil {
		return "", usageError{err}
	}
	for _, sys := range []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/opt"} {
		if dir == sys {
			return "", nil
		}
	}
	if py := p.Python; py != nil {
		for _, env := range []string{py.Venv, py.Prefix} {
			if env != "" && (dir == env || within(env, dir)) {
				return "", nil // the environment's own program: recorded as the environment
			}
		}
	}
	if dir == "/" || within("/usr", dir) {
		return "", nil
	}
	return dir, nil
}

// executeTrain runs the prepared command in the sandbox, then scans, signs
// and writes the provenance.
func executeTrain(ctx context.Context, g *globals, pol *policy.Policy, tp *trainPlan, signer oms.SignerMaterial) error {
	rec := tp.Record
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	rec.InvocationID = hex.EncodeToString(id[:])
	started := audit.Event{Command: "train", OK: true, Detail: "starting " + firstLine(strings.Join(tp.Plan.Command, " "))}
	if rec.Base != nil {
		started.Model, started.Root = rec.Base.Name, rec.Base.Root
	}
	if err := logEvent(g, pol, started, false); err != nil {
		return fmt.Errorf("refusing to start: %w", err)
	}
	if err := (ui.Printer{W: g.stderr, JSON: g.json}).Print(runStart{runPlan{Name: "training run", Plan: tp.Plan}}); err != nil {
		return err
	}
	t0 := time.Now()
	rec.Started = t0.UTC()
	code, err := sandbox.Run(ctx, tp.Plan, sandbox.IO{Stdin: commandStdin(), Stdout: g.stderr, Stderr: g.stderr})
	rec.Finished, rec.ExitStatus = time.Now().UTC(), code
	if err != nil || code != 0 {
		detail := fmt.Sprintf("exit status %d: no signature or provenance written", code)
		if err != nil {
			detail = firstLine(err.Error())
		}
		_ = logEventAfter(g, pol, audit.Event{Command: "train-exit", Detail: detail}, false, errors.New("failed"))
		if err != nil {
			return sandboxErr(err)
		}
		return exitStatus(code)
	}
	res, err := sealTrained(ctx, pol, rec, signer)
	e := audit.Event{Command: "train-exit", OK: err == nil, Detail: "trained " + rec.Out}
	if res != nil {
		e.Root = res.Root
	}
	if err != nil {
		e.Detail = firstLine(err.Error())
		if res != nil {
			if perr := g.printer().Print(res); perr != nil {
				return perr
			}
		}
		_ = logEventAfter(g, pol, e, false, err)
		return err
	}
	res.ElapsedMS = float64(time.Since(t0).Microseconds()) / 1000
	if err := logEvent(g, pol, e, false); err != nil {
		return err
	}
	return g.printer().Print(res)
}

// sealTrained scans the model files under --out, signs them (model.sig,
// with provenance.sig left out) and writes the signed provenance
// atomically. A scan finding stops it before anything is signed.
func sealTrained(ctx context.Context, pol *policy.Policy, rec *lineage.Record, signer oms.SignerMaterial) (*trainResult, error) {
	res := &trainResult{Out: rec.Out, Record: rec}
	mo := manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256,
		IgnorePaths: append(append([]string(nil), manifest.DefaultIgnorePaths...), "model.sig", oms.ProvenanceFile)}
	m, err := manifest.Build(ctx, rec.Out, mo)
	if err != nil {
		return nil, err
	}
	if len(m.Items) == 0 {
		return nil, fmt.Errorf("%w: the command wrote no file into --out %s: nothing to sign", pull.ErrGate, rec.Out)
	}
	rec.Subjects = map[string]string{}
	for _, it := range m.Items {
		rec.Subjects[it.File] = hex.EncodeToString(it.Digest)
	}
	rec.Root = m.Root().String()
	res.Root, res.Files = rec.Root, len(m.Items)
	res.Scan, err = pull.ScanFolder(ctx, pol, rec.Out)
	if err != nil {
		res.Signature, res.Provenance = "not written: the scan failed", "not written: the scan failed"
		return res, err
	}
	payload, err := lineage.Marshal(rec)
	if err != nil {
		return nil, err
	}
	sr, err := oms.Sign(ctx, rec.Out, signer, oms.ModelOptions{IgnorePaths: []string{oms.ProvenanceFile}})
	if err != nil {
		return nil, err
	}
	if sr.Root != rec.Root {
		os.Remove(sr.Signature)
		return nil, fmt.Errorf("%w: --out %s changed while it was being signed (root %s, then %s)", pull.ErrGate, rec.Out, rec.Root, sr.Root)
	}
	res.Signature, res.Signer = sr.Signature, sr.Signer
	bundle, _, err := oms.SignPayload(payload, signer)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(rec.Out, oms.ProvenanceFile)
	if err := oms.WriteFileAtomic(p, bundle, 0o644); err != nil {
		return nil, err
	}
	res.Provenance = p
	return res, nil
}

// sandboxSummary is the confinement recorded in the provenance.
func sandboxSummary(p *sandbox.Plan) map[string]string {
	s := map[string]string{"network": "none (Landlock: no TCP connect, no bind; seccomp: no UDP or foreign socket families)"}
	switch id := p.Identity; {
	case id.Dynamic:
		s["user"] = "a fresh user id for the run"
	default:
		s["user"] = id.User
	}
	if p.Landlock.Enforced {
		s["landlock"] = fmt.Sprintf("ABI %d", p.Landlock.ABI)
	} else {
		s["landlock"] = "not enforced on this kernel: the declared inputs were not enforced"
	}
	s["seccomp"] = fmt.Sprint(p.Seccomp.Enforced)
	s["namespaces"] = strings.Join(p.Process.Namespaces, "; ")
	return s
}

// emptyOrNew refuses an --out that exists and holds anything: the
// provenance says every file under it was made by this run.
func emptyOrNew(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return usageError{fmt.Errorf("--out %s: %w", dir, err)}
	case len(ents) > 0:
		return usagef("--out %s is not empty: its files would be signed as made by this run; give a new or empty folder", dir)
	}
	return nil
}

// existingDir returns an existing folder's absolute, clean path.
func existingDir(flag, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", usageError{err}
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	if !st.IsDir() {
		return "", usagef("%s %s: not a folder", flag, p)
	}
	return abs, nil
}

// within reports whether p is beneath folder dir.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// fileDigest is the hex SHA-256 of a regular file.
func fileDigest(p string) (string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", p)
	}
	sums, _, err := digest.Run(context.Background(), digest.SHA256, []digest.Task{{Path: p, Length: st.Size(), Size: st.Size()}}, 1)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sums[0]), nil
}

// readLimited reads a file of at most limit bytes.
func readLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, limit)
	}
	return data, nil
}
