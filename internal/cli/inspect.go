package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/inspect"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/store"
	"github.com/ttsguard/ttsguard/internal/weightdiff"
)

// modelRef is a model named on the command line.
type modelRef struct {
	Path  string // the folder or file
	Label string // what to call it: the argument, or NAME@VERSION
	// Side is what a stored version's metadata says of its files, and how
	// to read their contents (a model encrypted at rest is decrypted).
	Side weightdiff.Side
}

var versionID = regexp.MustCompile(`^[0-9a-f]{4,16}$`)

// resolveModel finds what arg names: a folder or file; a stored model (its
// current version), which wins over a folder of the same name unless arg is
// written as a path ("./NAME"), as check does; or NAME@VERSION, a stored
// version by its id or a unique prefix of it.
func resolveModel(policyPath, arg string) (modelRef, error) {
	_, statErr := os.Stat(arg)
	pathLike := arg == "." || arg == ".." || strings.HasPrefix(arg, "./") || strings.HasPrefix(arg, "../") || filepath.IsAbs(arg)
	if pathLike {
		return modelRef{Path: arg, Label: arg}, statErr
	}
	_, st, err := openStoreToRead(policyPath, "inspect")
	if err != nil {
		return modelRef{}, err
	}
	name, ver, versioned := strings.Cut(arg, "@")
	if !versioned || !versionID.MatchString(ver) || statErr == nil {
		name, ver = arg, ""
	}
	var v *store.Version
	switch {
	case st == nil:
		err = fmt.Errorf("model %q: %w (no store yet)", name, store.ErrNotFound)
	case ver == "":
		v, err = st.Get(name)
	default:
		v, err = storedVersion(st, name, ver)
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrBadName) {
		if statErr == nil {
			return modelRef{Path: arg, Label: arg}, nil
		}
		return modelRef{}, usagef("%q is neither a folder or file nor a stored model (%v)", arg, err)
	}
	if err != nil {
		return modelRef{}, err
	}
	side, err := pull.StoredSide(st, v)
	if err != nil {
		return modelRef{}, err
	}
	return modelRef{Path: v.Dir, Label: v.Name + "@" + v.ID, Side: side}, nil
}

// storedVersion finds the version of name whose id starts with ver.
func storedVersion(st *store.Store, name, ver string) (*store.Version, error) {
	vs, err := st.Versions(name)
	if err != nil {
		return nil, err
	}
	var found *store.Version
	for _, v := range vs {
		if strings.HasPrefix(v.ID, ver) {
			if found != nil {
				return nil, usagef("version %q of %q is ambiguous: %s and %s", ver, name, found.ID, v.ID)
			}
			found = v
		}
	}
	if found == nil {
		return nil, fmt.Errorf("model %q has no version %q: %w", name, ver, store.ErrNotFound)
	}
	return found, nil
}

// inspectFailed is an inspection with a finding above info: exit 1 (it
// unwraps to errUnsafe).
type inspectFailed struct{ label string }

func (e inspectFailed) Error() string {
	return fmt.Sprintf("inspect %s: its checkpoints do not match its config, or cannot be read", e.label)
}

func (e inspectFailed) Unwrap() error { return errUnsafe }

type inspectResult struct{ *inspect.Report }

