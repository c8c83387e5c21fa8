package pull

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ttsguard/ttsguard/internal/hub"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// Requirements are the Hugging Face repositories that the model name (pulled
// as requested, the sources the store's provenance records) loads at start:
// the policy's models.NAME.requires when the policy gives that key (an empty
// list included), else the built-in list of the coqui catalog id that name
// is, or that it was pulled from (deps_builtin.go).
func Requirements(pol *policy.Policy, name string, requested []string) []policy.Requirement {
	if m, ok := pol.Models[name]; ok && m.RequiresSet {
		return m.Requires
	}
	if rs, ok := builtinRequires[name]; ok {
		return rs
	}
	if len(requested) == 1 {
		return builtinRequires[requested[0]]
	}
	return nil
}

// pullRequires pulls the requirements of the model r just pulled, each as
// a model of its own (its name, lock entry and gates), with the options of
// the model's pull (frozen, update). A requirement's own requirements are
// not pulled. It adds a "requires" gate to r and the requirements' results
// to r.Requires; the first failure is its error (the model itself stays
// stored and pinned).
func pullRequires(ctx context.Context, o Options, p *plan, r *Result) error {
	if o.requirement {
		return nil
	}
	reqs := Requirements(o.Policy, p.name, p.requested)
	if len(reqs) == 0 {
		return nil
	}
	g := Gate{Name: "requires", OK: true}
	var said []string
	var firstErr error
	for _, q := range reqs {
		do := Options{Policy: o.Policy, Frozen: o.Frozen, Update: o.Update, Version: o.Version, Progress: o.Progress, TLS: o.TLS,
			Name: q.Name, requirement: true, hubPatterns: &hub.Patterns{Allow: q.Allow, Ignore: q.Ignore}}
		dr, err := Pull(ctx, do, []string{q.Source})
		if dr != nil {
			r.Requires = append(r.Requires, dr)
		}
		if err != nil {
			g.OK = false
			said = append(said, fmt.Sprintf("%s (%s): FAILED: %v", q.Name, q.Source, err))
			if firstErr == nil {
				firstErr = fmt.Errorf("%s is stored, but its requirement %s (%s) is not: %w", p.name, q.Name, q.Source, err)
			}
			continue
		}
		s := fmt.Sprintf("%s (%s, loaded as %s", q.Name, q.Source, q.LoadAs)
		if dr.Revision != nil {
			s += ", commit " + dr.Revision.Commit
		}
		said = append(said, s+"): "+pinWord(dr.Pinned))
	}
	g.Detail = strings.Join(said, "; ")
	r.Gates = append(r.Gates, g)
	return firstErr
}

func pinWord(pinned string) string {
	switch pinned {
	case "added":
		return "stored, pinned (first pull)"
	case "updated":
		return "stored, lock updated"
	}
	return "stored, matches the lock file"
}

// Dependency is a stored requirement of a model, as `run` gives it: its
// verified version folder and the Hub commit its lock entry pins.
type Dependency struct {
	policy.Requirement
	Dir     string         `json:"path"`
	Version *store.Version `json:"-"` // the stored version at Dir
	Commit  string         `json:"commit"`
	Ref     string         `json:"ref"` // the revision it was pulled at
}

// ErrRequirement is wrapped by errors about a model's requirements that the
// operator can fix by pulling (a requirement not in the store, or pinned
// without its commit).
var ErrRequirement = errors.New("a requirement of the model is not ready")

// StoredRequirements resolves the requirements of the stored model v: each
// must be in the store, and the lock file must pin it with the commit of the
// requirement's repository. The versions are the store's current ones;
// CheckStored of v checks them (CheckResult.Requires).
func StoredRequirements(pol *policy.Policy, st *store.Store, v *store.Version) ([]Dependency, error) {
	meta, err := st.Meta(v)
	if err != nil {
		return nil, err
	}
	reqs := Requirements(pol, v.Name, strings.Fields(meta.Provenance.Requested))
	if len(reqs) == 0 {
		return nil, nil
	}
	lockPath, err := pol.LockPath()
	if err != nil {
		return nil, err
	}
	lf, err := store.LoadLock(lockPath)
	if err != nil {
		return nil, err
	}
	var out []Dependency
	for _, q := range reqs {
		dv, err := st.Get(q.Name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s loads %s (%s) at start, which is not in the store: `ttsguard pull %s` pulls it with the model, or `ttsguard pull --name %s %s`",
				ErrRequirement, v.Name, q.LoadAs, q.Source, v.Name, q.Name, q.Source)
		}
		if err != nil {
			return nil, err
		}
		rev := lf.Entries[q.Name].Revision
		switch {
		case rev == nil:
			return nil, fmt.Errorf("%w: %s: the lock file (%s) pins no Hugging Face commit for its requirement %s: pull it again (`ttsguard pull %s`)",
				ErrRequirement, v.Name, lockPath, q.Name, v.Name)
		case rev.Repo != q.Repo():
			return nil, fmt.Errorf("%w: %s: its requirement %s is pinned from repository %s, the policy names %s: `ttsguard lock update %s`",
				ErrRequirement, v.Name, q.Name, rev.Repo, q.Repo(), q.Name)
		}
		out = append(out, Dependency{Requirement: q, Dir: dv.Dir, Version: dv, Commit: rev.Commit, Ref: rev.Ref})
	}
	return out, nil
}

// checkRequires checks every requirement of the stored model name (pulled
// as requested) as CheckStored checks a model, and sums them up in a
// "requires" gate; their results are returned for CheckResult.Requires.
func checkRequires(ctx context.Context, pol *policy.Policy, name string, requested []string, vf Verify) (*Gate, []*CheckResult, error) {
	reqs := Requirements(pol, name, requested)
	if len(reqs) == 0 {
		return nil, nil, nil
	}
	g := &Gate{Name: "requires", OK: true}
	var said []string
	var results []*CheckResult
	var firstErr error
	for _, q := range reqs {
		cr, err := check(ctx, pol, q.Name, "", checkOpts{storedOnly: true, verify: vf})
		if cr != nil {
			results = append(results, cr)
		}
		switch {
		case err == nil && cr != nil && cr.OK:
			said = append(said, fmt.Sprintf("%s (loaded as %s): ok", q.Name, q.LoadAs))
			continue
		case errors.Is(err, store.ErrNotFound):
			err = fmt.Errorf("%w: %s loads %s (%s) at start, which is not in the store: `ttsguard pull %s` pulls it", ErrGate, name, q.LoadAs, q.Source, name)
		case err == nil:
			err = fmt.Errorf("%w: %s", ErrGate, q.Name)
		}
		g.OK = false
		said = append(said, fmt.Sprintf("%s: FAILED: %v", q.Name, err))
		if firstErr == nil {
			firstErr = fmt.Errorf("requirement %s: %w", q.Name, err)
		}
	}
	g.Detail = strings.Join(said, "; ")
	return g, results, firstErr
}
