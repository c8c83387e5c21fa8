package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/dataset/htmlreport"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// datasetFailed is a dataset audit with a finding at or above the policy's
// dataset.fail_on: exit 1 (it unwraps to errUnsafe).
type datasetFailed struct {
	counts map[string]int
	failOn scan.Severity
}

func (e datasetFailed) Error() string {
	n := 0
	for s := e.failOn; s <= scan.Critical; s++ {
		n += e.counts[s.String()]
	}
	return fmt.Sprintf("dataset audit: %d findings at or above %s", n, e.failOn)
}

// datasetPolicy sets opt's thresholds, severity overrides and ignores from
// the policy's dataset section and returns the severity the audit fails at.
func datasetPolicy(opt *dataset.Options, pol *policy.Policy) scan.Severity {
	th, sev, ign, failOn := pol.Dataset.Options()
	opt.Thresholds, opt.Severity, opt.Ignore = th, sev, ign
	return failOn
}

func (e datasetFailed) Unwrap() error { return errUnsafe }

func newDatasetCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "dataset",
		Short: "Audit TTS training datasets",
	}
	c.AddCommand(newDatasetAuditCmd(g), newDatasetDiffCmd(g), newDatasetMergeCmd(g))
	return c
}

// datasetConfig fills opt (and dir, when empty) from a coqui training
// config's first datasets[] entry, audio and characters; flags win. It
// checks that a known formatter is set and returns the config (nil without
// one).
func datasetConfig(opt *dataset.Options, dir *string, configPath string) (*dataset.Config, error) {
	var cfg *dataset.Config
	if configPath != "" {
		f, err := os.Open(configPath)
		if err != nil {
			return nil, usageError{err}
		}
		cfg, err = dataset.ReadConfig(f)
		f.Close()
		if err != nil {
			return nil, usagef("--config %q: %v", configPath, err)
		}
		if len(cfg.Datasets) > 0 {
			ds := cfg.Datasets[0]
			if opt.Formatter == "" {
				opt.Formatter = ds.Formatter
			}
			if opt.MetaFile == "" && ds.Formatter == opt.Formatter {
				opt.MetaFile, opt.MetaFileVal = ds.MetaFileTrain, ds.MetaFileVal
			}
			if *dir == "" {
				*dir = ds.Path
			}
			opt.Language = ds.Language
		}
		opt.SampleRate, opt.Charset, opt.Cleaner = cfg.Audio.SampleRate, cfg.Charset(), cfg.TextCleaner
	}
	if err := checkFormatter(opt.Formatter); err != nil {
		return nil, err
	}
	return cfg, nil
}

func checkFormatter(f string) error {
	switch {
	case f == "":
		return usagef("no formatter: give --formatter (%s) or a --config with datasets", strings.Join(dataset.Formatters, ", "))
	case !slices.Contains(dataset.Formatters, f):
		return usagef("unknown formatter %q (known: %s)", f, strings.Join(dataset.Formatters, ", "))
	}
	return nil
}

// datasetParts lists every datasets[] entry of cfg as a part to audit, each
// checked (formatter known, path a folder).
func datasetParts(cfg *dataset.Config) ([]dataset.Part, error) {
	var parts []dataset.Part
	for i, ds := range cfg.Datasets {
		name := fmt.Sprintf("datasets[%d]", i)
		if err := checkFormatter(ds.Formatter); err != nil {
			return nil, usagef("--config %s: %v", name, err)
		}
		if err := datasetDir(ds.Path); err != nil {
			return nil, usagef("--config %s: %v", name, err)
		}
		parts = append(parts, dataset.Part{Name: name, Root: ds.Path, FS: os.DirFS(ds.Path), Formatter: ds.Formatter,
			MetaFile: ds.MetaFileTrain, MetaFileVal: ds.MetaFileVal, Language: ds.Language})
	}
	return parts, nil
}

// datasetDir checks that dir names a folder.
func datasetDir(dir string) error {
	if dir == "" {
		return usagef("no dataset folder: give DIR or a --config whose dataset has a path")
	}
	if fi, err := os.Stat(dir); err != nil {
		return usageError{err}
	} else if !fi.IsDir() {
		return usagef("%q is not a folder", dir)
	}
	return nil
}

