// Package lineage writes and reads the provenance of a trained model: an
// in-toto Statement v1 with the SLSA Provenance v1 predicate that names the
// model's files (subjects) and what the training run was given (resolved
// dependencies: datasets, base model, config, code, Python environment),
// and audits a coqui training config's paths against those declared inputs.
package lineage

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/oms"
)

// Wire constants.
const (
	PredicateType = "https://slsa.dev/provenance/v1"
	// BuildType names what a ttsguard train run is and how its external
	// parameters read (docs/provenance.md).
	BuildType = "https://github.com/ttsguard/ttsguard/blob/main/docs/provenance.md#train-v1"
	// BuilderID identifies ttsguard train as the builder; its version is in
	// builder.version["ttsguard"].
	BuilderID = "https://github.com/ttsguard/ttsguard/blob/main/docs/provenance.md#builder"
	// FileName is the provenance bundle next to model.sig.
	FileName = oms.ProvenanceFile
	// MaxPayload caps the statement read.
	MaxPayload = 64 << 20
)

// Dependency names (resolvedDependencies[].name is KIND or KIND/NAME).
const (
	kindDataset = "dataset"
	kindBase    = "base_model"
	kindConfig  = "config"
	kindCode    = "code"
	kindGit     = "code/git"
	kindPython  = "python"
	kindDist    = "python/"
)

// ErrProvenance is wrapped by every error about a provenance statement's
// content.
var ErrProvenance = errors.New("invalid provenance")

// Record is what a training run's provenance says.
type Record struct {
	Subjects map[string]string `json:"subjects"` // model file (slash path) -> hex SHA-256
	Datasets []Dataset         `json:"datasets"`
	Base     *Base             `json:"base_model,omitempty"`
	Config   *File             `json:"config,omitempty"`
	Code     *Code             `json:"code,omitempty"`
	Python   *PythonEnv        `json:"python,omitempty"`
	Command  []string          `json:"command"`
	Out      string            `json:"out"`
	GPU      bool              `json:"gpu"`
	// Root is the model's OMS manifest root over Subjects.
	Root         string    `json:"root"`
	Version      string    `json:"ttsguard_version"`
	InvocationID string    `json:"invocation_id"`
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished"`
	ExitStatus   int       `json:"exit_status"`
	// Sandbox describes the confinement (user, Landlock ABI, network).
	Sandbox map[string]string `json:"sandbox,omitempty"`
}

// Dataset is one --dataset: its folder and OMS root digest.
type Dataset struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Root  string `json:"root"` // "sha256:<hex>"
	Files int    `json:"files"`
	// Verified says how it was checked before the run: "signature (SIGNER)",
	// "pin", "pin and signature (SIGNER)" or "none".
	Verified string `json:"verified"`
}

// Base is the base model from the store.
type Base struct {
	Name string `json:"name"`
	Dir  string `json:"path"`
	Root string `json:"root"`
}

// File is a single file input.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Statement builds the in-toto statement of a run, validated against the
// attestation framework's rules (Statement.Validate, Provenance.Validate).
func Statement(r *Record) (*intoto.Statement, error) {
	if len(r.Subjects) == 0 {
		return nil, fmt.Errorf("%w: no model file", ErrProvenance)
	}
	st := &intoto.Statement{Type: intoto.StatementTypeUri, PredicateType: PredicateType}
	names := make([]string, 0, len(r.Subjects))
	for n := range r.Subjects {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: n, Digest: map[string]string{"sha256": r.Subjects[n]}})
	}
	deps, err := r.dependencies()
	if err != nil {
		return nil, err
	}
	ext := map[string]any{"command": strs(r.Command), "out": r.Out, "gpu": r.GPU}
	var ds []any
	for _, d := range r.Datasets {
		ds = append(ds, d.Path)
	}
	ext["datasets"] = ds
	if r.Base != nil {
		ext["base_model"] = r.Base.Name
	}
	if r.Config != nil {
		ext["config"] = r.Config.Path
	}
	extS, err := structpb.NewStruct(ext)
	if err != nil {
		return nil, err
	}
	internal := map[string]any{}
	for k, v := range r.Sandbox {
		internal[k] = v
	}
	intS, err := structpb.NewStruct(map[string]any{"sandbox": internal, "exit_status": r.ExitStatus})
	if err != nil {
		return nil, err
	}
	root, err := hexOf(r.Root)
	if err != nil {
		return nil, fmt.Errorf("%w: model root: %w", ErrProvenance, err)
	}
	p := &slsa.Provenance{
		BuildDefinition: &slsa.BuildDefinition{BuildType: BuildType, ExternalParameters: extS, InternalParameters: intS, ResolvedDependencies: deps},
		RunDetails: &slsa.RunDetails{
			Builder:    &slsa.Builder{Id: BuilderID, Version: map[string]string{"ttsguard": r.Version}},
			Metadata:   &slsa.BuildMetadata{InvocationId: r.InvocationID, StartedOn: timestamppb.New(r.Started), FinishedOn: timestamppb.New(r.Finished)},
			Byproducts: []*intoto.ResourceDescriptor{{Name: "oms-root", Digest: map[string]string{"sha256": root}}},
		},
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProvenance, err)
	}
	pj, err := protojson.Marshal(p)
	if err != nil {
		return nil, err
	}
	st.Predicate = &structpb.Struct{}
	if err := protojson.Unmarshal(pj, st.Predicate); err != nil {
		return nil, err
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProvenance, err)
	}
	return st, nil
}

