package dataset

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"slices"
)

// SignedState is what a verified signature of a dataset says of the folder
// it is compared with: the signed files that are gone (Missing), the files
// it does not list (Extra) and those whose content differs (Changed), by
// path relative to the dataset root. Label names the signature and its
// signer for the report.
type SignedState struct {
	Label                   string
	Missing, Extra, Changed []string
}

// DiffSigned lists what changed in the dataset at newFS since the state a
// signature vouches for. A signature holds file digests, not rows: every
// file added, removed or changed is listed, and the rows (as formatter
// reads them) whose audio is not in the signed state, changed, or is gone.
// A row whose text or speaker changed is known only by its metadata file
// having changed: a note says so (diff the signed folder itself to see
// rows).
func DiffSigned(ctx context.Context, st SignedState, newFS fs.FS, newRoot, formatter, metaFile string) (*DatasetDiff, error) {
	d := &DatasetDiff{Old: st.Label, New: newRoot, Formatter: formatter, Counts: map[string]int{}}
	rows, err := Load(ctx, newFS, formatter, metaFile, &Report{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", newRoot, err)
	}
	add := func(c Change) {
		d.Changes = append(d.Changes, c)
		d.Counts[c.What+" "+c.Kind]++
	}
	kind := map[string]string{}
	for _, p := range st.Extra {
		kind[p] = "added"
	}
	for _, p := range st.Changed {
		kind[p] = "changed"
	}
	for _, p := range st.Missing {
		kind[p] = "removed"
	}
	metas := map[string]bool{}
	keyed := keyedRows(rows)
	for _, k := range slices.Sorted(maps.Keys(keyed)) {
		r := keyed[k]
		metas[r.MetaFile] = true
		where := fmt.Sprintf("%s:%d", r.MetaFile, r.Line)
		switch kind[r.Clip.Rel] {
		case "added":
			add(Change{Kind: "added", What: "row", Key: k, Where: where, Detail: fmt.Sprintf("%q, audio %q is not in the signed state", r.Text, r.Clip.Rel)})
		case "changed":
			add(Change{Kind: "changed", What: "row", Key: k, Where: where, Detail: fmt.Sprintf("audio %q changed since the signed state", r.Clip.Rel)})
		case "removed":
			add(Change{Kind: "changed", What: "row", Key: k, Where: where, Detail: fmt.Sprintf("audio %q was signed and is gone", r.Clip.Rel)})
		}
	}
	for _, p := range slices.Sorted(maps.Keys(kind)) {
		add(Change{Kind: kind[p], What: "file", Key: p})
	}
	for _, m := range slices.Sorted(maps.Keys(metas)) {
		switch kind[m] {
		case "":
			d.Notes = append(d.Notes, fmt.Sprintf("%s is as signed: every row's text, speaker and audio path are", m))
		default:
			d.Notes = append(d.Notes, fmt.Sprintf("%s is %s since the signed state: rows whose text, speaker or audio path changed cannot be told apart from a signature (it holds file digests, not rows); compare with the signed folder itself for that", m, kind[m]))
		}
	}
	return d, nil
}
