package sandbox

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// coquiPathScript runs coqui-tts's downloader rewrite
// (ModelManager._update_paths) on the folder argv[1] and prints, as JSON, the
// values it left in the fields it rewrites (top level and model_args) that
// the model's config class has.
const coquiPathScript = `
import json, sys
from pathlib import Path
from TTS.utils.manage import ModelManager
d = Path(sys.argv[1])
ModelManager(progress_bar=False)._update_paths(d, d / "config.json")
c = json.load(open(d / "config.json"))
out = {}
for f in sys.argv[2:]:
    v = c
    for k in f.split("."):
        if not isinstance(v, dict) or k not in v:
            break
        v = v[k]
    else:
        out[f] = v  # absent: not a field of the model's config class
print(json.dumps(out))
`

// TestRewriteConfigAgreesWithCoqui compares RewriteConfig with coqui's own
// downloader on the path fields they both rewrite: for every field present
// in the original config, the copy given to the sandboxed command names the
// same file of the model folder as the config coqui's downloader writes.
// Runs when TTSGUARD_COQUI_PYTHON names a Python with coqui-tts installed.
func TestRewriteConfigAgreesWithCoqui(t *testing.T) {
	py := os.Getenv("TTSGUARD_COQUI_PYTHON")
	if py == "" {
		t.Skip("TTSGUARD_COQUI_PYTHON not set")
	}
	fields := []string{"d_vector_file", "speakers_file", "language_ids_file", "speaker_encoder_model_path",
		"speaker_encoder_config_path", "audio.stats_path", "model_args.d_vector_file", "model_args.speakers_file",
		"model_args.language_ids_file", "model_args.speaker_encoder_model_path", "model_args.speaker_encoder_config_path"}
	tests := []struct {
		name  string
		cfg   string
		files []string
	}{
		{"nulls with default files", `{"model": "vits", "d_vector_file": null, "speakers_file": null, "model_args": {"d_vector_file": null, "speakers_file": null}, "audio": {"stats_path": null}}`,
			[]string{"speakers.pth", "speaker_ids.json", "scale_stats.npy"}},
		{"trainer absolute paths", `{"model": "vits", "speakers_file": "/home/t/run/speakers.json", "model_args": {"speakers_file": "/home/t/run/speakers.json"}}`,
			[]string{"speakers.json"}},
		{"dangling, defaults present", `{"model": "vits", "speakers_file": "/home/t/run/gone.json", "language_ids_file": "", "model_args": {"speakers_file": "/x/gone.json", "language_ids_file": null}}`,
			[]string{"speaker_ids.pth", "language_ids.json"}},
		{"both defaults: the last wins", `{"model": "vits", "d_vector_file": null, "model_args": {"d_vector_file": ""}}`,
			[]string{"speakers.json", "speakers.pth"}},
		{"encoder files", `{"model": "vits", "model_args": {"speaker_encoder_model_path": "/t/model_se.pth.tar", "speaker_encoder_config_path": null}}`,
			[]string{"model_se.pth.tar", "config_se.json"}},
		{"relative stats", `{"model": "tacotron2", "audio": {"stats_path": "scale_stats.npy"}}`, []string{"scale_stats.npy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range append(tt.files, "config.json") {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(tt.cfg), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			copyData, _, err := RewriteConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			if copyData == nil {
				copyData = []byte(tt.cfg)
			}
			var ours, orig map[string]any
			if err := json.Unmarshal(copyData, &ours); err != nil {
				t.Fatalf("copy: %v\n%s", err, copyData)
			}
			json.Unmarshal([]byte(tt.cfg), &orig)
			out, err := exec.Command(py, append([]string{"-c", coquiPathScript, dir}, fields...)...).Output()
			if err != nil {
				t.Fatalf("coqui: %v", err)
			}
			var theirs map[string]any
			if err := json.Unmarshal(out, &theirs); err != nil {
				t.Fatalf("coqui output %q: %v", out, err)
			}
			for _, f := range fields {
				want, inClass := theirs[f]
				if !present(orig, f) || !inClass {
					// coqui fills fields absent from the file from its config
					// class, which the copy leaves absent; fields the class does
					// not have are dropped when coqui loads the config.
					continue
				}
				if got := get(ours, f); got != want {
					t.Errorf("%s: copy %v, coqui %v", f, got, want)
				}
			}
		})
	}
}

func get(m map[string]any, dotted string) any {
	var v any = m
	for _, k := range strings.Split(dotted, ".") {
		mm, _ := v.(map[string]any)
		v = mm[k]
	}
	return v
}

func present(m map[string]any, dotted string) bool {
	var v any = m
	for _, k := range strings.Split(dotted, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = mm[k]; !ok {
			return false
		}
	}
	return true
}
