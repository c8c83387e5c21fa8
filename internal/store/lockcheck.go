package store

import (
	"fmt"
	"sort"
	"strings"
)

// LockDiff says how a model differs from its lock file entry.
type LockDiff struct {
	OldRoot, NewRoot string   // both set when the roots differ
	Added            []string // files the model has and the entry does not, sorted
	Removed          []string // files the entry pins and the model lacks, sorted
	Changed          []string // files whose digest differs, sorted
	ArchivesAdded    []string // archive keys only the model has, sorted
	ArchivesRemoved  []string // archive keys only the entry has, sorted
	ArchivesChanged  []string // archive keys whose digest differs, sorted
}

// Empty reports whether nothing differs.
func (d LockDiff) Empty() bool {
	return d.OldRoot == d.NewRoot && len(d.Added)+len(d.Removed)+len(d.Changed)+
		len(d.ArchivesAdded)+len(d.ArchivesRemoved)+len(d.ArchivesChanged) == 0
}

// String describes the difference on one line, e.g.
// "root sha256:ab… -> sha256:cd…; changed: model_file.pth; added: speakers.pth".
func (d LockDiff) String() string {
	var parts []string
	if d.OldRoot != d.NewRoot {
		parts = append(parts, "root "+d.OldRoot+" -> "+d.NewRoot)
	}
	for _, g := range []struct {
		what string
		list []string
	}{
		{"changed", d.Changed}, {"added", d.Added}, {"removed", d.Removed},
		{"archives changed", d.ArchivesChanged}, {"archives added", d.ArchivesAdded}, {"archives removed", d.ArchivesRemoved},
	} {
		if len(g.list) > 0 {
			q := make([]string, len(g.list))
			for i, s := range g.list {
				q[i] = fmt.Sprintf("%q", s)
			}
			parts = append(parts, g.what+": "+strings.Join(q, ", "))
		}
	}
	if len(parts) == 0 {
		return "no difference"
	}
	return strings.Join(parts, "; ")
}

// Check compares got (what was just fetched and verified) with the entry
// pinned for name. Without an entry it returns pinned=false and no error.
// With one, got.Root is always compared; got.Files and got.Archives are
// compared, in full, when they are not nil (nil means "not observed", e.g.
// no archive was downloaded). Any difference returns pinned=true, the
// difference, and an error wrapping ErrPinMismatch that names the lock file
// and the model. A got that is not a valid entry (bad root, path or digest)
// is an error without a diff.
func (l *LockFile) Check(name string, got LockEntry) (pinned bool, diff LockDiff, err error) {
	want, ok := l.Entries[name]
	if !ok {
		return false, LockDiff{}, nil
	}
	got.Name = name
	check := got
	if check.Files == nil { // validate needs files; the root is checked on its own below
		check.Files = want.Files
		check.Root = want.Root
	}
	if err := check.validate(); err != nil {
		return true, LockDiff{}, fmt.Errorf("lock file %q: checking %w", l.Path, err)
	}
	if got.Files == nil && !isSHA256Root(got.Root) {
		return true, LockDiff{}, fmt.Errorf("lock file %q: model %q: root %q: want sha256:<64 lowercase hex>", l.Path, name, got.Root)
	}
	if got.Root != want.Root {
		diff.OldRoot, diff.NewRoot = want.Root, got.Root
	}
	if got.Files != nil {
		diff.Added, diff.Removed, diff.Changed = compareMaps(want.Files, got.Files)
	}
	if got.Archives != nil {
		diff.ArchivesAdded, diff.ArchivesRemoved, diff.ArchivesChanged = compareMaps(want.Archives, got.Archives)
	}
	if diff.Empty() {
		return true, diff, nil
	}
	return true, diff, fmt.Errorf("lock file %q: model %q %w: %s", l.Path, name, ErrPinMismatch, diff)
}

func isSHA256Root(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	return ok && isHex64(h)
}

// compareMaps lists keys only in got (added), only in want (removed), and in
// both with different values (changed), each sorted.
func compareMaps(want, got map[string]string) (added, removed, changed []string) {
	for _, k := range sortedKeys(got) {
		w, ok := want[k]
		switch {
		case !ok:
			added = append(added, k)
		case w != got[k]:
			changed = append(changed, k)
		}
	}
	for _, k := range sortedKeys(want) {
		if _, ok := got[k]; !ok {
			removed = append(removed, k)
		}
	}
	sort.Strings(changed)
	return added, removed, changed
}

// LockEntry returns the lock file entry that pins this version: its files
// and root, the requested source, and the digest of every download that the
// provenance records (by URL).
func (m *Meta) LockEntry() LockEntry {
	e := LockEntry{Name: m.Name, Root: m.Root, Files: map[string]string{}, Updated: m.Created.UTC()}
	for _, f := range m.Files {
		e.Files[f.Path] = f.SHA256
	}
	if m.Provenance.Requested != "" {
		e.Source = []string{m.Provenance.Requested}
	}
	for _, s := range m.Provenance.Sources {
		if s.SHA256 != "" {
			if e.Archives == nil {
				e.Archives = map[string]string{}
			}
			e.Archives[s.URL] = s.SHA256
		}
	}
	return e
}
