package coqui

import (
	"errors"
	"strings"
	"testing"
)

func TestParseID(t *testing.T) {
	typ, lang, ds, name, err := ParseID("tts_models/en/ljspeech/vits")
	if err != nil || typ != "tts_models" || lang != "en" || ds != "ljspeech" || name != "vits" {
		t.Errorf("ParseID = %s %s %s %s %v", typ, lang, ds, name, err)
	}
	for _, id := range []string{"tts_models/en/ljspeech/vits--neon", "tts_models/zh-CN/baker/tacotron2-DDC-GST",
		"tts_models/multilingual/multi-dataset/xtts_v1.1", "voice_conversion_models/multilingual/vctk/freevc24",
		"vocoder_models/en/librispeech100/wavlm-hifigan_prematched"} {
		if _, _, _, _, err := ParseID(id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	bad := map[string]string{
		"":                             `model id "": 1 parts: want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"vits":                         `model id "vits": 1 parts: want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"tts_models/en/vits":           `model id "tts_models/en/vits": 3 parts: want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"tts_models/en/ljspeech/vits/": `model id "tts_models/en/ljspeech/vits/": 5 parts: want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"tts_models/../ljspeech/vits":  `model id "tts_models/../ljspeech/vits": invalid language "..": want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"tts_models/en/./vits":         `model id "tts_models/en/./vits": invalid dataset ".": want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"tts_models/en/ljspeech/-rf":   `model id "tts_models/en/ljspeech/-rf": invalid name "-rf": want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"tts_models/en/lj speech/vits": `model id "tts_models/en/lj speech/vits": invalid dataset "lj speech": want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"tts/en/ljspeech/vits":         `model id "tts/en/ljspeech/vits": unknown type "tts": want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
		"tts_models/en/ljspeech/v\\x":  `model id "tts_models/en/ljspeech/v\\x": invalid name "v\\x": want type/language/dataset/name, like tts_models/en/ljspeech/vits`,
	}
	for id, want := range bad {
		if _, _, _, _, err := ParseID(id); err == nil || err.Error() != want {
			t.Errorf("ParseID(%q) = %v, want %s", id, err, want)
		}
	}
	long := "tts_models/en/ljspeech/" + strings.Repeat("v", 240)
	if _, _, _, _, err := ParseID(long); err == nil || !strings.Contains(err.Error(), "longer than 256 bytes") {
		t.Errorf("long: %v", err)
	}
}

func TestFolderName(t *testing.T) {
	for id, want := range map[string]string{
		"tts_models/en/ljspeech/vits":                              "tts_models--en--ljspeech--vits",
		"tts_models/en/ljspeech/vits--neon":                        "tts_models--en--ljspeech--vits--neon",
		"tts_models/multilingual/multi-dataset/xtts_v2":            "tts_models--multilingual--multi-dataset--xtts_v2",
		"vocoder_models/en/ljspeech/hifigan_v2":                    "vocoder_models--en--ljspeech--hifigan_v2",
		"voice_conversion_models/multilingual/multi-dataset/knnvc": "voice_conversion_models--multilingual--multi-dataset--knnvc",
		"tts_models/../x/y":                                        "",
		"../../etc":                                                "",
		"xtts_v2":                                                  "",
	} {
		if got := FolderName(id); got != want {
			t.Errorf("FolderName(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestTOS(t *testing.T) {
	// byte for byte what coqui's ModelManager.ask_tos writes
	if TOSAgreedFile != "tos_agreed.txt" || TOSAgreedContent() != "I have read, understood and agreed to the Terms and Conditions." {
		t.Error("tos_agreed.txt")
	}
}

func TestCheckpointRename(t *testing.T) {
	for _, tt := range []struct {
		names []string
		want  string
	}{
		{[]string{"best_model_30824.pth", "config.json"}, "best_model_30824.pth"},
		{[]string{"checkpoint.pth", "config.json", "tos_agreed.txt"}, "checkpoint.pth"},
		{[]string{"model_file.pth.tar", "config.json"}, "model_file.pth.tar"},
		{[]string{"model.pth", "config.json"}, ""},
		{[]string{"model.pth", "speakers_xtts.pth"}, ""},
		{[]string{"config.json"}, ""},
		{[]string{"a.pt", "b.ptx"}, ""},
	} {
		got, ok := CheckpointRename(tt.names)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("CheckpointRename(%q) = %q %v", tt.names, got, ok)
		}
	}
}

func TestResolve(t *testing.T) {
	c := fixture(t)
	// fairseq: built like coqui builds it, whatever the catalog holds
	e, err := c.Resolve("tts_models/eng/fairseq/vits")
	if err != nil {
		t.Fatal(err)
	}
	if !e.Synthetic || e.Shape != ShapeTarGz || len(e.URLs) != 1 || e.URLs[0] != "https://dl.fbaipublicfiles.com/mms/tts/eng.tar.gz" ||
		e.License != "CC BY-NC 4.0" || FolderName(e.ID) != "tts_models--eng--fairseq--vits" {
		t.Errorf("fairseq: %+v", e)
	}
	// XTTS by version name
	for name, rev := range map[string]string{"xtts_v2.0.2": "v2.0.2", "xtts": "main", "xtts_v2": "main", "xtts_v2.0.3": "v2.0.3"} {
		e, err := c.Resolve(name)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Synthetic || e.ID != "tts_models/multilingual/multi-dataset/"+name || !e.TOSRequired || e.Shape != ShapeFiles ||
			len(e.Files) != 5 || e.Files[0].URL != "https://huggingface.co/coqui/XTTS-v2/resolve/"+rev+"/model.pth" ||
			e.Files[4].Name != "speakers_xtts.pth" || e.License != "CPML" {
			t.Errorf("%s: %+v", name, e)
		}
	}
	// not found: close matches
	tests := map[string]string{
		"tts_models/en/ljspeech/vitz": `model "tts_models/en/ljspeech/vitz" is not in the coqui catalog "testdata/models.json"; close matches: tts_models/en/ljspeech/vits`,
		"tts_models/en/other/vits":    `model "tts_models/en/other/vits" is not in the coqui catalog "testdata/models.json"; close matches: tts_models/en/example-hf/vits, tts_models/en/example/vits, tts_models/en/ljspeech/vits`,
		"TTS_models/EN/ljspeech/vits": `model "TTS_models/EN/ljspeech/vits" is not in the coqui catalog "testdata/models.json"; close matches: tts_models/en/ljspeech/vits, tts_models/en/example-hf/vits, tts_models/en/example/vits`,
		"tts_models/xx/nothing/close": `model "tts_models/xx/nothing/close" is not in the coqui catalog "testdata/models.json"`,
	}
	for id, want := range tests {
		_, err := c.Resolve(id)
		if err == nil || err.Error() != want {
			t.Errorf("Resolve(%q):\n got %v\nwant %s", id, err, want)
		}
		var nf *NotFoundError
		if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) || nf.ID != id {
			t.Errorf("Resolve(%q): %T", id, err)
		}
	}
	// malformed ids are ParseID errors
	for _, id := range []string{"vits", "../../x/y", "xtts/../../etc", ""} {
		if _, err := c.Resolve(id); err == nil || errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), "model id ") {
			t.Errorf("Resolve(%q) = %v", id, err)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"vits", "vitz", 1}} {
		if got := distance(tt.a, tt.b); got != tt.d {
			t.Errorf("distance(%q, %q) = %d", tt.a, tt.b, got)
		}
	}
}
