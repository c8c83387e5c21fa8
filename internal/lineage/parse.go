package lineage

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Parse reads a signed provenance payload: an in-toto Statement v1 with
// the SLSA Provenance v1 predicate of build type BuildType, valid by the
// attestation framework's rules, and returns what it records. Unknown
// fields, a wrong type, a subject or dependency without a SHA-256 where one
// is required, and duplicate names are errors wrapping ErrProvenance.
func Parse(payload []byte) (*Record, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrProvenance, MaxPayload)
	}
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrProvenance, err)
	}
	if st.GetType() != intoto.StatementTypeUri {
		return nil, fmt.Errorf("%w: _type %q, want %q", ErrProvenance, st.GetType(), intoto.StatementTypeUri)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: statement: %v", ErrProvenance, err)
	}
	if st.GetPredicateType() != PredicateType {
		return nil, fmt.Errorf("%w: predicateType %q, want %q", ErrProvenance, st.GetPredicateType(), PredicateType)
	}
	pj, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("%w: predicate: %v", ErrProvenance, err)
	}
	var p slsa.Provenance
	if err := protojson.Unmarshal(pj, &p); err != nil {
		return nil, fmt.Errorf("%w: predicate: %v", ErrProvenance, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w: predicate: %v", ErrProvenance, err)
	}
	bd, rd := p.GetBuildDefinition(), p.GetRunDetails()
	if bd.GetBuildType() != BuildType {
		return nil, fmt.Errorf("%w: buildType %q, want %q", ErrProvenance, bd.GetBuildType(), BuildType)
	}
	if rd.GetBuilder().GetId() != BuilderID {
		return nil, fmt.Errorf("%w: builder.id %q, want %q", ErrProvenance, rd.GetBuilder().GetId(), BuilderID)
	}
	r := &Record{Subjects: map[string]string{}, Version: rd.GetBuilder().GetVersion()["ttsguard"]}
	for _, s := range st.GetSubject() {
		h := s.GetDigest()["sha256"]
		switch {
		case s.GetName() == "":
			return nil, fmt.Errorf("%w: a subject without a name", ErrProvenance)
		case !hex64.MatchString(h):
			return nil, fmt.Errorf("%w: subject %q: no sha256 digest", ErrProvenance, s.GetName())
		case r.Subjects[s.GetName()] != "":
			return nil, fmt.Errorf("%w: subject %q listed twice", ErrProvenance, s.GetName())
		}
		r.Subjects[s.GetName()] = h
	}
	m := rd.GetMetadata()
	r.InvocationID = m.GetInvocationId()
	if m.GetStartedOn() != nil {
		r.Started = m.GetStartedOn().AsTime()
	}
	if m.GetFinishedOn() != nil {
		r.Finished = m.GetFinishedOn().AsTime()
	}
	for _, b := range rd.GetByproducts() {
		if b.GetName() == "oms-root" {
			h := b.GetDigest()["sha256"]
			if !hex64.MatchString(h) {
				return nil, fmt.Errorf("%w: byproduct oms-root: no sha256 digest", ErrProvenance)
			}
			r.Root = "sha256:" + h
		}
	}
	if r.Root == "" {
		return nil, fmt.Errorf("%w: no oms-root byproduct", ErrProvenance)
	}
	ext := bd.GetExternalParameters().AsMap()
	r.Command = stringList(ext["command"])
	r.Out, _ = ext["out"].(string)
	r.GPU, _ = ext["gpu"].(bool)
	if n, ok := bd.GetInternalParameters().AsMap()["exit_status"].(float64); ok && n == math.Trunc(n) && math.Abs(n) < 1<<31 {
		r.ExitStatus = int(n)
	}
	if sb, ok := bd.GetInternalParameters().AsMap()["sandbox"].(map[string]any); ok {
		r.Sandbox = map[string]string{}
		for k, v := range sb {
			if s, ok := v.(string); ok {
				r.Sandbox[k] = s
			}
		}
	}
	if err := r.readDependencies(bd.GetResolvedDependencies()); err != nil {
		return nil, err
	}
	return r, nil
}

