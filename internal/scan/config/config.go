// Package config audits coqui TTS model configs (config.json, or YAML) for
// fields that make coqui read or import something outside the model: path
// fields that are absolute, leave the model folder or name a URL, and class
// paths (characters.characters_class ...) that the scan profile does not
// list.
//
// A config is read the way every loader coqui may use would read it, and
// each reading is audited (findings are merged):
//
//   - JSON as Python's json.load reads it (NaN and Infinity allowed,
//     duplicate keys kept: every occurrence is audited);
//   - when that fails, JSON with // and /* */ comments between tokens, and
//     the text coqui's read_json_with_comments fallback parses (which strips
//     "//" to the end of the line even inside strings);
//   - YAML as yaml.safe_load reads it (one document; aliases and merge keys
//     expanded; non-standard tags reported).
//
// A file none of these can read as a mapping is unscannable.
//
// Findings (field is the dotted path, e.g. "audio.stats_path",
// "datasets[0].path"; offset is that of the value):
//
//   - config/url, High: a path field is a URL or an fsspec chain;
//   - config/path-escape, High: a relative path whose cleaned form starts with "..";
//   - config/absolute-path: "/...", "\...", "~...", "C:...": Info when its
//     base name is a regular file of the config's folder (the file coqui's
//     downloader and ttsguard run point it at: "resolved in the model
//     folder"), Medium otherwise;
//   - training-only fields (output_path, datasets[].path, phoneme_cache_path
//     ...: see TrainingOnly), which no loader opens, are graded lower: an
//     absolute path is Info, a URL or an escape Medium;
//   - config/import-string: a *_class field not allowed by the policy,
//     Critical when scan.Grade says the class is, else Medium;
//   - config/module-name, Medium: model / generator_model /
//     discriminator_model that is not an identifier;
//   - config/yaml-tag: High for python tags, else Medium.
//
// The config's folder is scan.Context.Dir: scan and pull grade a config by
// the files beside it, the same rule for a trainer's run folder, its copy in
// a pull's staging folder and the stored model. Without a folder (bytes,
// archive members) no absolute path resolves. PathFields returns the same
// classification for ttsguard run, which gives coqui a copy of the config
// whose resolved paths point into the verified model folder.
package config

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Scan audits the size bytes at r as a coqui config and reports into sink.
// Its error wraps scan.ErrUnscannable when the file is larger than
// c.Limits.MaxConfigSize, is not UTF-8, or no reading of it is a mapping.
func Scan(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	if size > c.Limits.MaxConfigSize {
		return scan.Unscannablef("config of %d bytes is larger than the limit of %d", size, c.Limits.MaxConfigSize)
	}
	data := make([]byte, size)
	if k, err := r.ReadAt(data, 0); k != len(data) {
		return scan.Unscannablef("reading config: %v", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", scan.ErrUnscannable, err)
	}
	views, err := readings(data)
	if err != nil {
		return err
	}
	d := &dedup{sink: sink, seen: map[string]bool{}}
	a := &auditor{policy: c.Policy, sink: d}
	if c.Dir != "" {
		a.model = os.DirFS(c.Dir)
	}
	for _, v := range views {
		a.walk(v, "", "", false, false)
	}
	return nil
}

// IsConfig reports whether data reads as a config: a JSON object (comments
// allowed) or a YAML mapping.
func IsConfig(data []byte) bool {
	_, err := readings(data)
	return err == nil
}

// readings parses data in every way a loader may, and returns the mappings.
// Its error wraps scan.ErrUnscannable.
func readings(data []byte) ([]*node, error) {
	rs, err := parseAll(data)
	if err != nil {
		return nil, err
	}
	views := make([]*node, len(rs))
	for i, r := range rs {
		views[i] = r.root
	}
	return views, nil
}

// reading is one way of reading a config: its root mapping, and whether its
// offsets are of the given bytes (false for coqui's fallback, which parses
// an edited copy of the text).
type reading struct {
	root  *node
	exact bool
}

// parseAll parses data in every way a loader may, in the order coqui's
// load_config tries them: json.load; when that fails, JSON with comments and
// coqui's comment-stripping fallback; then YAML (yaml.safe_load). Its error
// wraps scan.ErrUnscannable when none is a mapping.
func parseAll(data []byte) ([]reading, error) {
	if !utf8.Valid(data) {
		return nil, scan.Unscannablef("config is not valid UTF-8")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := string(data)
	var rs []reading
	add := func(exact bool) func(*node, error) error {
		return func(n *node, err error) error {
			switch {
			case err != nil:
				return err
			case n.kind != mapping:
				return fmt.Errorf("top level is not a mapping")
			}
			rs = append(rs, reading{n, exact})
			return nil
		}
	}
	jsonErr := add(true)(parseJSON(text, false))
	if jsonErr != nil {
		add(true)(parseJSON(text, true))
		add(false)(parseJSON(coquiFallback(text), false))
	}
	yamlErr := add(true)(parseYAML(data, len(data)/2+100_000))
	if len(rs) == 0 {
		return nil, scan.Unscannablef("config is neither a JSON object (%v) nor a YAML mapping (%v)", jsonErr, yamlErr)
	}
	return rs, nil
}

// dedup drops findings already reported by another reading of the file.
type dedup struct {
	sink scan.Sink
	seen map[string]bool
}

func (d *dedup) Add(f scan.Finding) {
	k := f.Rule + "\x00" + f.Field + "\x00" + f.Message
	if d.seen[k] {
		return
	}
	d.seen[k] = true
	d.sink.Add(f)
}
