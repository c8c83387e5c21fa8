package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ttsguard/ttsguard/internal/scan/config"
)

// ConfigCopy is the name, in the scratch folder, of the copy of a model's
// config.json whose paths point into the verified model folder.
const ConfigCopy = "ttsguard-config.json"

// RewriteConfig returns a copy of model/config.json in which every path
// field coqui's loaders open (not the trainer's: datasets, output_path ...)
// that stands for a file of the model folder points at that file: an
// absolute path of the machine the model was trained on whose base name is a
// file at the top of the folder (what coqui's downloader rewrites after a
// download), and a relative path (which coqui would resolve against its
// working folder, the scratch folder). Everything else is byte for byte the
// original. Fields coqui's downloader fills from the folder's default file
// names are pointed at those files too (config.DefaultFiles), null and
// empty ones included. It returns nil when nothing needs rewriting, and the fields it
// changed. The stored model is never modified: the copy goes into the
// sandbox's scratch folder.
func RewriteConfig(model string) ([]byte, []string, error) {
	return RewriteConfigDecrypted(model, nil)
}

// RewriteConfigDecrypted is RewriteConfig of a folder that may be
// encrypted at rest: its config.json content is d's when d has it (the
// folder is then only looked at for which files it holds), and the copy's
// paths point into the folder d gives the command in its place.
func RewriteConfigDecrypted(model string, d *Decrypted) ([]byte, []string, error) {
	if data, ok := d.Config(model); ok {
		return rewriteConfig(model, d.Dir(model), data)
	}
	p := filepath.Join(model, "config.json")
	st, err := os.Stat(p)
	if err != nil {
		return nil, nil, err
	}
	if st.Size() > maxConfig {
		return nil, nil, fmt.Errorf("%w: %s: %d bytes, more than %d", ErrSpec, p, st.Size(), maxConfig)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	return rewriteConfig(model, model, data)
}

// rewriteConfig rewrites the config.json content data of the folder
// model, whose files the command finds in the folder at.
func rewriteConfig(model, at string, data []byte) ([]byte, []string, error) {
	p := filepath.Join(model, "config.json")
	if len(data) > maxConfig {
		return nil, nil, fmt.Errorf("%w: %s: %d bytes, more than %d", ErrSpec, p, len(data), maxConfig)
	}
	fields, err := config.PathFields(data, os.DirFS(model))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrSpec, p, err)
	}
	// Null, empty or dangling fields that coqui's downloader points at the
	// folder's file of that kind (speakers.pth, scale_stats.npy ...).
	fields = append(fields, config.DefaultFiles(data, os.DirFS(model))...)
	type edit struct {
		from, to int64
		value    []byte
	}
	var edits []edit
	var changed []string
	for _, f := range fields {
		if f.Training || f.Resolved == "" || f.End <= f.Offset || f.Offset < 0 {
			continue // not a loader's file, or no JSON span to replace
		}
		target := filepath.Join(at, filepath.FromSlash(f.Resolved))
		if f.Value == target {
			continue
		}
		v, err := json.Marshal(target)
		if err != nil {
			return nil, nil, err
		}
		edits = append(edits, edit{f.Offset, f.End, v})
		changed = append(changed, f.Field+" -> "+target)
	}
	if len(edits) == 0 {
		return nil, nil, nil
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].from > edits[j].from })
	out := append([]byte(nil), data...)
	for i, e := range edits {
		if e.to > int64(len(out)) || (i > 0 && e.to > edits[i-1].from) {
			return nil, nil, fmt.Errorf("%w: %s: overlapping path fields", ErrSpec, p)
		}
		out = append(out[:e.from:e.from], append(e.value, out[e.to:]...)...)
	}
	return out, changed, nil
}
