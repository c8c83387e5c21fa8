package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ttsguard/ttsguard/internal/store"
)

// TestModelKind: ls's kind column (issue 15, item 8) comes from the config's
// model family, and without a known family from the coqui id pulled.
func TestModelKind(t *testing.T) {
	cases := []struct {
		name, config, requested string
		kind, family            string
	}{
		{"vits", `{"model": "vits"}`, "", "tts model", "vits"},
		{"xtts by id and family", `{"model": "xtts"}`, "tts_models/multilingual/multi-dataset/xtts_v2", "tts model", "xtts"},
		{"mixed case family", `{"model": "NeuralHMM_TTS"}`, "", "tts model", "neuralhmm_tts"},
		{"hifigan", `{"model": "hifigan"}`, "", "vocoder", "hifigan"},
		{"wavegrad", `{"model": "wavegrad"}`, "", "vocoder", "wavegrad"},
		{"old vocoder config", `{"generator_model": "hifigan_generator"}`, "", "vocoder", "hifigan_generator"},
		{"family wins over the id", `{"model": "univnet"}`, "tts_models/en/x/y", "vocoder", "univnet"},
		{"vocoder id, no config", "", "vocoder_models/en/ljspeech/hifigan_v2", "vocoder", ""},
		{"tts id, unknown family", `{"model": "some_new_tts"}`, "tts_models/en/x/new", "tts model", "some_new_tts"},
		{"voice conversion", `{"model": "freevc"}`, "voice_conversion_models/multilingual/vctk/freevc24", "other", "freevc"},
		{"no config, a URL", "", "https://example.test/x.pth", "other", ""},
		{"unreadable config", `{"model": `, "", "other", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			v := &store.Version{Dir: dir, Provenance: store.Provenance{Requested: tc.requested}}
			if kind, family := modelKind(v); kind != tc.kind || family != tc.family {
				t.Errorf("got %q, %q; want %q, %q", kind, family, tc.kind, tc.family)
			}
		})
	}
}
