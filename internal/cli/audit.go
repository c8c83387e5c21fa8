package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/metrics"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/store"
)

// auditResult is the evidence of `ttsguard audit`: every stored model
// checked again, the store's owners and modes, and the audit log.
type auditResult struct {
	Time   time.Time           `json:"time"`
	Models []*pull.CheckResult `json:"models"`
	Errors []string            `json:"errors,omitempty"` // models that could not be checked (I/O)
	Doctor *audit.Report       `json:"doctor"`
	Log    *audit.LogReport    `json:"log"`
	// Datasets are the --dataset folders of record, their roots now.
	Datasets []*auditDataset `json:"datasets,omitempty"`
	// Channels are the policy's update channels, by their last verified
	// timestamp (auditChannels).
	Channels []auditChannel `json:"channels,omitempty"`
	OK       bool           `json:"ok"`
	Summary  string         `json:"summary"`
}

func (r *auditResult) Text(w io.Writer) error {
	var b strings.Builder
	for _, m := range r.Models {
		fmt.Fprintf(&b, "model %-7s %s %s\n", m.Summary(), m.Name, m.Root)
		if v := m.Verification; v != nil {
			fmt.Fprintf(&b, "  verify %s\n", v)
		}
		for _, g := range m.Gates {
			if !g.OK {
				fmt.Fprintf(&b, "  gate %-9s FAILED: %s\n", g.Name, g.Detail)
			}
		}
	}
	for _, d := range r.Datasets {
		fmt.Fprintf(&b, "dataset %s %s at %s: ", d.Name, d.Root, d.Path)
		switch {
		case len(d.Changed) > 0:
			fmt.Fprintf(&b, "FAILED: changed since %s were trained on it\n", strings.Join(d.Changed, ", "))
		case len(d.Models) > 0:
			fmt.Fprintf(&b, "as %s were trained on it\n", strings.Join(d.Models, ", "))
		default:
			b.WriteString("no stored model's provenance names it\n")
		}
	}
	for _, c := range r.Channels {
		fmt.Fprintf(&b, "channel %s: %s\n", c.Name, c.Detail)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	if r.Doctor != nil {
		high, medium, low, _ := r.Doctor.Count()
		fmt.Fprintf(&b, "doctor: %d findings (%d high, %d medium, %d low)", len(r.Doctor.Findings), high, medium, low)
		if len(r.Doctor.Findings) > 0 {
			b.WriteString(": run ttsguard doctor for the details and fixes")
		}
		b.WriteByte('\n')
	}
	if r.Log != nil {
		verdict := "OK"
		if !r.Log.OK {
			verdict = "FAILED"
		}
		fmt.Fprintf(&b, "audit log: %s, %d records", verdict, r.Log.Records)
		if r.Log.Problem != "" {
			fmt.Fprintf(&b, " (%s)", r.Log.Problem)
		}
		b.WriteByte('\n')
	}
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "audit %s: %s\n", verdict, r.Summary)
	_, err := io.WriteString(w, b.String())
	return err
}

// errAuditFailed: a model, the store's modes or the log failed: exit 1.
var errAuditFailed = errors.New("audit found problems")