// Marshal encodes a run's statement as the signed payload: JSON with a
// two-space indent, the same bytes for the same record (protojson's output
// varies its spacing on purpose; encoding/json's Indent sets it).
func Marshal(r *Record) ([]byte, error) {
	st, err := Statement(r)
	if err != nil {
		return nil, err
	}
	raw, err := protojson.Marshal(st)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// dependencies lists the run's inputs as resource descriptors.
func (r *Record) dependencies() ([]*intoto.ResourceDescriptor, error) {
	var deps []*intoto.ResourceDescriptor
	add := func(name, uri string, dg map[string]string, ann map[string]any) error {
		rd := &intoto.ResourceDescriptor{Name: name, Uri: uri, Digest: dg}
		if len(ann) > 0 {
			s, err := structpb.NewStruct(ann)
			if err != nil {
				return err
			}
			rd.Annotations = s
		}
		deps = append(deps, rd)
		return nil
	}
	for _, d := range r.Datasets {
		h, err := hexOf(d.Root)
		if err != nil {
			return nil, fmt.Errorf("%w: dataset %q: %w", ErrProvenance, d.Name, err)
		}
		if err := add(kindDataset+"/"+d.Name, fileURI(d.Path), map[string]string{"sha256": h},
			map[string]any{"digest": "OMS manifest root", "files": d.Files, "verified": d.Verified}); err != nil {
			return nil, err
		}
	}
	if b := r.Base; b != nil {
		h, err := hexOf(b.Root)
		if err != nil {
			return nil, fmt.Errorf("%w: base model %q: %w", ErrProvenance, b.Name, err)
		}
		if err := add(kindBase+"/"+b.Name, fileURI(b.Dir), map[string]string{"sha256": h}, map[string]any{"digest": "OMS manifest root"}); err != nil {
			return nil, err
		}
	}
	if c := r.Config; c != nil {
		if err := add(kindConfig, fileURI(c.Path), map[string]string{"sha256": c.SHA256}, nil); err != nil {
			return nil, err
		}
	}
	if c := r.Code; c != nil {
		h, err := hexOf(c.Root)
		if err != nil {
			return nil, fmt.Errorf("%w: code: %w", ErrProvenance, err)
		}
		files := map[string]any{}
		for k, v := range c.Files {
			files[k] = v
		}
		if err := add(kindCode, fileURI(c.Dir), map[string]string{"sha256": h}, map[string]any{"digest": "OMS manifest root", "files": files}); err != nil {
			return nil, err
		}
		if c.GitCommit != "" {
			if err := add(kindGit, "git+"+fileURI(c.Dir), map[string]string{"gitCommit": c.GitCommit}, map[string]any{"tree": c.GitTree}); err != nil {
				return nil, err
			}
		}
	}
	if py := r.Python; py != nil {
		if err := add(kindPython, fileURI(py.Executable), map[string]string{"sha256": py.SHA256}, map[string]any{
			"interpreter": py.Interpreter, "version": py.Version, "venv": py.Venv, "prefix": py.Prefix, "site_dirs": strs(py.SiteDirs)}); err != nil {
			return nil, err
		}
		count := map[string]int{}
		for _, d := range py.Distributions {
			dg := map[string]string{}
			if d.Record != "" {
				dg["sha256"] = d.Record
			}
			ann := map[string]any{"version": d.Version, "path": d.Path, "digest": "RECORD"}
			name := kindDist + d.Name
			// A name found again (shadowed) stays listed, under NAME~N.
			if n := count[normName(d.Name)] + 1; n > 1 {
				name += "~" + strconv.Itoa(n)
				ann["shadowed"] = true
			}
			count[normName(d.Name)]++
			if err := add(name, "pkg:pypi/"+normName(d.Name)+"@"+d.Version, dg, ann); err != nil {
				return nil, err
			}
		}
	}
	names := map[string]bool{}
	for i, d := range deps {
		if names[d.GetName()] {
			return nil, fmt.Errorf("%w: resolvedDependencies: %q listed twice", ErrProvenance, d.GetName())
		}
		names[d.GetName()] = true
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("%w: resolvedDependencies[%d] %q: %w", ErrProvenance, i, d.Name, err)
		}
	}
	return deps, nil
}

func strs(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// fileURI is a file:// URI of an absolute path.
func fileURI(p string) string { return "file://" + p }

// hexOf returns the hex of a "sha256:<hex>" digest.
func hexOf(s string) (string, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", err
	}
	if d.Algorithm != digest.SHA256 {
		return "", fmt.Errorf("%q: want sha256", s)
	}
	return hex.EncodeToString(d.Value), nil
}
