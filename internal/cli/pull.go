package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/access"
	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/fetch"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
)

// pullResult prints a pull's evidence; verb names the command ("pull",
// "lock update").
type pullResult struct {
	*pull.Result
	verb string
}

// newPullResult is the evidence of r as it is printed, text and JSON: a
// refused pull pinned nothing (the pin gate passed, but the lock file is
// written only when every gate passes).
func newPullResult(r *pull.Result, verb string) pullResult {
	if r.OK || (r.Pinned != "added" && r.Pinned != "updated") {
		return pullResult{r, verb}
	}
	c := *r
	c.Gates = slices.Clone(r.Gates)
	for i, g := range c.Gates {
		if g.Name != "pin" || !g.OK {
			continue
		}
		if r.Pinned == "added" {
			c.Gates[i].Detail = "first pull: nothing pinned (the pull was refused, the lock file is unchanged)"
		} else {
			c.Gates[i].Detail = "lock not updated (the pull was refused, the lock file is unchanged); upstream changed: " +
				strings.TrimPrefix(g.Detail, "lock updated: ")
		}
	}
	c.Pinned, c.Changes = "", ""
	return pullResult{&c, verb}
}

func (r pullResult) Text(w io.Writer) error {
	var b strings.Builder
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "%s %s: %s\n", r.verb, verdict, r.Name)
	for _, s := range r.Sources {
		u := s.FinalURL
		if u == "" {
			u = s.URL // a registry blob: no redirects to report
		}
		fmt.Fprintf(&b, "  source:   %s (sha256 %s, %d bytes)\n", u, s.SHA256, s.Size)
	}
	for _, g := range r.Gates {
		mark := "ok"
		if !g.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(&b, "  gate %-9s %s: %s\n", g.Name, mark, g.Detail)
		writeFindings(&b, g.Findings)
	}
	if r.Diff != nil {
		fmt.Fprintf(&b, "  diff:     %s -> %s\n", r.Diff.Old, r.Diff.New)
		writeDiff(&b, r.Diff, "    ")
	}
	if r.Root != "" {
		fmt.Fprintf(&b, "  root:     %s (%d files, %d bytes)\n", r.Root, r.Files, r.Bytes)
	}
	if r.Dir != "" {
		fmt.Fprintf(&b, "  path:     %s\n", r.Dir)
	}
	// r.Failure is not repeated: it is the command's error, which follows on
	// standard error.
	_, err := io.WriteString(w, b.String())
	return err
}

type checkResult struct{ *pull.CheckResult }

func (r checkResult) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "check %s: %s\n", r.Summary(), r.Target)
	fmt.Fprintf(&b, "  model:    %s (%s)\n", r.Name, r.Dir)
	fmt.Fprintf(&b, "  root:     %s\n", r.Root)
	if v := r.Verification; v != nil {
		fmt.Fprintf(&b, "  verify:   %s (%.1f ms)\n", v, v.ElapsedMS)
	}
	for _, g := range r.Gates {
		mark := "ok"
		if !g.OK {
			mark = "FAILED"
		}
		fmt.Fprintf(&b, "  gate %-9s %s: %s\n", g.Name, mark, g.Detail)
		writeFindings(&b, g.Findings)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxFindingsShown bounds the findings the text output lists per file;
// --json lists them all.
const maxFindingsShown = 20

// writeFindings lists every file the scan gate refused with its findings,
// at most maxFindingsShown each.
func writeFindings(b *strings.Builder, files []pull.FileFindings) {
	for _, f := range files {
		fmt.Fprintf(b, "    %s: %s", f.File, f.Verdict)
		if f.Unscannable != "" {
			fmt.Fprintf(b, ": %s", f.Unscannable)
		}
		b.WriteString("\n")
		for i, fd := range f.Findings {
			if i == maxFindingsShown {
				fmt.Fprintf(b, "      and %d more (--json lists them all)\n", len(f.Findings)-i)
				break
			}
			fmt.Fprintf(b, "      %s\n", fd)
		}
	}
}

// loadPolicy finds the policy (--policy, $TTSGUARD_POLICY, ./ttsguard.yaml, XDG, default).
func loadPolicy(path string) (*policy.Policy, error) {
	p, err := policy.Find(path)
	if err != nil {
		return nil, usageError{err}
	}
	return p, nil
}

// loadPolicyFor is loadPolicy for the command cmd: its caller must hold a
// role the command needs under the policy's access section
// (access.CommandRoles); the refusal names the role.
func loadPolicyFor(path, cmd string) (*policy.Policy, error) {
	p, err := loadPolicy(path)
	if err != nil {
		return nil, err
	}
	if err := access.Check(p.Access, cmd); err != nil {
		return nil, err
	}
	return p, nil
}

// progressBar draws bytes, rate and ETA on a terminal, and nothing otherwise.
func progressBar(w io.Writer) func(fetch.Progress) {
	if !isTerminal(w) {
		return nil
	}
	return func(p fetch.Progress) {
		total := "?"
		if p.Total >= 0 {
			total = fmt.Sprintf("%.1f MiB", float64(p.Total)/(1<<20))
		}
		fmt.Fprintf(w, "\r%s: %.1f / %s at %.1f MiB/s, %s left   ", p.URL, float64(p.Done)/(1<<20), total, p.Rate/(1<<20), p.ETA.Round(time.Second))
		if p.Total >= 0 && p.Done == p.Total {
			fmt.Fprintln(w)
		}
	}
}

// isTerminal reports whether w is a terminal (progress is drawn only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newPullCmd(g *globals) *cobra.Command {
	var o pull.Options
	var policyPath string
	c := &cobra.Command{
		Use:   "pull [--policy F] [--catalog F] [--name NAME] [--accept-tos] [--frozen] [--signature S] SOURCE...",
		Short: "Fetch a model (coqui id, https URL(s), local folder or archive) through every gate into the store",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pol, err := loadPolicyFor(policyPath, "pull")
			if err != nil {
				return err
			}
			o.Policy, o.Version, o.Progress = pol, Version(), progressBar(g.stderr)
			r, err := pull.Pull(c.Context(), o, args)
			if r != nil {
				if perr := g.printer().Print(newPullResult(r, "pull")); perr != nil && err == nil {
					return perr
				}
				for _, e := range pullEvents("pull", r, err) {
					if lerr := logEventAfter(g, pol, e, true, err); lerr != nil {
						return lerr
					}
				}
			}
			return pullErr(err)
		},
	}
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (default: $TTSGUARD_POLICY, ./ttsguard.yaml, $XDG_CONFIG_HOME/ttsguard/policy.yaml, built-in)")
	c.Flags().StringVar(&o.Catalog, "catalog", "", "coqui .models.json catalog (default: the installed TTS package's)")
	c.Flags().StringVar(&o.Name, "name", "", "name of the model in the store (default: the coqui id, or the source's name)")
	c.Flags().BoolVar(&o.AcceptTOS, "accept-tos", false, "accept the terms of service of coqui models that require it")
	c.Flags().BoolVar(&o.Frozen, "frozen", false, "refuse models the lock file does not pin")
	c.Flags().StringVar(&o.Signature, "signature", "", "OMS signature bundle for the model (instead of its own model.sig)")
	return c
}