func newDatasetDiffCmd(g *globals) *cobra.Command {
	var formatter, metaFile, configPath, pubPath, policyPath string
	c := &cobra.Command{
		Use:   "diff [--formatter F] [--meta-file F] [--config config.json] [--json] OLD NEW",
		Short: "List the rows and files added, removed and changed between two versions of a dataset",
		Long: "diff reads both folders as coqui's formatter does and lists rows added, removed and changed (text, audio path, " +
			"audio content, speaker) and every file added, removed or changed (SHA-256), so a review sees exactly what " +
			"entered the data since a known state. OLD may instead be the dataset's signature (a model.sig made by " +
			"`ttsguard sign` or model_signing): it is verified with --public-key or the policy's signers, and NEW is " +
			"compared with the files it vouches for (rows whose audio is new, changed or gone; a note when a metadata " +
			"file changed). Exit 0 when both were compared (whatever the differences), 1 when the signature does not " +
			"verify, 2 for bad usage.",
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			opt := dataset.Options{Formatter: formatter, MetaFile: metaFile}
			dir := args[1]
			if _, err := datasetConfig(&opt, &dir, configPath); err != nil {
				return err
			}
			if fi, err := os.Stat(args[0]); err == nil && fi.Mode().IsRegular() {
				if err := datasetDir(args[1]); err != nil {
					return err
				}
				st, err := signedState(c, args[0], args[1], pubPath, policyPath)
				if err != nil {
					return err
				}
				d, err := dataset.DiffSigned(c.Context(), *st, os.DirFS(args[1]), args[1], opt.Formatter, opt.MetaFile)
				if err != nil {
					return err
				}
				return g.printer().Print(d)
			}
			for _, d := range args {
				if err := datasetDir(d); err != nil {
					return err
				}
			}
			d, err := dataset.Diff(c.Context(), os.DirFS(args[0]), os.DirFS(args[1]), args[0], args[1], opt.Formatter, opt.MetaFile)
			if err != nil {
				return err
			}
			return g.printer().Print(d)
		},
	}
	c.Flags().StringVar(&formatter, "formatter", "", "coqui formatter: "+strings.Join(dataset.Formatters, ", ")+" (default: the config's)")
	c.Flags().StringVar(&metaFile, "meta-file", "", "metadata file relative to each folder (default: the config's meta_file_train or the formatter's)")
	c.Flags().StringVar(&configPath, "config", "", "coqui training config.json: formatter and meta file")
	c.Flags().StringVar(&pubPath, "public-key", "", "with a signature as OLD: the signer's public key (default: the policy's signers)")
	c.Flags().StringVar(&policyPath, "policy", "", "with a signature as OLD: trust policy file whose signers may have signed it")
	return c
}

// signedState verifies the dataset signature sig (with the public key at
// pubPath, else with each signer of the policy) and compares the folder
// dir with the files it vouches for. A signature no trusted key verifies
// is an error (exit 1), never a comparison.
func signedState(c *cobra.Command, sig, dir, pubPath, policyPath string) (*dataset.SignedState, error) {
	type named struct {
		name string
		v    oms.SignatureVerifier
	}
	var vs []named
	if pubPath != "" {
		v, err := keyVerifier(pubPath)
		if err != nil {
			return nil, err
		}
		vs = append(vs, named{pubPath, v})
	} else {
		pol, err := loadPolicy(policyPath)
		if err != nil {
			return nil, err
		}
		for _, s := range pol.Signers {
			v, err := pull.VerifierFor(s)
			if err != nil {
				return nil, err
			}
			vs = append(vs, named{"signer " + s.Name, v})
		}
		if len(vs) == 0 {
			return nil, usagef("%s is a signature: give --public-key, or a policy with signers, to verify it", sig)
		}
	}
	var fails []string
	for _, n := range vs {
		r, err := oms.Verify(c.Context(), dir, n.v, oms.VerifyOptions{ModelOptions: oms.ModelOptions{Signature: sig}})
		if r == nil {
			return nil, err // could not be checked at all
		}
		if err == nil || len(r.Missing)+len(r.Extra)+len(r.Changed) > 0 {
			return &dataset.SignedState{Label: fmt.Sprintf("%s (verified: %s, root %s)", sig, n.name, r.Root),
				Missing: r.Missing, Extra: r.Extra, Changed: r.Changed}, nil
		}
		fails = append(fails, fmt.Sprintf("%s: %s", n.name, r.Failure))
	}
	return nil, fmt.Errorf("%w: %s: no trusted key verifies it: %s", oms.ErrVerification, sig, strings.Join(fails, "; "))
}

