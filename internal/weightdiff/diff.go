// Package weightdiff compares two versions of a model: the files added,
// removed and changed, the keys of their JSON configs, and the tensors of
// their checkpoints (internal/tensors): added, removed, reshaped, changed,
// and for floating-point tensors the relative L2 change
// ||new - old|| / ||old||, per tensor and per group of names. Tensor data is
// streamed from both files a chunk at a time, never loaded whole. Check
// holds a diff to an update policy (frozen tensors, the largest relative
// change allowed).
package weightdiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/tensors"
)

// Options configure a diff.
type Options struct {
	// Depth is how many components of a tensor name form its group
	// ("text_encoder.encoder" at 2); 0 means 2.
	Depth int
	// Workers compare tensors in parallel; 0 means GOMAXPROCS.
	Workers int
	// Old and New are what the caller knows of each model's files.
	Old, New Side
	Limits   scan.Limits // zero: scan.DefaultLimits
}

// Side is what the caller knows of one model's files, by path relative to
// the model.
type Side struct {
	// Digests are the files' SHA-256 digests (hex), when the caller has
	// them (a stored version's metadata, a pull's manifest): files whose
	// digests match are not read.
	Digests map[string]string
	// Sizes are the sizes of the files' contents where they differ from
	// the files' own (a stored model encrypted at rest holds age files).
	Sizes map[string]int64
	// Opener opens a file's content (nil: the file itself; a stored model
	// encrypted at rest: store.OpenPlain).
	Opener tensors.Opener
}

// Changes.
const (
	Added    = "added"
	Removed  = "removed"
	Changed  = "changed"
	Reshaped = "reshaped" // a tensor's shape changed
	Renamed  = "renamed"  // a checkpoint paired with one of another name
)

// Result is a diff of two models.
type Result struct {
	Old         string         `json:"old"`
	New         string         `json:"new"`
	Files       []FileChange   `json:"files"`
	Config      []ConfigChange `json:"config"`
	Checkpoints []Checkpoint   `json:"checkpoints"`
	// Unpaired are checkpoints only one version has, which could not be
	// paired with one of the other (Check refuses them: their tensors were
	// not compared).
	Unpaired []FileChange `json:"unpaired_checkpoints,omitempty"`
}

// FileChange is a file added, removed or changed.
type FileChange struct {
	Path    string `json:"path"`
	Change  string `json:"change"`
	OldSize int64  `json:"old_size,omitempty"`
	NewSize int64  `json:"new_size,omitempty"`
}

// Checkpoint is the tensor diff of a checkpoint both versions have (at the
// same path, or one renamed).
type Checkpoint struct {
	Old       string         `json:"old"`
	New       string         `json:"new"`
	Format    string         `json:"format"`
	Tensors   []TensorChange `json:"tensors"` // changed, reshaped, added, removed: the largest relative change first
	Groups    []Group        `json:"groups"`  // groups with a changed tensor, the largest relative change first
	Unchanged int            `json:"unchanged"`
	// Error says why the checkpoints could not be compared ("" when they were).
	Error string `json:"error,omitempty"`
}

// TensorChange is one tensor that differs.
type TensorChange struct {
	Name     string        `json:"name"`
	Weight   bool          `json:"weight"`
	Change   string        `json:"change"`
	OldDType tensors.DType `json:"old_dtype,omitempty"`
	NewDType tensors.DType `json:"new_dtype,omitempty"`
	OldShape []int64       `json:"old_shape,omitempty"`
	NewShape []int64       `json:"new_shape,omitempty"`
	Relative *float64      `json:"relative,omitempty"` // floating-point tensors of the same shape
	Infinite bool          `json:"infinite,omitempty"` // the change is infinite or not a number (Note says which)
	Note     string        `json:"note,omitempty"`     // why Relative is absent
	sums     *sums         // nil when not measured
	old, new *tensors.Tensor
}