func (r inspectResult) Text(w io.Writer) error {
	var b strings.Builder
	verdict := "OK"
	if r.Failed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "inspect %s: %s\n", verdict, r.Path)
	if a := r.Arch; a != nil {
		check := "not checked: no rules for this model type"
		if a.Checked {
			check = fmt.Sprintf("checked: the config's model has %d tensors", a.Expected)
		}
		fmt.Fprintf(&b, "  config:   %s: model %q (%s)\n", r.Config, a.Model, check)
		for _, s := range a.Sizes {
			fmt.Fprintf(&b, "    %s = %s\n", s.Key, s.Value)
		}
	}
	if r.Model != "" {
		fmt.Fprintf(&b, "  model:    %s, %d parameters\n", r.Model, r.Params)
	}
	for _, ck := range r.Checkpoints {
		if ck.Error != "" {
			fmt.Fprintf(&b, "  %s: cannot be read: %s\n", ck.File, ck.Error)
			continue
		}
		fmt.Fprintf(&b, "  %s: %s, %d tensors (%d weights, %d parameters; %d parameters in all), %d bytes\n",
			ck.File, ck.Format, len(ck.Tensors), ck.Weights, ck.Params, ck.All, ck.Bytes)
		if ck.ScannerFindings > 0 {
			fmt.Fprintf(&b, "    the scanner has %d findings in it: run ttsguard scan\n", ck.ScannerFindings)
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    NAME\tDTYPE\tSHAPE\tPARAMETERS\tBYTES")
		for _, t := range ck.Tensors {
			name := t.Name
			if !t.Weight {
				name = "(" + name + ")"
			}
			note := ""
			if t.Problem != "" {
				note = "  ! " + t.Problem
			}
			fmt.Fprintf(tw, "    %s\t%s\t%v\t%d\t%d%s\n", name, t.DType, t.Shape, t.Params, t.Bytes, note)
		}
		tw.Flush()
	}
	if len(r.Findings) == 0 {
		b.WriteString("  findings: none\n")
	} else {
		b.WriteString("  findings:\n")
		for _, f := range r.Findings {
			where := f.File
			if f.Tensor != "" {
				where += ": " + f.Tensor
			}
			fmt.Fprintf(&b, "    %s [%s] %s: %s\n", f.Severity, f.Rule, where, f.Message)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func newInspectCmd(g *globals) *cobra.Command {
	var policyPath, configPath string
	c := &cobra.Command{
		Use:   "inspect [--policy F] [--config FILE] MODEL",
		Short: "List every tensor of a model's checkpoints and check them against the architecture its coqui config declares",
		Long: "MODEL is a folder, a checkpoint file, a stored model or NAME@VERSION. Weights (the model's state dict) are " +
			"listed by name, other tensors (optimizer state) in parentheses by key path. Exit 1 when a checkpoint does not " +
			"match its config (an extra or missing tensor, a shape the config cannot produce) or cannot be read.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			ref, err := resolveModel(policyPath, args[0])
			if err != nil {
				return err
			}
			r, err := inspect.Inspect(c.Context(), ref.Path, inspect.Options{Config: configPath, Limits: scan.DefaultLimits, Open: ref.Side.Opener})
			if err != nil {
				return err
			}
			r.Path = ref.Label
			if err := g.printer().Print(inspectResult{r}); err != nil {
				return err
			}
			if r.Failed() {
				return inspectFailed{ref.Label}
			}
			return nil
		},
	}
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (for the store)")
	c.Flags().StringVar(&configPath, "config", "", "coqui config to check a single checkpoint file against")
	return c
}

// diffFailed is a diff that could not compare everything: a checkpoint or
// a tensor that does not read (exit 1: never reported as complete).
type diffFailed struct{ what []string }

func (e diffFailed) Error() string {
	return "diff incomplete: " + strings.Join(e.what, "; ")
}

func (e diffFailed) Unwrap() error { return errUnsafe }

// diffIncomplete returns a diffFailed naming what was not compared, nil
// when everything was.
func diffIncomplete(r *weightdiff.Result) error {
	var what []string
	for _, ck := range r.Checkpoints {
		if ck.Error != "" {
			what = append(what, ck.Error)
		}
		for _, t := range ck.Tensors {
			if t.Change == weightdiff.Unreadable {
				what = append(what, fmt.Sprintf("%s: tensor %s: %s", ck.New, t.Name, t.Note))
			}
		}
	}
	if len(what) == 0 {
		return nil
	}
	return diffFailed{what}
}

type diffResult struct{ *weightdiff.Result }

func (r diffResult) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "diff %s -> %s\n", r.Old, r.New)
	writeDiff(&b, r.Result, "  ")
	_, err := io.WriteString(w, b.String())
	return err
}

// maxTensorsShown bounds the tensors the text lists per checkpoint; --json
// lists them all.
const maxTensorsShown = 50

