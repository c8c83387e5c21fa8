package manifest

import (
	"bytes"
	"sort"
)

// Diff lists how local files differ from signed items, by file name.
type Diff struct {
	Missing []string // signed but not present locally
	Extra   []string // present locally but not signed
	Changed []string // present on both sides with different content
}

// Empty reports whether the two sides agree.
func (d Diff) Empty() bool { return len(d.Missing)+len(d.Extra)+len(d.Changed) == 0 }

// Compare reports the files whose items differ between want (signed) and got
// (computed locally). Items are grouped by file; a file whose shard boundaries
// or digests differ is Changed.
func Compare(want, got []Item) Diff {
	w, g := groupByFile(want), groupByFile(got)
	var d Diff
	for f, wi := range w {
		gi, ok := g[f]
		switch {
		case !ok:
			d.Missing = append(d.Missing, f)
		case !sameItems(wi, gi):
			d.Changed = append(d.Changed, f)
		}
	}
	for f := range g {
		if _, ok := w[f]; !ok {
			d.Extra = append(d.Extra, f)
		}
	}
	sort.Strings(d.Missing)
	sort.Strings(d.Extra)
	sort.Strings(d.Changed)
	return d
}

func groupByFile(items []Item) map[string][]Item {
	m := make(map[string][]Item)
	for _, it := range items {
		m[it.File] = append(m[it.File], it)
	}
	return m
}

func sameItems(a, b []Item) bool {
	if len(a) != len(b) {
		return false
	}
	bs := make(map[string][]byte, len(b))
	for _, it := range b {
		bs[it.Name] = it.Digest
	}
	for _, it := range a {
		d, ok := bs[it.Name]
		if !ok || !bytes.Equal(d, it.Digest) {
			return false
		}
	}
	return true
}
