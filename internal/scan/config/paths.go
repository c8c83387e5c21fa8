package config

import (
	"bytes"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// PathKind says how the value of a path field reads.
type PathKind string

// Path kinds.
const (
	PathRelative PathKind = "relative" // a relative path that stays in the folder once cleaned
	PathAbsolute PathKind = "absolute" // "/...", "\...", "~...", "C:..."
	PathURL      PathKind = "url"      // a URL or an fsspec chain: coqui fetches it
	PathEscape   PathKind = "escape"   // a relative path whose cleaned form starts with ".."
)

// PathField is one string held by a path field of a coqui config.
type PathField struct {
	// Field is the dotted path of the value: "speakers_file",
	// "model_args.d_vector_file[0]", "datasets[0].path".
	Field string `json:"field"`
	// Key is the path field's own key, in lower case ("d_vector_file").
	Key   string   `json:"key"`
	Value string   `json:"value"`
	Kind  PathKind `json:"kind"`
	// Training says that only coqui's trainer opens the field (output_path,
	// datasets[].path, phoneme_cache_path ...; see TrainingOnly): no
	// loader of a trained model reads it.
	Training bool `json:"training_only,omitempty"`
	// Resolved is the regular file of the model folder the value stands
	// for, slash-separated and relative to the folder, "" when none:
	//   - a relative path: its cleaned form, when that is a regular file;
	//   - an absolute path: its base name, when that is a regular file at
	//     the top of the folder (the rule of coqui's downloader, which
	//     points a downloaded config's fields at <model folder>/<base name>);
	//   - a URL or an escape: never.
	Resolved string `json:"resolved,omitempty"`
	// Offset and End are the byte span of the value's token in the data
	// given to PathFields, quotes included, for a JSON reading. For a YAML
	// reading End is 0 and Offset is where the value starts; for a config
	// that only coqui's old comment stripping reads (it edits the text)
	// Offset is -1 and End 0.
	Offset int64 `json:"offset"`
	End    int64 `json:"end,omitempty"`
}

// PathFields returns the path fields of a coqui config and how each
// resolves in the model folder model (the config's own folder; nil resolves
// nothing), in file order.
//
// The config is read the first way coqui's load_config would read it:
// json.load; when that fails, JSON with // and /* */ comments, then coqui's
// read_json_with_comments fallback; a YAML mapping (config.yaml) when it is
// no JSON. (Scan audits every reading.) Keys are path fields as Scan audits them (see the package
// documentation); under a path field, every string of a list or mapping is
// a path too. Its error wraps scan.ErrUnscannable when no reading is a
// mapping.
//
// A caller that writes a copy of the config whose paths point into another
// folder (ttsguard run) replaces, for each field with Resolved set and
// Training false, the token at [Offset, End) with the JSON string of the
// new path, from the last field to the first.
func PathFields(data []byte, model fs.FS) ([]PathField, error) {
	rs, err := parseAll(data)
	if err != nil {
		return nil, err
	}
	shift := int64(len(data) - len(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	var out []PathField
	collectPaths(rs[0].root, "", "", false, false, func(n *node, field, key string, training bool) {
		kind, res := resolve(n.str, model)
		f := PathField{Field: field, Key: key, Value: n.str, Kind: kind, Training: training, Resolved: res, Offset: -1}
		if rs[0].exact {
			f.Offset = n.offset + shift
			if n.end > 0 {
				f.End = n.end + shift
			}
		}
		out = append(out, f)
	})
	return out, nil
}

// ModelName returns the config's "model" field in lower case (the model
// family: vits, tacotron2, xtts ...), or its "generator_model" for old
// vocoder configs, "" when it has neither as a string.
func ModelName(data []byte) (string, error) {
	rs, err := parseAll(data)
	if err != nil {
		return "", err
	}
	top := rs[0].root
	for _, want := range []string{"model", "generator_model"} {
		for i, k := range top.keys {
			if v := top.vals[i]; k == want && v.kind == scalar && v.isStr && v.str != "" {
				return strings.ToLower(v.str), nil
			}
		}
	}
	return "", nil
}

// collectPaths calls fn for every string under a path field of n.
func collectPaths(n *node, field, key string, inPath, training bool, fn func(n *node, field, key string, training bool)) {
	switch n.kind {
	case mapping:
		for i, k := range n.keys {
			collectPaths(n.vals[i], join(field, k), k, inPath || isPathKey(k), training || trainingKey(field, k, inPath), fn)
		}
	case sequence:
		for i, v := range n.vals {
			collectPaths(v, field+"["+strconv.Itoa(i)+"]", key, inPath, training, fn)
		}
	case scalar:
		if inPath && n.isStr && n.str != "" {
			fn(n, field, strings.ToLower(key), training)
		}
	}
}

// trainingOnly are the path fields that only coqui's trainer opens (facts
// from coqui-tts 0.28 and coqui-tts-trainer 0.4): the run's output folder
// and dashboard logger, the dataset caches its data loader writes, the
// vocoder's training data, the test sentences of its test runs, and
// TrainerArgs' restore paths. Every field under the top-level "datasets"
// list (path, meta_file_train, meta_file_val, meta_file_attn_mask) is
// training-only too: a loader reads languages from it, never files.
var trainingOnly = map[string]bool{
	"output_path": true, "logger_uri": true,
	"phoneme_cache_path": true, "f0_cache_path": true, "energy_cache_path": true, "attn_prior_cache_path": true,
	"data_path": true, "feature_path": true, "test_sentences_file": true,
	"restore_path": true, "continue_path": true, "best_path": true,
}

// trainingKey reports whether the key k of the mapping at field starts a
// training-only part of a config: a training-only path field (not a key
// inside another path field's mapping, such as bark's LOCAL_MODEL_PATHS),
// or the top-level "datasets".
func trainingKey(field, k string, inPath bool) bool {
	return (!inPath && TrainingOnly(k)) || (field == "" && k == "datasets")
}

// TrainingOnly reports whether a path field key (any case) is one only
// coqui's trainer opens, wherever it is in the config. Fields under the
// top-level "datasets" list are training-only as well (PathField.Training).
func TrainingOnly(key string) bool { return trainingOnly[strings.ToLower(key)] }

// driveRE matches a Windows drive ("C:", "C:\x", "C:/x").
var driveRE = regexp.MustCompile(`^[A-Za-z]:`)

// resolve classifies a path value and finds the regular file of model it
// stands for (see PathField.Resolved).
func resolve(v string, model fs.FS) (PathKind, string) {
	if _, ok := FsspecURL(v); ok {
		return PathURL, ""
	}
	switch {
	case strings.HasPrefix(v, "/") || strings.HasPrefix(v, `\`) || strings.HasPrefix(v, "~") || driveRE.MatchString(v):
		s := strings.ReplaceAll(v, `\`, "/")
		if driveRE.MatchString(s) {
			s = s[2:] // "C:speakers.pth", "C:/models/speakers.pth"
		}
		return PathAbsolute, regular(model, s[strings.LastIndexByte(s, '/')+1:])
	}
	clean := path.Clean(strings.ReplaceAll(v, `\`, "/"))
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return PathEscape, ""
	}
	return PathRelative, regular(model, clean)
}

// regular returns name when it is a regular file of model (never following
// a final symbolic link), else "".
func regular(model fs.FS, name string) string {
	if model == nil || name == "" || name == "." || !fs.ValidPath(name) {
		return ""
	}
	fi, err := fs.Lstat(model, name)
	if err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return name
}