// auditDataset is a dataset of record given to audit: its root now, the
// stored models whose provenance names it (by its folder's name) with that
// root, and those that name another root (trained on other content: it
// changed since, or they were trained on another copy).
type auditDataset struct {
	Name    string   `json:"name"`
	Path    string   `json:"path"`
	Root    string   `json:"root"`
	Models  []string `json:"models,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// datasetGate compares the datasets a model's provenance records with the
// datasets of record of the same name; nil when it names none of them.
func datasetGate(cr *pull.CheckResult, ds []*auditDataset) *pull.Gate {
	if cr.Lineage == nil {
		return nil
	}
	var ok, bad []string
	for _, rd := range cr.Lineage.Datasets {
		for _, d := range ds {
			if d.Name != rd.Name {
				continue
			}
			if d.Root == rd.Root {
				ok = append(ok, fmt.Sprintf("%s at %s still has root %s", d.Name, d.Path, d.Root))
				d.Models = append(d.Models, cr.Name)
			} else {
				bad = append(bad, fmt.Sprintf("%s at %s has root %s, the model was trained on %s", d.Name, d.Path, d.Root, rd.Root))
				d.Changed = append(d.Changed, cr.Name)
			}
		}
	}
	if len(ok)+len(bad) == 0 {
		return nil
	}
	if len(bad) > 0 {
		return &pull.Gate{Name: "dataset", Detail: strings.Join(bad, "; ")}
	}
	return &pull.Gate{Name: "dataset", OK: true, Detail: strings.Join(ok, "; ")}
}

func newAuditCmd(g *globals) *cobra.Command {
	var policyPath, metricsFile string
	var datasets []string
	var quick bool
	c := &cobra.Command{
		Use:   "audit [--policy F] [--quick] [--dataset DIR]... [--metrics FILE] [--json]",
		Short: "Check every stored model again (hashes, pins, signatures, scan with today's rules), the store's owners and modes, and the audit log",
		Long: "What to run on a schedule (docs/audit-log.md has a systemd timer). Every stored model's current version " +
			"is re-hashed against its stored manifest and goes through every gate of the policy again, so a model " +
			"changed on disk, a pin or signer the policy no longer accepts, and a checkpoint that today's scanner rules " +
			"flag all show. Then doctor's checks and the audit log's. Each model's outcome and the summary are " +
			"recorded in the audit log. Exit 1 when anything failed. --quick skips re-hashing the files that the " +
			"store's stat record proves unchanged since they were hashed (docs/storage.md), as check and run do; " +
			"without it every file is hashed. A stored model's training provenance (provenance.sig) goes through the " +
			"provenance gate again; with --dataset DIR (a dataset of record), a model whose provenance names a dataset " +
			"of that folder's name fails unless the folder's root digest is still the one it was trained on (docs/provenance.md).",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			pol, st, err := openStore(policyPath, "audit")
			if err != nil {
				return err
			}
			vf := pull.Verify{Why: "audit without --quick hashes every file"}
			if quick {
				vf = pull.Verify{Fast: true}
			}
			var ds []*auditDataset
			for _, d := range datasets {
				dir, err := existingDir("--dataset", d)
				if err != nil {
					return err
				}
				cr, err := pull.CheckDataset(c.Context(), pol, dir, filepath.Base(dir))
				if cr == nil {
					return fmt.Errorf("dataset %q: %w", dir, err)
				}
				ds = append(ds, &auditDataset{Name: cr.Name, Path: dir, Root: cr.Root})
			}
			return runAudit(c.Context(), g, pol, policyPath, st, vf, ds, metricsFile)
		},
	}
	c.Flags().StringArrayVar(&datasets, "dataset", nil, "a training dataset of record (repeatable): a stored model whose training provenance names a dataset of its folder's name fails unless the folder still has the root it was trained on")
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (it names the store)")
	c.Flags().BoolVar(&quick, "quick", false, "skip re-hashing files the store's stat record proves unchanged")
	c.Flags().StringVar(&metricsFile, "metrics", "", "also write Prometheus text-format metrics to this file, atomically (for node_exporter's textfile collector: a .prom file in its folder)")
	return c
}

func runAudit(ctx context.Context, g *globals, pol *policy.Policy, policyPath string, st *store.Store, vf pull.Verify, ds []*auditDataset, metricsFile string) error {
	r := &auditResult{Time: time.Now().UTC(), OK: true, Datasets: ds}
	versions, err := st.List()
	if err != nil {
		return err
	}
	failed := 0      // models checked that failed a gate
	var logErr error // the first event that could not be recorded: no more are tried
	for _, v := range versions {
		cr, err := pull.CheckStoredVerify(ctx, pol, v.Name, vf)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cr == nil || !cr.Stored {
			r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", v.Name, err))
			r.OK = false
			continue
		}
		if dg := datasetGate(cr, ds); dg != nil {
			cr.Gates = append(cr.Gates, *dg)
			if !dg.OK {
				cr.OK = false
				if err == nil {
					err = fmt.Errorf("%w: %s: dataset: %s", pull.ErrGate, cr.Name, dg.Detail)
				}
			}
		}
		r.Models = append(r.Models, cr)
		if err != nil || !cr.OK {
			r.OK = false
			failed++
		}
		if logErr == nil {
			logErr = logEvent(g, pol, checkEvent("audit", cr, err), true)
		}
	}
	if r.Doctor, err = audit.Doctor(ctx, audit.Options{PolicyFile: policyPath}); err != nil && !errors.Is(err, audit.ErrFindings) {
		r.OK = false
		r.Errors = append(r.Errors, "doctor: "+err.Error())
	} else if r.Doctor != nil && len(r.Doctor.Findings) > 0 {
		r.OK = false
	}
	l, err := audit.OpenLog(st.Root, false)
	switch {
	case errors.Is(err, audit.ErrNoLog): // nothing recorded yet; the summary event starts it
		r.Log = &audit.LogReport{Dir: filepath.Join(st.Root, audit.LogDir), OK: true, Problem: "no audit log yet"}
	case err != nil && (errors.Is(err, audit.ErrTampered) || errors.Is(err, audit.ErrBadRecord)):
		r.Log = &audit.LogReport{Dir: filepath.Join(st.Root, audit.LogDir), Problem: err.Error()}
		r.OK = false
	case err != nil:
		return err
	default:
		if r.Log, err = l.Verify(nil); err != nil {
			r.OK = false
		}
	}
	frozen := auditChannels(r, st.Root, pol)
	findings := 0
	if r.Doctor != nil {
		findings = len(r.Doctor.Findings)
	}
	logState := "ok"
	if r.Log != nil && !r.Log.OK {
		logState = "FAILED"
	}
	r.Summary = fmt.Sprintf("%d models, %d failed, %d not checked; doctor: %d findings; audit log %s",
		len(versions), failed, len(versions)-len(r.Models), findings, logState)
	if len(r.Channels) > 0 {
		r.Summary += fmt.Sprintf("; channels: %d of %d stale or frozen", frozen, len(r.Channels))
	}
	failed += frozen
	if perr := g.printer().Print(r); perr != nil {
		return perr
	}
	if logErr == nil && r.Log != nil && r.Log.OK {
		logErr = logEvent(g, pol, audit.Event{Command: "audit", OK: r.OK, Detail: r.Summary}, true)
	}
	var metricsErr error
	if metricsFile != "" {
		// After the summary event, so that the log's size and checkpoint
		// time include it.
		metricsErr = metrics.WriteFile(metricsFile, auditSnapshot(r, versions, st))
	}
	err = auditVerdict(g, r, failed, findings, logState, logErr)
	switch {
	case metricsErr == nil:
		return err
	case err == nil:
		return metricsErr
	}
	fmt.Fprintf(g.stderr, "ttsguard: %v\n", metricsErr)
	return err
}

// auditVerdict is the error an audit returns: its failures (exit 1), an
// event it could not record, or models it could not check (exit 3).
func auditVerdict(g *globals, r *auditResult, failed, findings int, logState string, logErr error) error {
	switch {
	case failed > 0 || findings > 0 || logState != "ok":
		if logErr != nil {
			fmt.Fprintf(g.stderr, "ttsguard: %v\n", logErr)
		}
		return fmt.Errorf("%w: %s", errAuditFailed, r.Summary)
	case logErr != nil:
		return logErr
	case len(r.Errors) > 0: // nothing failed, but not everything could be checked: exit 3
		return fmt.Errorf("audit incomplete: %s", strings.Join(r.Errors, "; "))
	}
	return nil
}

// auditSnapshot is what the audit's metrics say: each model checked, the
// store's size, doctor's findings and the audit log's size and last
// checkpoint.
func auditSnapshot(r *auditResult, versions []*store.Version, st *store.Store) metrics.Snapshot {
	s := metrics.Snapshot{Time: r.Time, OK: r.OK, NotChecked: len(versions) - len(r.Models), DoctorFindings: map[string]int{}}
	for _, v := range versions {
		s.StoreBytes += v.Bytes
	}
	for _, cr := range r.Models {
		m := metrics.Model{Name: cr.Name, Verified: cr.OK, Findings: map[string]int{}}
		if v := cr.Verification; v != nil && v.LastHashed != nil {
			m.LastFullHash = *v.LastHashed
		}
		for _, gate := range cr.Gates {
			for _, ff := range gate.Findings {
				for _, f := range ff.Findings {
					m.Findings[f.Severity.String()]++
				}
			}
		}
		s.Models = append(s.Models, m)
	}
	if r.Doctor != nil {
		for _, f := range r.Doctor.Findings {
			s.DoctorFindings[f.Severity.String()]++
		}
	}
	if r.Log != nil {
		s.LogOK, s.LogRecords = r.Log.OK, r.Log.Records
	}
	records, checkpoint := audit.LogFiles(st.Root)
	if fi, err := os.Stat(records); err == nil {
		s.LogBytes = fi.Size()
	}
	if fi, err := os.Stat(checkpoint); err == nil {
		s.LastCheckpoint = fi.ModTime()
	}
	return s
}
