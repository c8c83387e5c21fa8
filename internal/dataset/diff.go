package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
)

// Change is one difference between two versions of a dataset.
type Change struct {
	Kind string `json:"kind"` // "added", "removed", "changed"
	What string `json:"what"` // "row" or "file"
	// Key is the row's clip id (with #N for its Nth repetition) or the
	// file's path relative to the dataset root.
	Key    string `json:"key"`
	Where  string `json:"where,omitempty"` // FILE:LINE of the row (in NEW, or OLD when removed)
	Detail string `json:"detail,omitempty"`
}

// DatasetDiff lists what changed between two versions of a dataset: rows as
// the formatter reads them (added, removed, text, clip path or speaker
// changed, audio changed) and every file (added, removed, changed content).
type DatasetDiff struct {
	Old       string   `json:"old"`
	New       string   `json:"new"`
	Formatter string   `json:"formatter"`
	Changes   []Change `json:"changes"`
	// Counts are the changes by "what kind" ("row added", "file changed" ...).
	Counts map[string]int `json:"counts"`
	// Notes say what the comparison could not see (DiffSigned).
	Notes []string `json:"notes,omitempty"`
}

// Diff compares two versions of a dataset, both read with formatter.
func Diff(ctx context.Context, oldFS, newFS fs.FS, oldRoot, newRoot, formatter, metaFile string) (*DatasetDiff, error) {
	d := &DatasetDiff{Old: oldRoot, New: newRoot, Formatter: formatter, Counts: map[string]int{}}
	of, err := fileDigests(ctx, oldFS)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", oldRoot, err)
	}
	nf, err := fileDigests(ctx, newFS)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", newRoot, err)
	}
	orows, err := Load(ctx, oldFS, formatter, metaFile, &Report{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", oldRoot, err)
	}
	nrows, err := Load(ctx, newFS, formatter, metaFile, &Report{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", newRoot, err)
	}
	add := func(c Change) {
		d.Changes = append(d.Changes, c)
		d.Counts[c.What+" "+c.Kind]++
	}
	om, nm := keyedRows(orows), keyedRows(nrows)
	for _, k := range slices.Sorted(maps.Keys(nm)) {
		n := nm[k]
		where := fmt.Sprintf("%s:%d", n.MetaFile, n.Line)
		o, ok := om[k]
		if !ok {
			add(Change{Kind: "added", What: "row", Key: k, Where: where, Detail: fmt.Sprintf("%q, audio %q", n.Text, n.Clip.Rel)})
			continue
		}
		var diffs []string
		if o.Text != n.Text {
			diffs = append(diffs, fmt.Sprintf("text %q -> %q", o.Text, n.Text))
		}
		if o.Clip.Rel != n.Clip.Rel || o.Clip.Joined != n.Clip.Joined {
			diffs = append(diffs, fmt.Sprintf("audio path %q -> %q", o.Clip.Joined, n.Clip.Joined))
		} else if od, nd := of[o.Clip.Rel], nf[n.Clip.Rel]; od != nd {
			diffs = append(diffs, fmt.Sprintf("audio %q content %s -> %s", n.Clip.Rel, shortDigest(od), shortDigest(nd)))
		}
		if o.Speaker != n.Speaker {
			diffs = append(diffs, fmt.Sprintf("speaker %q -> %q", o.Speaker, n.Speaker))
		}
		if len(diffs) > 0 {
			add(Change{Kind: "changed", What: "row", Key: k, Where: where, Detail: strings.Join(diffs, "; ")})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(om)) {
		if _, ok := nm[k]; !ok {
			o := om[k]
			add(Change{Kind: "removed", What: "row", Key: k, Where: fmt.Sprintf("%s:%d", o.MetaFile, o.Line), Detail: fmt.Sprintf("%q", o.Text)})
		}
	}
	for _, p := range slices.Sorted(maps.Keys(nf)) {
		switch od, ok := of[p]; {
		case !ok:
			add(Change{Kind: "added", What: "file", Key: p, Detail: shortDigest(nf[p])})
		case od != nf[p]:
			add(Change{Kind: "changed", What: "file", Key: p, Detail: shortDigest(od) + " -> " + shortDigest(nf[p])})
		}
	}
	for _, p := range slices.Sorted(maps.Keys(of)) {
		if _, ok := nf[p]; !ok {
			add(Change{Kind: "removed", What: "file", Key: p, Detail: shortDigest(of[p])})
		}
	}
	return d, nil
}

// shortDigest abbreviates a file digest for people ("missing" for none).
func shortDigest(digest string) string {
	if digest == "" {
		return "missing"
	}
	if len(digest) > 19 && strings.HasPrefix(digest, "sha256:") {
		return digest[:19]
	}
	return digest
}

// keyedRows keys rows by clip id, the Nth repetition of an id as "id#N".
func keyedRows(rows []Row) map[string]Row {
	out := map[string]Row{}
	seen := map[string]int{}
	for _, r := range rows {
		k := r.ID
		if n := seen[r.ID]; n > 0 {
			k = fmt.Sprintf("%s#%d", r.ID, n+1)
		}
		seen[r.ID]++
		out[k] = r
	}
	return out
}

// fileDigests hashes every regular file under fsys; a link or other
// non-regular entry is recorded by its type (links are not followed).
func fileDigests(ctx context.Context, fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	buf := make([]byte, 256<<10)
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		switch {
		case e.IsDir():
			return nil
		case !e.Type().IsRegular():
			out[p] = e.Type().String()
			return nil
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.CopyBuffer(h, f, buf); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		out[p] = "sha256:" + hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return out, err
}

// Text writes the diff for people: a summary, then rows, then files.
func (d *DatasetDiff) Text(w io.Writer) error {
	fmt.Fprintf(w, "dataset diff %s -> %s (formatter %s)\n", safe(d.Old), safe(d.New), d.Formatter)
	sign := map[string]string{"added": "+", "removed": "-", "changed": "~"}
	for _, c := range d.Changes {
		fmt.Fprintf(w, "%s %s %s", sign[c.Kind], c.What, safe(c.Key))
		if c.Where != "" {
			fmt.Fprintf(w, " (%s)", safe(c.Where))
		}
		if c.Detail != "" {
			fmt.Fprintf(w, ": %s", c.Detail) // built of Go-quoted strings and digests
		}
		fmt.Fprintln(w)
	}
	for _, n := range d.Notes {
		fmt.Fprintf(w, "note: %s\n", safe(n))
	}
	var parts []string
	for _, k := range []string{"row added", "row removed", "row changed", "file added", "file removed", "file changed"} {
		if n := d.Counts[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	if len(parts) == 0 {
		_, err := fmt.Fprintln(w, "no differences")
		return err
	}
	_, err := fmt.Fprintln(w, strings.Join(parts, ", "))
	return err
}
