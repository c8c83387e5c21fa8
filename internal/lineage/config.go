package lineage

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan/config"
)

// ErrConfig is wrapped by every refusal of a training config or command
// line: a path outside the declared inputs, a config that is not JSON.
var ErrConfig = errors.New("training config refused")

// MaxConfigSize caps the training config read.
const MaxConfigSize = 16 << 20

// Area is a place a training run is given: a declared input (read-only) or
// the output folder (read-write).
type Area struct {
	Path  string // absolute, clean
	What  string // "dataset \"ljs\"", "the base model", "--out", ...
	Write bool   // the run may write there (--out)
	// Base: the base model, the only place restore_path and continue_path
	// may name (a checkpoint elsewhere would be an undeclared parent).
	Base bool
}

// Areas are the places a run is given, by which the config is audited.
type Areas []Area

// ConfigPath is one path a training config or command line names, and the
// area it lies in.
type ConfigPath struct {
	Field string `json:"field"` // datasets[0].meta_file_train, audio.stats_path, --restore_path
	Value string `json:"value"` // as written
	Path  string `json:"path"`  // absolute, clean
	Area  string `json:"area"`  // Area.What
}

// pathSuffixes are the endings of the key names coqui and its trainer give
// to fields that hold a path: output_path, restore_path, continue_path,
// phoneme_cache_path, stats_path, speakers_file, d_vector_file,
// language_ids_file, meta_file_train, meta_file_val, meta_file_attn_mask,
// speaker_encoder_model_path, tokenizer_file, mel_norm_file,
// dvae_checkpoint, xtts_checkpoint, data_path, feature_path, logger_uri,
// datasets[].path, test_sentences_file, ...
var pathSuffixes = []string{"path", "paths", "file", "files", "dir", "dirs", "folder", "checkpoint", "uri"}

// writeFields are written by the trainer (its output, the phoneme, F0 and
// energy caches): they must lie in a writable area.
var writeFields = []string{"output_path", "phoneme_cache_path", "f0_cache_path", "energy_cache_path"}

// parentFields name a checkpoint training starts from: only the base model.
var parentFields = []string{"restore_path", "continue_path"}

// metaFields are relative to their dataset's path (coqui's load_tts_samples
// joins them with it).
var metaFields = []string{"meta_file_train", "meta_file_val", "meta_file_attn_mask"}

// isPathKey reports whether a config key names a path.
func isPathKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range pathSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// AuditConfig reads a coqui training config (JSON) and checks every path it
// names against the areas: a path must lie inside one of them; output_path
// and phoneme_cache_path inside a writable one; restore_path and
// continue_path inside the base model. meta_file_* fields are resolved
// against their dataset entry's path, as coqui does; any other relative
// path is refused (it would resolve against the sandbox's scratch folder).
// A refusal names the field and the path.
func AuditConfig(name string, data []byte, areas Areas) ([]ConfigPath, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%w: config %q: larger than %d bytes", ErrConfig, name, MaxConfigSize)
	}
	// Read as coqui's load_config reads it (Python's json: NaN and
	// Infinity, which coqui's own configs hold; its comment fallback).
	obj, err := config.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: config %q: not a JSON object as coqui reads one: %v", ErrConfig, name, err)
	}
	var v any = obj
	var out []ConfigPath
	var errs []error
	walkConfig(v, "", "", func(field, key, value, base string) {
		cp, err := areas.check(field, key, value, base)
		if err != nil {
			errs = append(errs, fmt.Errorf("config %q: %w", name, err))
			return
		}
		out = append(out, cp)
	})
	if len(errs) > 0 {
		return out, fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return out, nil
}

// walkConfig calls fn for every non-empty string held by a path key (or a
// list under one), depth first in key order. base is the "path" of the
// dataset entry a meta_file_* field sits in.
func walkConfig(v any, field, key string, fn func(field, key, value, base string)) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		base := ""
		if p, ok := t["path"].(string); ok {
			base = p
		}
		for _, k := range keys {
			f := k
			if field != "" {
				f = field + "." + k
			}
			if s, ok := t[k].(string); ok && slices.Contains(metaFields, k) {
				if s != "" {
					fn(f, k, s, base)
				}
				continue
			}
			walkConfig(t[k], f, k, fn)
		}
	case []any:
		for i, e := range t {
			walkConfig(e, field+"["+strconv.Itoa(i)+"]", key, fn)
		}
	case string:
		if t != "" && isPathKey(key) {
			fn(field, key, t, "")
		}
	}
}

