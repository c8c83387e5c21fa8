package cli

import (
	"context"

	"github.com/ttsguard/ttsguard/internal/sandbox"
	"github.com/ttsguard/ttsguard/internal/store"
)

// decryptModels gives the command the plaintext of the stored versions
// that are encrypted at rest (the model, the vocoder, the Hugging Face
// requirements): each one's files are
// decrypted into sealed memfds, checked against its metadata, and given to the
// command without a disk (spec.InMemory: as root a tmpfs on its folder in
// the command's own mount namespace, otherwise sealed memfds behind a
// folder of links; docs/storage.md). The spec's Model and Vocoder become
// the folders the command is given. release is to be called once the
// command ended, on every path.
func decryptModels(ctx context.Context, st *store.Store, spec *sandbox.Spec, vs ...*store.Version) (*sandbox.Decrypted, func(), error) {
	var ovs []sandbox.Overlay
	for _, v := range vs {
		if v == nil {
			continue
		}
		enc, err := st.Encrypted(v)
		if err == nil && enc {
			var files []store.PlainFile
			if files, err = st.PlainMemfds(ctx, v); err == nil {
				o := sandbox.Overlay{Dir: v.Dir}
				for _, f := range files {
					o.Tree = append(o.Tree, sandbox.TreeEntry{Path: f.Path, File: f.File, Size: f.Size})
				}
				ovs = append(ovs, o)
			}
		}
		if err != nil {
			sandbox.CloseOverlays(ovs)
			return nil, nil, err
		}
	}
	d, release, err := spec.InMemory(ovs)
	if err != nil {
		return nil, nil, sandboxErr(err)
	}
	spec.Model = d.Dir(spec.Model)
	if spec.Vocoder != "" {
		spec.Vocoder = d.Dir(spec.Vocoder)
	}
	for i := range spec.HFCache {
		spec.HFCache[i].Dir = d.Dir(spec.HFCache[i].Dir)
	}
	return d, release, nil
}