// pullEvents are the audit log events of a pull or lock update: the
// model's, then one per requirement pulled with it (models.NAME.requires),
// each naming the model that requires it.
func pullEvents(cmd string, r *pull.Result, err error) []audit.Event {
	events := []audit.Event{pullEvent(cmd, r, err)}
	for _, d := range r.Requires {
		e := pullEvent(cmd, d, nil)
		e.Detail = "requirement of " + r.Name + "; " + e.Detail
		events = append(events, e)
	}
	return events
}

// pullEvent is the audit log event of a pull or lock update.
func pullEvent(cmd string, r *pull.Result, err error) audit.Event {
	e := audit.Event{Command: cmd, Model: r.Name, Root: r.Root, OK: r.OK && err == nil}
	src := r.Requested
	if len(r.Sources) > 0 {
		src = nil
	}
	for _, s := range r.Sources {
		if s.FinalURL != "" && s.FinalURL != s.URL {
			src = append(src, s.URL+" -> "+s.FinalURL)
		} else {
			src = append(src, s.URL)
		}
	}
	e.Detail = "from " + strings.Join(src, " ")
	if r.Pinned != "" {
		e.Detail += "; pin " + r.Pinned
	}
	if err != nil {
		e.Detail = firstLine(err.Error())
	}
	return e
}

// checkEvent is the audit log event of a check of a stored model.
func checkEvent(cmd string, r *pull.CheckResult, err error) audit.Event {
	e := audit.Event{Command: cmd, Model: r.Name, Root: r.Root, OK: r.OK && err == nil}
	for _, g := range r.Gates {
		if !g.OK {
			e.Detail = firstLine(g.Name + ": " + g.Detail)
			break
		}
	}
	if err != nil && e.Detail == "" {
		e.Detail = firstLine(err.Error())
	}
	if r.Verification != nil {
		e.Verify = firstLine(r.Verification.String())
	}
	return e
}

// pullErr maps pull errors to exit codes: gate failures are check failures.
func pullErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pull.ErrUsage):
		return usageError{err}
	}
	return err
}

func newCheckCmd(g *globals) *cobra.Command {
	var policyPath, name string
	c := &cobra.Command{
		Use:   "check [--policy F] [--name NAME] PATH|NAME",
		Short: "Run every gate of the policy on a model folder or a stored model (what a deployment runs before starting tts-server)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pol, err := loadPolicyFor(policyPath, "check")
			if err != nil {
				return err
			}
			r, err := pull.Check(c.Context(), pol, args[0], name)
			if r != nil {
				if perr := g.printer().Print(checkResult{r}); perr != nil && err == nil {
					return perr
				}
				if r.Stored { // a folder outside the store is not the store's business
					if lerr := logEventAfter(g, pol, checkEvent("check", r, err), false, err); lerr != nil {
						return lerr
					}
				}
			}
			if err != nil && r == nil {
				return usageError{err}
			}
			return err
		},
	}
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file")
	c.Flags().StringVar(&name, "name", "", "model name for a folder's pins and signers (default: the folder's name)")
	return c
}