// Group is the relative change of the tensors whose names share a prefix:
// sqrt(Σ||new-old||²) / sqrt(Σ||old||²) over its measured tensors.
type Group struct {
	Prefix   string   `json:"prefix"`
	Weight   bool     `json:"weight"`
	Tensors  int      `json:"tensors"` // measured tensors in the group
	Relative *float64 `json:"relative,omitempty"`
	Infinite bool     `json:"infinite,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// Diff compares the model at oldPath with the one at newPath (folders, or
// single files). A checkpoint that cannot be read on either side is listed
// with its Error (Check refuses it); an error is returned only when a model
// cannot be walked or read at all.
func Diff(ctx context.Context, oldPath, newPath string, o Options) (*Result, error) {
	if o.Depth <= 0 {
		o.Depth = 2
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Limits == (scan.Limits{}) {
		o.Limits = scan.DefaultLimits
	}
	of, err := walk(oldPath, o.Old)
	if err != nil {
		return nil, err
	}
	nf, err := walk(newPath, o.New)
	if err != nil {
		return nil, err
	}
	// A single-file model is named "." by the walk: it is shown by its file name.
	for _, m := range []map[string]manifest.File{of, nf} {
		if f, ok := m["."]; ok {
			delete(m, ".")
			f.Name = filepath.Base(f.Path)
			m[""] = f
		}
	}
	r := &Result{Old: oldPath, New: newPath, Files: []FileChange{}, Config: []ConfigChange{}, Checkpoints: []Checkpoint{}}
	var onlyOld, onlyNew []manifest.File
	for _, name := range union(of, nf) {
		a, inOld := of[name]
		b, inNew := nf[name]
		switch {
		case !inNew:
			r.Files = append(r.Files, FileChange{Path: a.Name, Change: Removed, OldSize: a.Size})
			onlyOld = append(onlyOld, a)
		case !inOld:
			r.Files = append(r.Files, FileChange{Path: b.Name, Change: Added, NewSize: b.Size})
			onlyNew = append(onlyNew, b)
		default:
			same, err := sameFile(a, b, o)
			if err != nil {
				return nil, err
			}
			if same {
				continue
			}
			r.Files = append(r.Files, FileChange{Path: b.Name, Change: Changed, OldSize: a.Size, NewSize: b.Size})
			if err := r.compare(ctx, a, b, name == "", o); err != nil {
				return nil, err
			}
		}
	}
	// A checkpoint that moved: one left on each side is compared as renamed.
	oc, nc := checkpointsOf(ctx, onlyOld, o.Old.Opener, o), checkpointsOf(ctx, onlyNew, o.New.Opener, o)
	if len(oc) == 1 && len(nc) == 1 {
		if err := r.compare(ctx, oc[0], nc[0], false, o); err != nil {
			return nil, err
		}
		return r, nil
	}
	for _, f := range oc {
		r.Unpaired = append(r.Unpaired, FileChange{Path: f.Name, Change: Removed, OldSize: f.Size})
	}
	for _, f := range nc {
		r.Unpaired = append(r.Unpaired, FileChange{Path: f.Name, Change: Added, NewSize: f.Size})
	}
	return r, nil
}

// walk lists a model's files by name (the signature and git metadata left
// out; a single file is "."), with the content sizes side knows.
func walk(root string, side Side) (map[string]manifest.File, error) {
	files, err := manifest.Walk(root, manifest.WalkOptions{IgnorePaths: append(slices.Clone(manifest.DefaultIgnorePaths), "model.sig", oms.ProvenanceFile)})
	if err != nil {
		return nil, err
	}
	out := map[string]manifest.File{}
	for _, f := range files {
		if size, ok := side.Sizes[f.Name]; ok {
			f.Size = size
		}
		out[f.Name] = f
	}
	return out, nil
}

func union(a, b map[string]manifest.File) []string {
	var names []string
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// sameFile compares two files: by size, by the digests the caller knows,
// else byte by byte up to the first difference.
func sameFile(a, b manifest.File, o Options) (bool, error) {
	if a.Size != b.Size {
		return false, nil
	}
	if da, db := o.Old.Digests[a.Name], o.New.Digests[b.Name]; da != "" && db != "" {
		return da == db, nil
	}
	fa, _, err := o.Old.Opener.Open(a.Path)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, _, err := o.New.Opener.Open(b.Path)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if errors.Is(ea, io.EOF) || errors.Is(ea, io.ErrUnexpectedEOF) {
			return errors.Is(eb, io.EOF) || errors.Is(eb, io.ErrUnexpectedEOF), nil
		}
		if ea != nil {
			return false, fmt.Errorf("%q: %w", a.Path, ea)
		}
		if eb != nil {
			return false, fmt.Errorf("%q: %w", b.Path, eb)
		}
	}
}

// checkpointsOf returns the files that read as checkpoints.
func checkpointsOf(ctx context.Context, files []manifest.File, open tensors.Opener, o Options) []manifest.File {
	var out []manifest.File
	for _, f := range files {
		if c, err := tensors.OpenWith(ctx, f.Path, open, o.Limits); err == nil {
			c.Close()
			out = append(out, f)
		} else if !errors.Is(err, tensors.ErrFormat) || isCheckpointName(f.Name) {
			out = append(out, f) // unreadable: compared, so that its error is reported
		}
	}
	return out
}

// isCheckpointName: names coqui gives checkpoints. A file so named that does
// not read as one is reported, not silently treated as data.
func isCheckpointName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".pth" || ext == ".pt" || ext == ".ckpt" || ext == ".bin" || ext == ".safetensors" || ext == ".tar"
}

// compare adds what differs between two versions of one file: config keys
// for JSON files, tensors for checkpoints.
// single says both are single-file models (whose names may differ).
func (r *Result) compare(ctx context.Context, a, b manifest.File, single bool, o Options) error {
	if strings.HasSuffix(a.Name, ".json") && strings.HasSuffix(b.Name, ".json") {
		r.Config = append(r.Config, configDiff(a, b, o)...)
		return nil
	}
	oc, oerr := tensors.OpenWith(ctx, a.Path, o.Old.Opener, o.Limits)
	if oerr == nil {
		defer oc.Close()
	}
	nc, nerr := tensors.OpenWith(ctx, b.Path, o.New.Opener, o.Limits)
	if nerr == nil {
		defer nc.Close()
	}
	if errors.Is(oerr, tensors.ErrFormat) && errors.Is(nerr, tensors.ErrFormat) && !isCheckpointName(a.Name) && !isCheckpointName(b.Name) {
		return nil // neither is a checkpoint: the file change says it all
	}
	ck := Checkpoint{Old: a.Name, New: b.Name, Tensors: []TensorChange{}, Groups: []Group{}}
	if a.Name != b.Name && !single {
		r.Files = append(r.Files, FileChange{Path: a.Name + " -> " + b.Name, Change: Renamed, OldSize: a.Size, NewSize: b.Size})
	}
	switch {
	case oerr != nil:
		ck.Error = fmt.Sprintf("old %s: %v", a.Name, oerr)
	case nerr != nil:
		ck.Error = fmt.Sprintf("new %s: %v", b.Name, nerr)
	default:
		ck.Format = nc.Format
		if err := ck.diff(ctx, oc, nc, o); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ck.Error = err.Error()
		}
	}
	r.Checkpoints = append(r.Checkpoints, ck)
	return nil
}
