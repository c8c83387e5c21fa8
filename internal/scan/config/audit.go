package config

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Rules.
const (
	RuleURL          = "config/url"           // High: a path field names a URL (fsspec opens it)
	RulePathEscape   = "config/path-escape"   // High: a relative path that leaves the model folder
	RuleAbsolutePath = "config/absolute-path" // Medium: an absolute or home-relative path
	RuleImportString = "config/import-string" // a class path not on the profile's list
	RuleModuleName   = "config/module-name"   // Medium: a model name that is not a plain identifier
	RuleYAMLTag      = "config/yaml-tag"      // a tag yaml.safe_load does not know
)

// pathKeys are the path fields coqui reads (or writes) by exact name; any
// key ending in one of pathSuffixes is treated the same. Keys compare in
// lower case. Under a path field, every string of a list or mapping value is
// a path too (d_vector_file may be a list; bark's LOCAL_MODEL_PATHS a map).
var pathKeys = map[string]bool{
	"stats_path": true, "d_vector_file": true, "speakers_file": true, "language_ids_file": true,
	"speaker_encoder_model_path": true, "speaker_encoder_config_path": true, "model_dir": true,
	"tokenizer_file": true, "mel_norm_file": true, "mel_statistics_parameter_path": true,
	"path": true, "meta_file_train": true, "meta_file_val": true, "meta_file_attn_mask": true,
	"output_path": true, "restore_path": true, "continue_path": true, "phoneme_cache_path": true,
	"checkpoint": true, "vocab_file": true,
}

var pathSuffixes = []string{"_file", "_files", "_path", "_paths", "_dir", "_dirs", "_checkpoint", "_url", "_urls", "_uri"}

// trainingOnly are path fields only the trainer uses, to write into: a TTS
// server never opens them. An absolute one is evidence (Info), not a
// finding; a URL or an escape is still reported, at Medium.
var trainingOnly = map[string]bool{"output_path": true}

// moduleKeys name a module that coqui imports as "TTS.<package>." + value
// (find_module, setup_generator): anything but an identifier reaches
// other modules.
var moduleKeys = map[string]bool{"model": true, "generator_model": true, "discriminator_model": true}

var identRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// notPathKeys end like path fields but are not paths: distributed_url is the
// torch.distributed rendezvous address of multi-GPU training (coqui's default
// is tcp://localhost:54321); inference never uses it.
var notPathKeys = map[string]bool{"distributed_url": true}

func isPathKey(k string) bool {
	k = strings.ToLower(k)
	if notPathKeys[k] {
		return false
	}
	if pathKeys[k] {
		return true
	}
	for _, s := range pathSuffixes {
		if strings.HasSuffix(k, s) {
			return true
		}
	}
	return false
}

// isImportKey: characters_class and any other *_class field holds a dotted
// class path that coqui imports (import_class).
func isImportKey(k string) bool {
	k = strings.ToLower(k)
	return strings.HasSuffix(k, "_class") || strings.HasSuffix(k, "_class_path") || k == "class_path"
}

// auditor walks a config tree and reports into sink.
type auditor struct {
	policy *scan.Policy
	sink   scan.Sink
	dir    string // the config's own folder, when known
}

func (a *auditor) add(rule string, sev scan.Severity, n *node, field, format string, args ...any) {
	a.sink.Add(scan.Finding{Rule: rule, Severity: sev, Offset: n.offset, Field: field, Message: fmt.Sprintf(format, args...)})
}

// walk audits n at the dotted path field; key is the last mapping key above
// n, and inPath says whether a path field encloses it.
func (a *auditor) walk(n *node, field, key string, inPath bool) {
	if n.tag != "" {
		sev := scan.Medium
		if strings.HasPrefix(n.tag, "!!python/") || strings.Contains(n.tag, "python") {
			sev = scan.High
		}
		a.add(RuleYAMLTag, sev, n, field, "YAML tag %q: yaml.safe_load refuses it; unsafe loaders construct objects from it", n.tag)
	}
	switch n.kind {
	case mapping:
		for i, k := range n.keys {
			a.walk(n.vals[i], join(field, k), k, inPath || isPathKey(k))
		}
	case sequence:
		for i, v := range n.vals {
			a.walk(v, field+"["+strconv.Itoa(i)+"]", key, inPath)
		}
	case scalar:
		if !n.isStr || n.str == "" {
			return
		}
		if inPath {
			a.checkPath(n, field, strings.ToLower(key))
		}
		if isImportKey(key) {
			a.checkImport(n, field)
		}
		if moduleKeys[strings.ToLower(key)] && !identRE.MatchString(n.str) {
			a.add(RuleModuleName, scan.Medium, n, field, "model name %q is not a plain identifier; coqui imports a module named after it", clip(n.str))
		}
	}
}

// join appends a key to a dotted path; keys that would read ambiguously are
// quoted in brackets.
func join(field, k string) string {
	if k == "" || strings.ContainsAny(k, ".[]\"' \t\n") {
		return field + "[" + strconv.Quote(k) + "]"
	}
	if field == "" {
		return k
	}
	return field + "." + k
}

// urlRE matches a URL or an fsspec chain ("simplecache::s3://...").
var urlRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://|::|^file:`)

// driveRE matches a Windows drive ("C:", "C:\x", "C:/x").
var driveRE = regexp.MustCompile(`^[A-Za-z]:`)

func (a *auditor) checkPath(n *node, field, key string) {
	v := n.str
	training := trainingOnly[key]
	escSev := scan.High
	if training {
		escSev = scan.Medium
	}
	switch {
	case urlRE.MatchString(v):
		a.add(RuleURL, escSev, n, field, "path field is a URL %q: coqui opens it through fsspec, fetching whatever it serves", clip(v))
	case a.dir != "" && strings.HasPrefix(v, "/") && inside(a.dir, v):
		a.add(RuleAbsolutePath, scan.Info, n, field, "absolute path %q inside the model folder (as coqui's downloader writes them)", clip(v))
	case strings.HasPrefix(v, "/") || strings.HasPrefix(v, `\`) || strings.HasPrefix(v, "~") || driveRE.MatchString(v):
		sev := scan.Medium
		if training {
			sev = scan.Info
		}
		a.add(RuleAbsolutePath, sev, n, field, "absolute path %q: a file outside the model folder", clip(v))
	default:
		clean := path.Clean(strings.ReplaceAll(v, `\`, "/"))
		if clean == ".." || strings.HasPrefix(clean, "../") {
			a.add(RulePathEscape, escSev, n, field, "relative path %q leaves the model folder", clip(v))
		}
	}
}

// inside reports whether the absolute path p, cleaned, lies in dir.
func inside(dir, p string) bool {
	c := path.Clean(p)
	d := path.Clean(filepath.ToSlash(dir))
	return c == d || strings.HasPrefix(c, d+"/")
}

func (a *auditor) checkImport(n *node, field string) {
	v := n.str
	if a.policy != nil && a.policy.AllowedImportString(v) {
		return
	}
	module, name := v, ""
	if i := strings.LastIndexByte(v, '.'); i >= 0 {
		module, name = v[:i], v[i+1:]
	}
	sev, why := scan.Grade(module, name)
	if sev != scan.Critical {
		sev = scan.Medium
	}
	a.add(RuleImportString, sev, n, field, "class path %q is not on the profile's list (%s); coqui imports it", clip(v), why)
}

// clip shortens long values for messages.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
