package config

import (
	"bytes"
	"io/fs"
	"path"
	"strings"
	"unicode/utf8"
)

// downloaderDefaults are the fields coqui's downloader points at a file of a
// downloaded model folder, and the file names it tries for each, in its
// order (ModelManager._update_paths, coqui-tts 0.28): first the base name
// of the field's own value (top level, then model_args), then each default
// name in turn, the last one present winning. "audio.stats_path" is looked
// up by its dotted name, which no config has, so only its default applies.
var downloaderDefaults = []struct {
	field    string
	defaults []string
}{
	{"audio.stats_path", []string{"scale_stats.npy"}},
	{"d_vector_file", []string{"speakers.json", "speakers.pth"}},
	{"speakers_file", []string{"speaker_ids.json", "speaker_ids.pth"}},
	{"language_ids_file", []string{"language_ids.json"}},
	{"speaker_encoder_model_path", []string{"model_se.pth", "model_se.pth.tar"}},
	{"speaker_encoder_config_path", []string{"config_se.json"}},
}

// DefaultFiles returns the fields of a JSON coqui config that coqui's
// downloader would point at a file of the model folder model and that the
// value does not already stand for (see PathField.Resolved): a field that
// is present but null or empty, or names a file the folder does not hold,
// while the folder holds the file the downloader picks for it. Each
// returned field has Resolved set to that file and [Offset, End) spanning
// the value's token, so a caller rewriting paths (ttsguard run) treats them
// as PathFields results. Values that are lists, numbers or mappings, and
// configs that json.load does not read (YAML, comments), give none.
func DefaultFiles(data []byte, model fs.FS) []PathField {
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	shift := int64(len(data) - len(body))
	if model == nil || !utf8.Valid(body) {
		return nil
	}
	top, err := parseJSON(string(body), false) // json.load's reading only
	if err != nil || top.kind != mapping {
		return nil
	}
	var out []PathField
	for _, d := range downloaderDefaults {
		fields := []string{d.field}
		if !strings.HasPrefix(d.field, "audio.") {
			fields = append(fields, "model_args."+d.field)
		}
		pick := ""
		if !strings.Contains(d.field, ".") {
			pick = regular(model, baseOf(lookup(top, d.field)))
			if pick == "" {
				pick = regular(model, baseOf(lookup(top, "model_args."+d.field)))
			}
		}
		if pick == "" {
			for _, name := range d.defaults {
				if regular(model, name) != "" {
					pick = name
				}
			}
		}
		if pick == "" {
			continue
		}
		for _, f := range fields {
			n := lookup(top, f)
			if n == nil || n.kind != scalar {
				continue
			}
			pf := PathField{Field: f, Key: f[strings.LastIndexByte(f, '.')+1:], Resolved: pick, Offset: n.offset + shift}
			switch {
			case n.isStr && n.end > n.offset:
				pf.Value, pf.End = n.str, n.end+shift
				if _, res := resolve(n.str, model); res != "" {
					continue // PathFields resolves it already
				}
			case !n.isStr && bytes.HasPrefix(data[pf.Offset:], []byte("null")):
				pf.End = pf.Offset + 4
			default:
				continue
			}
			pf.Kind, _ = resolve(pf.Value, nil)
			out = append(out, pf)
		}
	}
	return out
}

// lookup returns the value at the dotted field of the mapping n, nil when
// any key is missing.
func lookup(n *node, field string) *node {
	for _, k := range strings.Split(field, ".") {
		if n == nil || n.kind != mapping {
			return nil
		}
		var next *node
		for i, key := range n.keys {
			if key == k {
				next = n.vals[i] // the last of duplicate keys, as json.load keeps
			}
		}
		n = next
	}
	return n
}

// baseOf is the base name of a string scalar's path ("" for anything else),
// as Python's Path(value).name.
func baseOf(n *node) string {
	if n == nil || n.kind != scalar || !n.isStr || n.str == "" {
		return ""
	}
	return path.Base("/" + n.str)
}
