package pull

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
	"github.com/ttsguard/ttsguard/internal/weightdiff"
)

// replaced returns the stored version a pull of name with root would
// replace: the version the lock file pins when it differs (lock update),
// else the store's current version when the lock file pins nothing and the
// store holds a different one. pinnedRoot is the pinned root that the store
// does not hold ("" when there is none).
func replaced(st *store.Store, lf *store.LockFile, name, root string) (v *store.Version, pinnedRoot string, err error) {
	if e, ok := lf.Entries[name]; ok {
		if e.Root == root {
			return nil, "", nil
		}
		vs, err := st.Versions(name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, "", err
		}
		for _, v := range vs {
			if v.Root == e.Root {
				return v, "", nil
			}
		}
		return nil, e.Root, nil
	}
	cur, err := st.Get(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	if cur.Root == root {
		return nil, "", nil
	}
	return cur, "", nil
}

// updateGate compares the staged model with the version it replaces (see
// replaced) and holds the diff to the model's update rules
// (models.NAME.update). It returns no gate when nothing is replaced, or
// when nothing asks for the diff (no rules, not a lock update). A diff that
// cannot be made fails the gate when there are rules.
func updateGate(ctx context.Context, o Options, st *store.Store, lf *store.LockFile, name, model string, root string, items []manifest.Item) (*Gate, *weightdiff.Result, error) {
	rules := o.Policy.ModelPolicy(name).Update
	if rules.Empty() && !o.Update {
		return nil, nil, nil
	}
	g := &Gate{Name: "update"}
	fail := func(detail string) (*Gate, *weightdiff.Result, error) {
		g.Detail = detail
		if rules.Empty() {
			g.OK = true
			return g, nil, nil
		}
		return g, nil, fmt.Errorf("%w: %s: update: %s", ErrGate, name, detail)
	}
	old, pinned, err := replaced(st, lf, name, root)
	if err != nil {
		return fail(fmt.Sprintf("cannot find the version it replaces: %v", err))
	}
	if pinned != "" {
		return fail(fmt.Sprintf("the pinned version %s is not in the store: the new version cannot be compared with it", pinned))
	}
	if old == nil {
		return nil, nil, nil
	}
	od, err := StoredSide(st, old)
	if err != nil {
		return fail(fmt.Sprintf("version %s: %v", old.ID, err))
	}
	nd := map[string]string{}
	for _, it := range items {
		if it.Name == it.File {
			nd[it.File] = fmt.Sprintf("%x", it.Digest)
		}
	}
	d, err := weightdiff.Diff(ctx, old.Dir, model, weightdiff.Options{Old: od, New: weightdiff.Side{Digests: nd}})
	if err != nil {
		return fail(fmt.Sprintf("comparing with version %s: %v", old.ID, err))
	}
	d.Old, d.New = name+"@"+old.ID, name+" (new)"
	g.Detail = fmt.Sprintf("compared with version %s: %s", old.ID, Summary(d))
	violations := d.Check(weightdiff.Rules{Frozen: rules.Frozen, MaxRelativeChange: rules.MaxRelativeChange})
	if len(violations) == 0 {
		g.OK = true
		if !rules.Empty() {
			g.Detail += "; " + describeRules(rules) + " hold"
		}
		return g, d, nil
	}
	var why []string
	for _, v := range violations {
		why = append(why, v.String())
	}
	g.Detail += fmt.Sprintf("; refused by models[%q].update (%s): %s", name, describeRules(rules), strings.Join(why, "; "))
	return g, d, fmt.Errorf("%w: %s: update: %s", ErrGate, name, g.Detail)
}

func describeRules(u policy.ModelUpdate) string {
	var parts []string
	if len(u.Frozen) > 0 {
		parts = append(parts, "frozen "+strings.Join(u.Frozen, ", "))
	}
	if u.MaxRelativeChange != nil {
		parts = append(parts, fmt.Sprintf("max_relative_change %g", *u.MaxRelativeChange))
	}
	return strings.Join(parts, ", ")
}

// Summary says in one line what a diff found.
func Summary(d *weightdiff.Result) string {
	files := len(d.Files)
	changed, unchanged := 0, 0
	var top *weightdiff.TensorChange
	for i := range d.Checkpoints {
		ck := &d.Checkpoints[i]
		unchanged += ck.Unchanged
		changed += len(ck.Tensors)
		for j := range ck.Tensors {
			t := &ck.Tensors[j]
			if top == nil && t.Weight && (t.Relative != nil || t.Infinite) {
				top = t
			}
		}
	}
	s := fmt.Sprintf("%d files differ, %d tensors differ, %d unchanged", files, changed, unchanged)
	switch {
	case top != nil && top.Infinite:
		s += fmt.Sprintf("; largest change: %s (%s)", top.Name, top.Note)
	case top != nil:
		s += fmt.Sprintf("; largest relative change: %s %.4g", top.Name, *top.Relative)
	}
	return s
}

// StoredSide is what a diff knows of a stored version's files: their
// digests and sizes from its metadata, and their contents through the
// store (the plaintext of a model encrypted at rest, in a sealed memfd).
func StoredSide(st *store.Store, v *store.Version) (weightdiff.Side, error) {
	meta, err := st.Meta(v)
	if err != nil {
		return weightdiff.Side{}, err
	}
	side := weightdiff.Side{Digests: map[string]string{}, Sizes: map[string]int64{}, Opener: st.OpenPlain}
	for _, f := range meta.Files {
		side.Digests[f.Path], side.Sizes[f.Path] = f.SHA256, f.Size
	}
	return side, nil
}
