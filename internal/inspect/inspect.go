// Package inspect lists what a model's checkpoints hold (every tensor:
// name, dtype, shape, parameters, bytes; internal/tensors) and checks them
// against the architecture the model's coqui config declares: for VITS, the
// exact state dict coqui-tts 0.28 builds from the config (vits.go), so that
// an extra tensor, a missing one or a shape the config cannot produce is a
// finding. Nothing is imported or run.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/ttsguard/ttsguard/internal/crypt"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/config"
	"github.com/ttsguard/ttsguard/internal/tensors"
)

// Finding is a mismatch between config and checkpoint, or something that
// kept the inspection from being complete.
type Finding struct {
	Rule     string        `json:"rule"`
	Severity scan.Severity `json:"severity"`
	File     string        `json:"file,omitempty"`
	Tensor   string        `json:"tensor,omitempty"`
	Field    string        `json:"field,omitempty"`
	Message  string        `json:"message"`
}

// Checkpoint is one checkpoint of the model.
type Checkpoint struct {
	File    string            `json:"file"`
	Format  string            `json:"format,omitempty"`
	Tensors []*tensors.Tensor `json:"tensors"`
	Weights int               `json:"weights"`    // tensors in the model's state dict
	Params  int64             `json:"parameters"` // elements of the weights
	All     int64             `json:"all_parameters"`
	Bytes   int64             `json:"bytes"` // of all tensors
	// ScannerFindings counts what `ttsguard scan` would report in the
	// structure read here (globals outside the allowlist, ...).
	ScannerFindings int `json:"scanner_findings,omitempty"`
	// Checked says the checkpoint was compared with the config's model.
	Checked bool   `json:"checked"`
	Error   string `json:"error,omitempty"`
}

// Report is what Inspect found.
type Report struct {
	Path        string       `json:"path"`
	Config      string       `json:"config,omitempty"` // the config read, relative to Path
	Arch        *Arch        `json:"architecture,omitempty"`
	Model       string       `json:"model_checkpoint,omitempty"` // the checkpoint coqui's loader picks
	Params      int64        `json:"parameters"`                 // its weights' elements
	Checkpoints []Checkpoint `json:"checkpoints"`
	Findings    []Finding    `json:"findings"`
}

// Failed reports whether a finding above info was made.
func (r *Report) Failed() bool {
	for _, f := range r.Findings {
		if f.Severity > scan.Info {
			return true
		}
	}
	return false
}

// Options configure Inspect.
type Options struct {
	// Config is a coqui config file to check a single checkpoint against
	// ("" for a folder: its config.json).
	Config string
	Limits scan.Limits // zero: scan.DefaultLimits
	// Open opens each file's content (nil: the file itself); a stored
	// model encrypted at rest is read through store.OpenPlain.
	Open tensors.Opener
}

// loaderNames are the checkpoints coqui's ModelManager picks, in its order
// (TTS/utils/manage.py _find_files), then a trainer's.
var loaderNames = []string{"model_file.pth", "model_file.pth.tar", "model.pth", "checkpoint.pth", "best_model.pth"}

var trainerCheckpoint = regexp.MustCompile(`^(checkpoint|best_model)_[0-9]+\.pth$`)

// isModelCheckpoint: a file whose weights are the config's model.
func isModelCheckpoint(name string) bool {
	return slices.Contains(loaderNames, name) || trainerCheckpoint.MatchString(name)
}

