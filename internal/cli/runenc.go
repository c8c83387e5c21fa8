package cli

import (
	"context"
	"path"
	"sort"

	"github.com/ttsguard/ttsguard/internal/sandbox"
	"github.com/ttsguard/ttsguard/internal/store"
)

// decryptOverlays gives the command the plaintext of the stored versions
// that are encrypted at rest (the model, the vocoder): each one's files are
// decrypted into memory, checked against its metadata, and become a
// sandbox overlay on its folder (a tmpfs in the command's own mount
// namespace: docs/storage.md).
func decryptOverlays(ctx context.Context, st *store.Store, spec *sandbox.Spec, vs ...*store.Version) error {
	for _, v := range vs {
		if v == nil {
			continue
		}
		enc, err := st.Encrypted(v)
		if err != nil || !enc {
			return err
		}
		files, err := st.PlainFiles(ctx, v)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		o := sandbox.Overlay{Dir: v.Dir}
		for _, n := range names {
			o.Tree = append(o.Tree, sandbox.TreeEntry{Path: n, Data: files[n]})
		}
		spec.Overlays = append(spec.Overlays, o)
	}
	return nil
}

// overlayConfigs are the config.json contents of the spec's overlays, by folder.
func overlayConfigs(spec sandbox.Spec) map[string][]byte {
	out := map[string][]byte{}
	for _, o := range spec.Overlays {
		for _, e := range o.Tree {
			if path.Clean(e.Path) == "config.json" {
				out[o.Dir] = e.Data
			}
		}
	}
	return out
}
