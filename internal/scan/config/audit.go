package config

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Rules.
const (
	RuleURL          = "config/url"           // High: a path field names a URL (fsspec opens it)
	RulePathEscape   = "config/path-escape"   // High: a relative path that leaves the model folder
	RuleAbsolutePath = "config/absolute-path" // Medium: an absolute or home-relative path (Info when resolved or training-only)
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
	model  fs.FS // the config's own folder, when known: paths resolve in it
}

func (a *auditor) add(rule string, sev scan.Severity, n *node, field, format string, args ...any) {
	a.sink.Add(scan.Finding{Rule: rule, Severity: sev, Offset: n.offset, Field: field, Message: fmt.Sprintf(format, args...)})
}

// walk audits n at the dotted path field; key is the last mapping key above
// n, inPath says whether a path field encloses it, and training whether a
// training-only field does (see PathField.Training).
func (a *auditor) walk(n *node, field, key string, inPath, training bool) {
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
			a.walk(n.vals[i], join(field, k), k, inPath || isPathKey(k), training || trainingKey(field, k, inPath))
		}
	case sequence:
		for i, v := range n.vals {
			a.walk(v, field+"["+strconv.Itoa(i)+"]", key, inPath, training)
		}
	case scalar:
		if !n.isStr || n.str == "" {
			return
		}
		if inPath {
			a.checkPath(n, field, training)
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

// unreadFields are top-level config fields that hold paths whose values
// coqui-tts 0.28 never opens, with why: Bark.load_checkpoint (the only way
// Synthesizer, the TTS api and tts-server load a Bark model) overwrites
// LOCAL_MODEL_PATHS (text, coarse, fine, hubert_tokenizer) with
// <model folder>/text_2.pt, coarse_2.pt, fine_2.pt, tokenizer.pth and
// CACHE_DIR with that folder before load_bark_models reads them; no code
// reads DEF_SPEAKER_DIR or SMALL_REMOTE_MODEL_PATHS. BarkConfig's defaults
// put the first three under the writing user's home folder, so every config
// coqui writes for Bark holds such paths. Field names are Python attribute
// names, compared exactly.
var unreadFields = map[string]string{
	"LOCAL_MODEL_PATHS":        "Bark.load_checkpoint replaces every entry with the model folder's own file before any read",
	"CACHE_DIR":                "Bark.load_checkpoint replaces it with the model folder before any read",
	"DEF_SPEAKER_DIR":          "no coqui code reads it",
	"SMALL_REMOTE_MODEL_PATHS": "no coqui code reads it",
}

// barkRemoteDefaults are BarkConfig's own values of REMOTE_MODEL_PATHS
// (REMOTE_BASE_URL joined with the checkpoint names; REMOTE_BASE_URL is no
// dataclass field, so a config cannot change it). Bark's load_model fetches
// REMOTE_MODEL_PATHS.<type>.path (with "tree" replaced by "resolve") with
// requests when the model folder lacks <type>_2.pt, or holds one whose MD5
// differs from the config's checksum, then torch.loads it. A config that
// holds coqui's default adds nothing to what coqui does without it (Info);
// any other value there is a download site the config chooses and is graded
// as a URL or path like any other.
var barkRemoteDefaults = map[string]string{
	"REMOTE_MODEL_PATHS.text.path":   "https://huggingface.co/erogol/bark/tree/main/text_2.pt",
	"REMOTE_MODEL_PATHS.coarse.path": "https://huggingface.co/erogol/bark/tree/main/coarse_2.pt",
	"REMOTE_MODEL_PATHS.fine.path":   "https://huggingface.co/erogol/bark/tree/main/fine_2.pt",
}

// checkPath grades one path value (docs/scan.md, "Paths in configs"): a URL
// or an escape is High (Medium in a training-only field); an absolute path
// is Info when it resolves to a file of the config's folder by its base
// name (coqui's downloader and ttsguard run point it there) or when the
// field is training-only, Medium otherwise.
func (a *auditor) checkPath(n *node, field string, training bool) {
	v := n.str
	top := field
	if i := strings.IndexAny(top, ".["); i >= 0 {
		top = top[:i]
	}
	if why, ok := unreadFields[top]; ok {
		a.add(RuleAbsolutePath, scan.Info, n, field, "path %q: coqui never opens this value (%s)", clip(v), why)
		return
	}
	if def, ok := barkRemoteDefaults[field]; ok && v == def {
		a.add(RuleURL, scan.Info, n, field, "%q is coqui's own default for this field (BarkConfig sets it when the config has none): coqui downloads it with requests only when the model folder lacks the checkpoint or its MD5 differs from the checksum", clip(v))
		return
	}
	escSev := scan.High
	if training {
		escSev = scan.Medium
	}
	switch kind, res := resolve(v, a.model); {
	case kind == PathURL && strings.HasPrefix(field, "REMOTE_MODEL_PATHS."):
		a.add(RuleURL, escSev, n, field, "download URL %q is not coqui's default: Bark fetches it with requests and torch.loads it (weights_only=False) when the model folder lacks the checkpoint or its MD5 differs from the checksum", clip(v))
	case kind == PathURL:
		proto, _ := FsspecURL(v)
		a.add(RuleURL, escSev, n, field, "path field is a URL %q (fsspec protocol %q): coqui opens it through fsspec, fetching whatever it serves", clip(v), proto)
	case kind == PathEscape:
		a.add(RulePathEscape, escSev, n, field, "relative path %q leaves the model folder", clip(v))
	case kind == PathAbsolute && res != "":
		a.add(RuleAbsolutePath, scan.Info, n, field, "absolute path %q: resolved in the model folder as %q (its base name)", clip(v), res)
	case kind == PathAbsolute && training:
		a.add(RuleAbsolutePath, scan.Info, n, field, "absolute path %q in a training-only field: only coqui's trainer opens it", clip(v))
	case kind == PathAbsolute:
		a.add(RuleAbsolutePath, scan.Medium, n, field, "absolute path %q: a file outside the model folder (no file of that base name in it)", clip(v))
	}
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