// Inspect reads every checkpoint of the model at root (a folder or one
// file) and checks the model checkpoints against the config. An error is
// returned only when root cannot be walked; a checkpoint that cannot be
// read is a finding.
func Inspect(ctx context.Context, root string, o Options) (*Report, error) {
	if o.Limits == (scan.Limits{}) {
		o.Limits = scan.DefaultLimits
	}
	files, err := manifest.Walk(root, manifest.WalkOptions{IgnorePaths: append(slices.Clone(manifest.DefaultIgnorePaths), "model.sig")})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b manifest.File) int { return strings.Compare(a.Name, b.Name) })
	r := &Report{Path: root, Checkpoints: []Checkpoint{}, Findings: []Finding{}}
	single := len(files) == 1 && files[0].Name == "."
	cfgPath := o.Config
	if cfgPath == "" && !single {
		if _, err := os.Stat(filepath.Join(root, "config.json")); err == nil {
			cfgPath, r.Config = filepath.Join(root, "config.json"), "config.json"
		}
	} else if cfgPath != "" {
		r.Config = cfgPath
	}
	var va *vitsArgs
	if cfgPath != "" {
		open := o.Open
		if o.Config != "" {
			open = nil // the operator's own file
		}
		cfg, err := readConfig(cfgPath, open, o.Limits.MaxConfigSize)
		if err != nil {
			r.Findings = append(r.Findings, Finding{Rule: RuleConfig, Severity: scan.Medium, File: r.Config, Message: err.Error()})
		} else {
			r.Arch, va = declared(cfg, &r.Findings)
		}
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := f.Name
		if single {
			name = path.Base(root)
		}
		ck, ok := r.read(ctx, f, name, o)
		if !ok {
			continue
		}
		if r.Model == "" && (single || slices.Contains(loaderNames[:4], path.Base(name)) && !strings.Contains(name, "/")) {
			r.Model, r.Params = name, ck.Params
		}
		if va != nil && ck.Error == "" && ck.Weights > 0 && (single || isModelCheckpoint(path.Base(name))) {
			n, fs := checkVITS(va, weightsOf(ck), name)
			r.Arch.Checked, r.Arch.Expected = true, n
			ck.Checked = true
			r.Findings = append(r.Findings, fs...)
		}
		r.Checkpoints = append(r.Checkpoints, ck)
	}
	if r.Model == "" {
		// coqui's fallback: the one *.pt* file of the folder.
		var pt []Checkpoint
		for _, c := range r.Checkpoints {
			if strings.Contains(path.Ext(c.File), ".pt") {
				pt = append(pt, c)
			}
		}
		if len(pt) == 1 {
			r.Model, r.Params = pt[0].File, pt[0].Params
		}
	}
	return r, nil
}

// read lists one file's tensors; ok is false for a file that is not a
// checkpoint (and is not named like one).
func (r *Report) read(ctx context.Context, f manifest.File, name string, o Options) (Checkpoint, bool) {
	ck := Checkpoint{File: name, Tensors: []*tensors.Tensor{}}
	c, err := tensors.OpenWith(ctx, f.Path, o.Open, o.Limits)
	if err != nil && o.Open == nil {
		if isAge, _ := crypt.IsAgeFile(f.Path); isAge {
			// a stored model's folder named by its path: its files are
			// age files, read as a model only through the store
			err = fmt.Errorf("%q is an age file (a model encrypted at rest): name the stored model (NAME or NAME@VERSION) to read its plaintext", f.Path)
		}
	}
	if err != nil {
		ext := strings.ToLower(path.Ext(name))
		if errors.Is(err, tensors.ErrFormat) && ext != ".pth" && ext != ".pt" && ext != ".safetensors" && ext != ".ckpt" && ext != ".tar" {
			return ck, false
		}
		ck.Error = err.Error()
		r.Findings = append(r.Findings, Finding{Rule: RuleUnread, Severity: scan.High, File: name, Message: err.Error()})
		return ck, true
	}
	defer c.Close()
	ck.Format, ck.Tensors, ck.ScannerFindings = c.Format, c.Tensors, len(c.Findings)
	for _, t := range c.Tensors {
		if t.Weight {
			ck.Weights++
		}
		ck.Bytes += t.Bytes
		if t.Problem != "" {
			r.Findings = append(r.Findings, Finding{Rule: RuleUnread, Severity: scan.High, File: name, Tensor: t.Name, Message: t.Problem})
		}
	}
	ck.Params, ck.All = c.Params()
	return ck, true
}

// weightsOf maps a checkpoint's weights by name.
func weightsOf(ck Checkpoint) map[string]*tensors.Tensor {
	out := map[string]*tensors.Tensor{}
	for _, t := range ck.Tensors {
		if t.Weight {
			out[t.Name] = t
		}
	}
	return out
}

// readConfig reads a coqui config.json, through open: a JSON object.
func readConfig(p string, open tensors.Opener, maxSize int64) (map[string]any, error) {
	b, err := open.ReadAll(p, maxSize)
	if err != nil {
		return nil, fmt.Errorf("config %w", err)
	}
	cfg, err := config.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("config %q: %v", p, err)
	}
	return cfg, nil
}