// auditProgress draws the clips decoded on a terminal, at most ten times a
// second and at the end; nil (nothing drawn) when w is not a terminal.
func auditProgress(w io.Writer) func(done, total int) {
	if !isTerminal(w) {
		return nil
	}
	var last time.Time
	return func(done, total int) {
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\rdecoding clips: %d / %d (%d%%)   ", done, total, 100*done/max(total, 1))
		if done == total {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}

// logDatasetAudit records an audit in the audit log of the policy's store,
// when that store exists (an audit creates no store): the dataset's root
// digest, the verdict and the counts. A log that cannot be written is a
// warning; one that does not verify is an error.
func logDatasetAudit(g *globals, pol *policy.Policy, rep *dataset.Report, failOn scan.Severity, cmdErr error) error {
	sd, err := pol.StoreDir()
	if err != nil {
		return nil
	}
	if _, err := os.Stat(sd); err != nil {
		return nil
	}
	detail := fmt.Sprintf("%s (formatter %s): %d rows, %d clips, %.0f s; findings %s; fail_on %s",
		rep.Root, rep.Formatter, rep.Rows, rep.Clips, rep.Seconds, countsLine(rep.Counts), failOn)
	if n := len(rep.Silenced); n > 0 {
		detail += fmt.Sprintf("; %d silenced by the policy", n)
	}
	if rep.Shards > 0 {
		detail += fmt.Sprintf("; merged from %d shards", rep.Shards)
	}
	if rep.RootDigestError != "" {
		detail += "; no root digest: " + rep.RootDigestError
	}
	root := rep.RootDigest
	for _, p := range rep.Parts {
		detail += fmt.Sprintf("; %s %s root %s", p.Name, p.Root, p.RootDigest)
		if root == "" {
			root = p.RootDigest
		}
	}
	e := audit.Event{Command: "dataset-audit", Root: root, OK: cmdErr == nil, Detail: firstLine(detail)}
	return logEventAfter(g, pol, e, false, cmdErr)
}

// countsLine writes finding counts worst first ("none" for none).
func countsLine(counts map[string]int) string {
	var parts []string
	for s := scan.Critical; s >= scan.Info; s-- {
		if n := counts[s.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func newDatasetAuditCmd(g *globals) *cobra.Command {
	var formatter, metaFile, configPath, policyPath, format, htmlPath, shardSpec, shardKey string
	c := &cobra.Command{
		Use:   "audit [--formatter F] [--meta-file F] [--config config.json] [--policy FILE] [--json | --format sarif] [--html FILE] [--shard I/N [--shard-key FILE]] [DIR]",
		Short: "Find unsafe metadata, text triggers, broken audio and mismatched labels in a coqui dataset",
		Long: "audit reads a dataset exactly as coqui's formatter does (" + strings.Join(dataset.Formatters, ", ") +
			") and reports every finding with its clip and evidence. Exit 1 when a finding is at or above the policy's " +
			"dataset.fail_on (default medium); the policy's dataset section also holds the thresholds, severity overrides " +
			"and silenced findings (docs/dataset-audit.md). With --config and no DIR, --formatter or --meta-file, every entry of the " +
			"config's datasets[] is audited (each at its path) and each finding names its entry (datasets[N]). --html FILE also " +
			"writes one self-contained page (no script, no request) with the summary, the findings by rule and plots: duration " +
			"against transcript length, the spectra of clips with an inaudible tone, the audio per speaker. --shard I/N audits " +
			"only the clips of slice I of N (by the SHA-256 of each clip's path) and writes a shard report (JSON) for `dataset merge`, " +
			"which runs the rules across clips on all the shards' evidence; a shard exits 0 when its report is written.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := reportFormat(format); err != nil {
				return err
			}
			var shard dataset.Shard
			if shardKey != "" && !c.Flags().Changed("shard") {
				return usagef("--shard-key authenticates a shard report: it goes with --shard")
			}
			if c.Flags().Changed("shard") {
				var err error
				if shard, err = dataset.ParseShard(shardSpec); err != nil {
					return usagef("--shard: %v", err)
				}
				if format == "sarif" || htmlPath != "" {
					return usagef("--shard writes a shard report (JSON) for `dataset merge`; --format sarif and --html belong to the merge")
				}
			}
			opt := dataset.Options{Formatter: formatter, MetaFile: metaFile, Workers: runtime.NumCPU()}
			pol, err := loadPolicy(policyPath)
			if err != nil {
				return err
			}
			failOn := datasetPolicy(&opt, pol)
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			// with a config and neither DIR nor --formatter, every
			// datasets[] entry is audited
			whole := dir == "" && formatter == "" && metaFile == ""
			cfg, err := datasetConfig(&opt, &dir, configPath)
			if err != nil {
				return err
			}
			var parts []dataset.Part
			if whole && cfg != nil && len(cfg.Datasets) > 1 {
				if parts, err = datasetParts(cfg); err != nil {
					return err
				}
			} else {
				if err := datasetDir(dir); err != nil {
					return err
				}
				parts = []dataset.Part{{Root: dir, FS: os.DirFS(dir), Formatter: opt.Formatter, MetaFile: opt.MetaFile, MetaFileVal: opt.MetaFileVal, Language: opt.Language}}
			}
			if shard.N > 0 {
				// a shard reads the metadata and its own clips, and
				// hashes its own files for the folder's root digest
				files := make([]chan *dataset.ShardFiles, len(parts))
				for i, p := range parts {
					files[i] = make(chan *dataset.ShardFiles, 1)
					go func() { files[i] <- dataset.FolderShardFiles(c.Context(), p.Root, shard) }()
				}
				opt.Progress = auditProgress(g.stderr)
				sr, err := dataset.AuditShard(c.Context(), parts, opt, shard, Version())
				for i := range parts {
					sf := <-files[i]
					if err == nil {
						sr.Datasets[i].Files = sf
					}
				}
				if err != nil {
					return err
				}
				if shardKey != "" {
					key, err := readShardKey(shardKey)
					if err != nil {
						return err
					}
					return sr.WriteMAC(c.OutOrStdout(), key)
				}
				return sr.WriteJSON(c.OutOrStdout())
			}
			if htmlPath != "" {
				if err := htmlTarget(htmlPath); err != nil {
					return err
				}
				opt.LabelPoints = htmlLabelPoints
			}
			// the root digests (what `ttsguard digest DIR` prints and a
			// signature covers) are computed while the audit runs
			type rootResult struct {
				root string
				err  error
			}
			rootChs := make([]chan rootResult, len(parts))
			for i, p := range parts {
				rootChs[i] = make(chan rootResult, 1)
				go func() {
					r, err := oms.Digest(c.Context(), p.Root, oms.ModelOptions{Method: manifest.MethodFiles})
					if err != nil {
						rootChs[i] <- rootResult{err: err}
						return
					}
					rootChs[i] <- rootResult{root: r.Root}
				}()
			}
			opt.Progress = auditProgress(g.stderr)
			var rep *dataset.Report
			if len(parts) == 1 {
				rep, err = dataset.Audit(c.Context(), parts[0].FS, parts[0].Root, opt)
			} else {
				rep, err = dataset.AuditParts(c.Context(), parts, opt)
			}
			rrs := make([]rootResult, len(parts))
			for i := range parts {
				rrs[i] = <-rootChs[i]
			}
			if err != nil {
				return err
			}
			if len(parts) == 1 {
				rep.RootDigest = rrs[0].root
				if rrs[0].err != nil {
					rep.RootDigestError = rrs[0].err.Error()
				}
			} else {
				var errs []string
				for i, rr := range rrs {
					rep.Parts[i].RootDigest = rr.root
					if rr.err != nil {
						errs = append(errs, fmt.Sprintf("%s: %v", parts[i].Name, rr.err))
					}
				}
				rep.RootDigestError = strings.Join(errs, "; ")
			}
			return datasetOutput(c, g, pol, rep, failOn, format, htmlPath)
		},
	}
	c.Flags().StringVar(&formatter, "formatter", "", "coqui formatter: "+strings.Join(dataset.Formatters, ", ")+" (default: the config's)")
	c.Flags().StringVar(&metaFile, "meta-file", "", "metadata file relative to DIR (default: the config's meta_file_train or the formatter's)")
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (its dataset section)")
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or sarif (--json is the same as --format json)")
	c.Flags().StringVar(&configPath, "config", "", "coqui training config.json: formatter, meta file, path, sample rate, character set")
	c.Flags().StringVar(&htmlPath, "html", "", "also write the report as one self-contained HTML page to FILE (replaced atomically)")
	c.Flags().StringVar(&shardSpec, "shard", "", "audit slice I of N (0 <= I < N) and write its shard report (JSON) for `dataset merge`")
	c.Flags().StringVar(&shardKey, "shard-key", "", "with --shard: authenticate the shard report with the key in this file (at least 32 bytes, shared with the merge)")
	return c
}

// datasetOutput writes a dataset report (text, --json, SARIF, and the HTML
// page), records it in the audit log and returns the verdict: what `dataset
// audit` and `dataset merge` end with.
func datasetOutput(c *cobra.Command, g *globals, pol *policy.Policy, rep *dataset.Report, failOn scan.Severity, format, htmlPath string) error {
	var err error
	if format == "sarif" {
		wd, _ := os.Getwd()
		if abs, err := filepath.Abs(wd); err == nil {
			wd = abs
		}
		err = rep.WriteSARIF(c.OutOrStdout(), Version(), wd)
	} else {
		p := g.printer()
		p.JSON = p.JSON || format == "json"
		err = p.Print(rep)
	}
	if err != nil {
		return err
	}
	if htmlPath != "" {
		hopt := htmlreport.Options{FailOn: failOn, Version: Version(), Generated: time.Now()}
		if err := htmlreport.WriteFile(htmlPath, rep, hopt); err != nil {
			return err
		}
	}
	var cmdErr error
	if rep.Failed(failOn) {
		cmdErr = datasetFailed{rep.Counts, failOn}
	}
	if lerr := logDatasetAudit(g, pol, rep, failOn, cmdErr); lerr != nil {
		return lerr
	}
	return cmdErr
}

func newDatasetMergeCmd(g *globals) *cobra.Command {
	var policyPath, format, htmlPath, shardKey string
	c := &cobra.Command{
		Use:   "merge [--policy FILE] [--shard-key FILE] [--json | --format sarif] [--html FILE] SHARD.json...",
		Short: "Combine the shard reports of `dataset audit --shard I/N` into the audit's report",
		Long: "merge reads the shard reports of every shard of one audit (all N, each once, of the same dataset, config, " +
			"policy and ttsguard version, or it refuses), runs the rules across clips (duplicates and near-duplicates, " +
			"clips referenced twice, rate outliers, rare tokens, majority format, composition and imbalance) on their " +
			"evidence put together, and writes the report the unsharded audit writes, with its exit code (1: a finding at " +
			"or above the policy's dataset.fail_on). Give it the --policy the shards used.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := reportFormat(format); err != nil {
				return err
			}
			pol, err := loadPolicy(policyPath)
			if err != nil {
				return err
			}
			var opt dataset.Options
			failOn := datasetPolicy(&opt, pol)
			if htmlPath != "" {
				if err := htmlTarget(htmlPath); err != nil {
					return err
				}
				opt.LabelPoints = htmlLabelPoints
			}
			var key []byte
			if shardKey != "" {
				if key, err = readShardKey(shardKey); err != nil {
					return err
				}
			}
			srs := make([]*dataset.ShardReport, len(args))
			for i, name := range args {
				f, err := os.Open(name)
				if err != nil {
					return usageError{err}
				}
				srs[i], err = dataset.ReadShardReport(f, name, key)
				f.Close()
				if errors.Is(err, dataset.ErrUnauthentic) {
					return err // exit 1: a report changed, or not the workers'
				}
				if err != nil {
					return usageError{err}
				}
			}
			rep, err := dataset.Merge(srs, args, opt, Version())
			if err != nil {
				return usageError{err}
			}
			return datasetOutput(c, g, pol, rep, failOn, format, htmlPath)
		},
	}
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (its dataset section; the one the shards used)")
	c.Flags().StringVar(&shardKey, "shard-key", "", "the key the shards authenticated their reports with: every report must carry its MAC (exit 1 when one does not verify)")
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or sarif (--json is the same as --format json)")
	c.Flags().StringVar(&htmlPath, "html", "", "also write the report as one self-contained HTML page to FILE (replaced atomically)")
	return c
}

// htmlLabelPoints is how many (duration, letters) points besides the rate
// outliers the HTML report draws.
const htmlLabelPoints = 2000

// htmlTarget checks, before the audit runs, that --html names a file in an
// existing folder (not a folder itself).
func htmlTarget(p string) error {
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return usagef("--html %q is a folder; give a file name", p)
	}
	if fi, err := os.Stat(filepath.Dir(p)); err != nil {
		return usagef("--html %q: %v", p, err)
	} else if !fi.IsDir() {
		return usagef("--html %q: %q is not a folder", p, filepath.Dir(p))
	}
	return nil
}

// readShardKey reads the key that authenticates shard reports: the file's
// bytes, at least dataset.MinShardKey of them (a Kubernetes Secret
// mounted into the shard workers and the merge; `head -c 32 /dev/urandom`
// makes one).
func readShardKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--shard-key: %v", err)
	}
	if len(key) < dataset.MinShardKey {
		return nil, usagef("--shard-key %s: %d bytes, want at least %d", path, len(key), dataset.MinShardKey)
	}
	return key, nil
}

// reportFormat checks the --format of a dataset report.
func reportFormat(format string) error {
	switch format {
	case "", "text", "json", "sarif":
		return nil
	}
	return usagef("--format %q: want text, json or sarif", format)
}