// readDependencies fills the inputs from resolvedDependencies.
func (r *Record) readDependencies(deps []*intoto.ResourceDescriptor) error {
	seen := map[string]bool{}
	for _, d := range deps {
		name := d.GetName()
		if seen[name] {
			return fmt.Errorf("%w: resolvedDependencies: %q listed twice", ErrProvenance, name)
		}
		seen[name] = true
		ann := map[string]any{}
		if d.GetAnnotations() != nil {
			ann = d.GetAnnotations().AsMap()
		}
		sha := d.GetDigest()["sha256"]
		path := strings.TrimPrefix(strings.TrimPrefix(d.GetUri(), "git+"), "file://")
		needSHA := func() error {
			if !hex64.MatchString(sha) {
				return fmt.Errorf("%w: resolvedDependencies: %q: no sha256 digest", ErrProvenance, name)
			}
			return nil
		}
		kind, rest, _ := strings.Cut(name, "/")
		switch {
		case kind == kindDataset && rest != "":
			if err := needSHA(); err != nil {
				return err
			}
			files, _ := ann["files"].(float64)
			verified, _ := ann["verified"].(string)
			r.Datasets = append(r.Datasets, Dataset{Name: rest, Path: path, Root: "sha256:" + sha, Files: int(files), Verified: verified})
		case kind == kindBase && rest != "":
			if err := needSHA(); err != nil {
				return err
			}
			if r.Base != nil {
				return fmt.Errorf("%w: resolvedDependencies: two base models", ErrProvenance)
			}
			r.Base = &Base{Name: rest, Dir: path, Root: "sha256:" + sha}
		case name == kindConfig:
			if err := needSHA(); err != nil {
				return err
			}
			r.Config = &File{Path: path, SHA256: sha}
		case name == kindCode:
			if err := needSHA(); err != nil {
				return err
			}
			c := r.code()
			c.Dir, c.Root = path, "sha256:"+sha
			if fs, ok := ann["files"].(map[string]any); ok {
				for k, v := range fs {
					if s, ok := v.(string); ok && hex64.MatchString(s) {
						c.Files[k] = s
					}
				}
			}
		case name == kindGit:
			c := r.code()
			c.GitCommit = d.GetDigest()["gitCommit"]
			c.GitTree, _ = ann["tree"].(string)
		case name == kindPython:
			if err := needSHA(); err != nil {
				return err
			}
			py := r.python()
			py.Executable, py.SHA256 = path, sha
			py.Interpreter, _ = ann["interpreter"].(string)
			py.Version, _ = ann["version"].(string)
			py.Venv, _ = ann["venv"].(string)
			py.Prefix, _ = ann["prefix"].(string)
			py.SiteDirs = stringList(ann["site_dirs"])
		case kind == kindPython && rest != "":
			py := r.python()
			v, _ := ann["version"].(string)
			p, _ := ann["path"].(string)
			if sha != "" {
				if err := needSHA(); err != nil {
					return err
				}
			}
			shadowed, _ := ann["shadowed"].(bool)
			if i := strings.LastIndex(rest, "~"); i > 0 && shadowed {
				rest = rest[:i]
			}
			py.Distributions = append(py.Distributions, Distribution{Name: rest, Version: v, Record: sha, Path: p, Shadowed: shadowed})
		default:
			return fmt.Errorf("%w: resolvedDependencies: unknown entry %q", ErrProvenance, name)
		}
	}
	if len(r.Datasets) == 0 {
		return fmt.Errorf("%w: no dataset", ErrProvenance)
	}
	return nil
}

func (r *Record) code() *Code {
	if r.Code == nil {
		r.Code = &Code{Files: map[string]string{}}
	}
	return r.Code
}

func (r *Record) python() *PythonEnv {
	if r.Python == nil {
		r.Python = &PythonEnv{}
	}
	return r.Python
}

// stringList reads a JSON list of strings (other elements are left out).
func stringList(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