// writeDiff writes a diff as text, each line after indent.
func writeDiff(b *strings.Builder, d *weightdiff.Result, indent string) {
	if len(d.Files) == 0 {
		fmt.Fprintf(b, "%sfiles: the same\n", indent)
	}
	for _, f := range d.Files {
		fmt.Fprintf(b, "%sfile %s: %s (%d -> %d bytes)\n", indent, f.Change, f.Path, f.OldSize, f.NewSize)
	}
	for _, f := range d.Unpaired {
		fmt.Fprintf(b, "%scheckpoint %s, not compared (no counterpart): %s\n", indent, f.Change, f.Path)
	}
	for _, c := range d.Config {
		switch c.Change {
		case weightdiff.Added:
			fmt.Fprintf(b, "%sconfig %s: %s added: %s\n", indent, c.File, c.Key, c.New)
		case weightdiff.Removed:
			fmt.Fprintf(b, "%sconfig %s: %s removed (was %s)\n", indent, c.File, c.Key, c.Old)
		default:
			fmt.Fprintf(b, "%sconfig %s: %s: %s -> %s\n", indent, c.File, c.Key, c.Old, c.New)
		}
	}
	for _, ck := range d.Checkpoints {
		name := ck.New
		if ck.Old != ck.New {
			name = ck.Old + " -> " + ck.New
		}
		if ck.Error != "" {
			fmt.Fprintf(b, "%scheckpoint %s: cannot be compared: %s\n", indent, name, ck.Error)
			continue
		}
		fmt.Fprintf(b, "%scheckpoint %s (%s): %d tensors differ, %d unchanged\n", indent, name, ck.Format, len(ck.Tensors), ck.Unchanged)
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "%s  CHANGE\tTENSOR\tDTYPE\tSHAPE\tRELATIVE CHANGE\n", indent)
		for i, t := range ck.Tensors {
			if i == maxTensorsShown {
				fmt.Fprintf(tw, "%s  and %d more (--json lists them all)\n", indent, len(ck.Tensors)-i)
				break
			}
			name := t.Name
			if !t.Weight {
				name = "(" + name + ")"
			}
			dtype, shape := string(t.NewDType), fmt.Sprint(t.NewShape)
			switch t.Change {
			case weightdiff.Removed:
				dtype, shape = string(t.OldDType), fmt.Sprint(t.OldShape)
			case weightdiff.Reshaped:
				shape = fmt.Sprintf("%v -> %v", t.OldShape, t.NewShape)
			}
			if t.OldDType != "" && t.NewDType != "" && t.OldDType != t.NewDType {
				dtype = string(t.OldDType) + " -> " + string(t.NewDType)
			}
			fmt.Fprintf(tw, "%s  %s\t%s\t%s\t%s\t%s\n", indent, t.Change, name, dtype, shape, relText(t.Relative, t.Note))
		}
		tw.Flush()
		if len(ck.Groups) > 0 {
			fmt.Fprintf(b, "%s  by module (largest first):\n", indent)
			tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
			for _, gr := range ck.Groups {
				name := gr.Prefix
				if !gr.Weight {
					name = "(" + name + ")"
				}
				fmt.Fprintf(tw, "%s    %s\t%d tensors\t%s\n", indent, name, gr.Tensors, relText(gr.Relative, gr.Note))
			}
			tw.Flush()
		}
	}
}

func relText(r *float64, note string) string {
	if r != nil {
		return fmt.Sprintf("%.6g", *r)
	}
	return note
}

func newDiffCmd(g *globals) *cobra.Command {
	var policyPath string
	var depth int
	c := &cobra.Command{
		Use:   "diff [--policy F] [--depth N] OLD NEW",
		Short: "Compare two versions of a model: files, config keys, and every tensor (relative L2 change per tensor and per module)",
		Long: "OLD and NEW are folders, checkpoint files, stored models or NAME@VERSION. For floating-point tensors (float32, " +
			"float16, bfloat16, float64) of the same shape the relative change is ||new - old|| / ||old||, computed in float64 " +
			"while both files are streamed; modules group tensor names by their first --depth components.",
		Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			old, err := resolveModel(policyPath, args[0])
			if err != nil {
				return err
			}
			nw, err := resolveModel(policyPath, args[1])
			if err != nil {
				return err
			}
			r, err := weightdiff.Diff(c.Context(), old.Path, nw.Path, weightdiff.Options{Depth: depth, Old: old.Side, New: nw.Side})
			if err != nil {
				return err
			}
			r.Old, r.New = old.Label, nw.Label
			if err := g.printer().Print(diffResult{r}); err != nil {
				return err
			}
			return diffIncomplete(r)
		},
	}
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (for the store)")
	c.Flags().IntVar(&depth, "depth", 2, "name components that make a module (text_encoder.encoder at 2)")
	return c
}