// check places one path of the config in an area.
func (as Areas) check(field, key, value, base string) (ConfigPath, error) {
	cp := ConfigPath{Field: field, Value: value}
	p := value
	if strings.Contains(p, "://") {
		return cp, fmt.Errorf("%s: %q is a URL: a training run has no network; give a path inside the declared inputs or --out", field, value)
	}
	if strings.ContainsRune(p, 0) {
		return cp, fmt.Errorf("%s: %q holds a NUL byte", field, value)
	}
	if strings.HasPrefix(p, "~") {
		return cp, fmt.Errorf("%s: %q starts with ~, which the trainer may expand to a home folder outside the declared inputs", field, value)
	}
	if !filepath.IsAbs(p) {
		if base == "" || !filepath.IsAbs(base) {
			return cp, fmt.Errorf("%s: %q is relative, so it would resolve against the sandbox's scratch folder: give an absolute path inside the declared inputs or --out", field, value)
		}
		p = filepath.Join(base, p)
	}
	cp.Path = filepath.Clean(p)
	a, ok := as.find(cp.Path)
	switch {
	case !ok:
		return cp, fmt.Errorf("%s: %q is outside the declared inputs and --out (%s)", field, cp.Path, as.names())
	case slices.Contains(writeFields, key) && !a.Write:
		return cp, fmt.Errorf("%s: %q is in %s, which is read-only: the trainer writes there; point it inside --out", field, cp.Path, a.What)
	case slices.Contains(parentFields, key) && !a.Base:
		return cp, fmt.Errorf("%s: %q is not inside the base model: training would start from a checkpoint that is not declared; store it and give it with --base-model", field, cp.Path)
	}
	cp.Area = a.What
	return cp, nil
}

// find returns the innermost area holding p.
func (as Areas) find(p string) (Area, bool) {
	best, found := Area{}, false
	for _, a := range as {
		if p == a.Path || within(a.Path, p) {
			if !found || len(a.Path) > len(best.Path) {
				best, found = a, true
			}
		}
	}
	return best, found
}

func (as Areas) names() string {
	var s []string
	for _, a := range as {
		s = append(s, a.What+" "+a.Path)
	}
	return strings.Join(s, ", ")
}

// within reports whether p is beneath folder dir.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// AuditArgs checks the paths a coqui training command line names
// (--config_path, --restore_path, --continue_path, and --coqpit.FIELD
// overrides of path fields), as AuditConfig checks the config's. config is
// the declared config: a --config_path must name it.
func AuditArgs(args []string, config string, areas Areas) ([]ConfigPath, error) {
	var out []ConfigPath
	var errs []error
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		name, value, hasValue := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "--") {
			continue
		}
		key := strings.TrimPrefix(name, "--")
		if k, ok := strings.CutPrefix(key, "coqpit."); ok {
			key = k[strings.LastIndex(k, ".")+1:]
		} else if key != "config_path" && !slices.Contains(parentFields, key) {
			continue
		}
		if !isPathKey(key) && !slices.Contains(metaFields, key) {
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				errs = append(errs, fmt.Errorf("%s: no value", name))
				break
			}
			i++
			value = args[i]
		}
		if value == "" {
			continue
		}
		if key == "config_path" {
			if config == "" || filepath.Clean(value) != config {
				errs = append(errs, fmt.Errorf("%s: %q is not the declared config (--config, given as {config} or its absolute path): the config the trainer reads must be the one audited", name, value))
			}
			continue
		}
		cp, err := areas.check(name, key, value, "")
		if err != nil {
			errs = append(errs, fmt.Errorf("command line: %w", err))
			continue
		}
		out = append(out, cp)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return out, nil
}
