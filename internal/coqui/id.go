// Package coqui speaks coqui TTS's model catalog: the .models.json file that
// ships inside the TTS Python package (idiap/coqui-ai-TTS, formerly
// coqui-ai/TTS), its model ids, the download URLs of each model, and the
// folder names and files coqui's ModelManager (TTS/utils/manage.py) uses, so
// that a model ttsguard fetches sits exactly where and how coqui expects it.
//
// Nothing here downloads: the package turns ids into Entries that name URLs;
// internal/fetch fetches them under the trust policy.
package coqui

import (
	"fmt"
	"regexp"
	"strings"
)

// Model types: the top-level keys of a catalog.
const (
	TypeTTS     = "tts_models"
	TypeVocoder = "vocoder_models"
	TypeVC      = "voice_conversion_models"
)

// TOSAgreedFile is the file coqui looks for in a model's folder before it
// loads a model whose catalog entry says tos_required (XTTS); when it is
// missing coqui prompts, unless the environment has COQUI_TOS_AGREED=1.
const TOSAgreedFile = "tos_agreed.txt"

// EnvTOSAgreed is the environment variable coqui also accepts as agreement
// ("1").
const EnvTOSAgreed = "COQUI_TOS_AGREED"

// TOSAgreedContent returns what coqui's ModelManager.ask_tos writes into
// tos_agreed.txt when the user answers "y": one sentence, no newline. coqui
// only checks that the file exists.
func TOSAgreedContent() string {
	return "I have read, understood and agreed to the Terms and Conditions."
}

// maxIDLen caps a model id.
const maxIDLen = 256

// segment is one part of a model id: what every key of coqui's catalogs
// matches (tacotron2-DDC_ph, vits--neon, xtts_v1.1, zh-CN, multi-dataset).
// It can never be "." or "..", hold a "/" or start with "-".
var segment = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ParseID splits a model id "type/language/dataset/name" (such as
// tts_models/en/ljspeech/vits). Each part starts with a letter or digit and
// holds only letters, digits, '.', '_' and '-'; the type ends in "_models";
// the id is at most 256 bytes.
func ParseID(id string) (typ, lang, dataset, name string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("model id %q: %s: want type/language/dataset/name, like tts_models/en/ljspeech/vits", id, why)
	}
	if len(id) > maxIDLen {
		return "", "", "", "", bad(fmt.Sprintf("longer than %d bytes", maxIDLen))
	}
	parts := strings.Split(id, "/")
	if len(parts) != 4 {
		return "", "", "", "", bad(fmt.Sprintf("%d parts", len(parts)))
	}
	for i, p := range parts {
		if !segment.MatchString(p) {
			what := [...]string{"type", "language", "dataset", "name"}[i]
			return "", "", "", "", bad(fmt.Sprintf("invalid %s %q", what, p))
		}
	}
	if !strings.HasSuffix(parts[0], "_models") {
		return "", "", "", "", bad(fmt.Sprintf("unknown type %q", parts[0]))
	}
	return parts[0], parts[1], parts[2], parts[3], nil
}

// FolderName returns the name of the folder coqui downloads a model into
// (under its output prefix, ~/.local/share/tts): the id's parts joined by
// "--", such as tts_models--en--ljspeech--vits. It returns "" for an id
// ParseID refuses.
func FolderName(id string) string {
	if _, _, _, _, err := ParseID(id); err != nil {
		return ""
	}
	return strings.ReplaceAll(id, "/", "--")
}

// CheckpointRename returns the file coqui renames to model.pth after a
// download (ModelManager.create_dir_and_download_model): when exactly one
// name in the model folder matches the glob "*.pt*", that one. It reports
// false when none or several match, or when the match is model.pth already.
// names are the folder's top-level entries.
func CheckpointRename(names []string) (string, bool) {
	var match []string
	for _, n := range names {
		if strings.Contains(n, ".pt") && !strings.Contains(n, "/") {
			match = append(match, n)
		}
	}
	if len(match) != 1 || match[0] == "model.pth" {
		return "", false
	}
	return match[0], true
}
