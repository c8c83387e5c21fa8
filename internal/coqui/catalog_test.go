package coqui

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func fixture(t testing.TB) *Catalog {
	t.Helper()
	c, err := LoadCatalog("testdata/models.json")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadCatalog(t *testing.T) {
	c := fixture(t)
	want := []string{
		"tts_models/de/example/both-keys",
		"tts_models/en/example-hf/vits",
		"tts_models/en/example-hf/zipped",
		"tts_models/en/example/glow-tts",
		"tts_models/en/example/vits",
		"tts_models/en/ljspeech/tacotron2-DDC",
		"tts_models/en/ljspeech/vits",
		"tts_models/en/multi-dataset/tortoise-v2",
		"tts_models/fa/custom/vits-female",
		"tts_models/multilingual/example/xtts-like",
		"tts_models/multilingual/multi-dataset/xtts_v2",
		"vocoder_models/en/example/hifigan",
		"vocoder_models/en/ljspeech/hifigan_v2",
		"voice_conversion_models/multilingual/example/files-on-release",
		"voice_conversion_models/multilingual/multi-dataset/knnvc",
	}
	if got := c.IDs(); !reflect.DeepEqual(got, want) {
		t.Errorf("IDs:\n%q\nwant\n%q", got, want)
	}
	if c.Len() != len(want) || c.Name() != "testdata/models.json" {
		t.Errorf("Len %d Name %q", c.Len(), c.Name())
	}
}

// TestEntryShapes: every URL shape coqui's ModelManager knows.
func TestEntryShapes(t *testing.T) {
	c := fixture(t)
	tests := []struct {
		id     string
		shape  string
		key    string
		urls   int
		files  []string // names in the model folder, ShapeFiles only
		tos    bool
		vocode string
	}{
		{"tts_models/en/ljspeech/vits", ShapeArchive, "github_rls_url", 1, nil, false, ""},
		{"tts_models/en/ljspeech/tacotron2-DDC", ShapeArchive, "github_rls_url", 1, nil, false, "vocoder_models/en/ljspeech/hifigan_v2"},
		{"tts_models/en/example/vits", ShapeArchive, "github_rls_url", 1, nil, false, ""},
		{"tts_models/en/example-hf/zipped", ShapeArchive, "hf_url", 1, nil, false, ""},
		{"tts_models/de/example/both-keys", ShapeArchive, "github_rls_url", 1, nil, false, ""},
		{"tts_models/multilingual/multi-dataset/xtts_v2", ShapeFiles, "hf_url", 5,
			[]string{"model.pth", "config.json", "vocab.json", "hash.md5", "speakers_xtts.pth"}, true, ""},
		{"tts_models/en/example-hf/vits", ShapeFiles, "hf_url", 3, []string{"model.pth", "config.json", "speakers.json"}, false, ""},
		{"tts_models/fa/custom/vits-female", ShapeFiles, "hf_url", 2, []string{"model.pth", "config.json"}, false, ""},
		{"tts_models/en/multi-dataset/tortoise-v2", ShapeFiles, "github_rls_url", 9, []string{"autoregressive.pth",
			"clvp2.pth", "cvvp.pth", "diffusion_decoder.pth", "rlg_auto.pth", "rlg_diffuser.pth", "vocoder.pth", "mel_norms.pth", "config.json"}, false, ""},
		{"voice_conversion_models/multilingual/example/files-on-release", ShapeFiles, "github_rls_url", 3,
			[]string{"autoregressive.pth", "vocoder.pth", "config.json"}, false, ""},
		{"voice_conversion_models/multilingual/multi-dataset/knnvc", ShapeNone, "", 0, nil, false, "vocoder_models/en/librispeech100/wavlm-hifigan_prematched"},
		{"tts_models/en/example/glow-tts", ShapeArchive, "github_rls_url", 1, nil, false, "vocoder_models/en/example/hifigan"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			e, err := c.Resolve(tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != tt.id || e.Shape != tt.shape || e.URLKey != tt.key || len(e.URLs) != tt.urls ||
				e.TOSRequired != tt.tos || e.DefaultVocoder != tt.vocode || e.Synthetic || e.Raw == nil {
				t.Errorf("entry %+v", e)
			}
			var names []string
			for i, f := range e.Files {
				names = append(names, f.Name)
				if f.URL != e.URLs[i] {
					t.Errorf("file %d URL %q != %q", i, f.URL, e.URLs[i])
				}
			}
			if !reflect.DeepEqual(names, tt.files) {
				t.Errorf("files %q, want %q", names, tt.files)
			}
			typ, lang, ds, name, err := ParseID(tt.id)
			if err != nil || e.Type != typ || e.Language != lang || e.Dataset != ds || e.Name != name {
				t.Errorf("parts %s %s %s %s", e.Type, e.Language, e.Dataset, e.Name)
			}
		})
	}
	e, _ := c.Resolve("tts_models/en/ljspeech/vits")
	if e.URLs[0] != "https://github.com/coqui-ai/TTS/releases/download/v0.6.1_models/tts_models--en--ljspeech--vits.zip" ||
		e.License != "apache 2.0" || e.Author != "Eren Gölge @erogol" || e.Commit != "3900448" || e.Contact != "egolge@coqui.com" ||
		!strings.HasPrefix(e.Description, "VITS is an End2End") {
		t.Errorf("vits: %+v", e)
	}
	x, _ := c.Resolve("tts_models/multilingual/multi-dataset/xtts_v2")
	if x.ModelHash != "10f92b55c512af7a8d39d650547a15a7" || x.License != "CPML" || x.Raw["tos_required"] != true ||
		x.Files[0].URL != "https://huggingface.co/coqui/XTTS-v2/resolve/main/model.pth" {
		t.Errorf("xtts_v2: %+v", x)
	}
	// Resolve returns copies
	e.URLs[0] = "changed"
	e.Raw["license"] = "changed"
	if again, _ := c.Resolve("tts_models/en/ljspeech/vits"); again.URLs[0] == "changed" || again.Raw["license"] == "changed" {
		t.Error("Resolve shares the catalog's entry")
	}
}

func TestComments(t *testing.T) {
	c, err := LoadCatalog("testdata/models-comments.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.Resolve("tts_models/en/ljspeech/vits")
	if err != nil {
		t.Fatal(err)
	}
	if e.Description != `a // inside a string, and an escaped " quote // too` || e.Shape != ShapeArchive {
		t.Errorf("%+v", e)
	}
	for in, want := range map[string]string{
		"{} // x":                "{} ",
		"// a\n{}":               "\n{}",
		`{"a": "b//c"} // d`:     `{"a": "b//c"} `,
		`{"a": "\\"} // d`:       `{"a": "\\"} `,
		`{"a": "\"//"} // d`:     `{"a": "\"//"} `,
		"/* kept */ {}":          "/* kept */ {}",
		"{}\n// end":             "{}\n",
		"{\"u\": \"https://x\"}": "{\"u\": \"https://x\"}",
	} {
		if got := string(stripLineComments([]byte(in))); got != want {
			t.Errorf("strip(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCatalogErrors: malformed catalogs, with their exact messages.
func TestCatalogErrors(t *testing.T) {
	wrap := func(models string) string {
		return `{"tts_models": {"en": {"ds": {"m": ` + models + `}}}}`
	}
	tests := []struct{ name, in, want string }{
		{"not JSON", "{", `invalid coqui catalog "c.json": line 1: unexpected end of JSON input`},
		{"syntax line", "{\n\"a\": {\n}}}", `invalid coqui catalog "c.json": line 3: invalid character '}' after top-level value`},
		{"list", "[]", `invalid coqui catalog "c.json": want a JSON object, got a list`},
		{"empty", "", `invalid coqui catalog "c.json": want a JSON object, got nothing`},
		{"bad type key", `{"tts": {}}`, `invalid coqui catalog "c.json": tts: invalid key "tts" for a model type`},
		{"type not object", `{"tts_models": []}`, `invalid coqui catalog "c.json": tts_models: want a JSON object, got a list`},
		{"bad lang key", `{"tts_models": {"../x": {}}}`, `invalid coqui catalog "c.json": tts_models/../x: invalid key "../x" for a language`},
		{"slash key", `{"tts_models": {"en": {"a/b": {}}}}`, `invalid coqui catalog "c.json": tts_models/en/a/b: invalid key "a/b" for a dataset`},
		{"dataset not object", `{"tts_models": {"en": {"ds": 5}}}`, `invalid coqui catalog "c.json": tts_models/en/ds: want a JSON object, got a number`},
		{"bad model key", `{"tts_models": {"en": {"ds": {".hidden": {}}}}}`, `invalid coqui catalog "c.json": tts_models/en/ds/.hidden: model id "tts_models/en/ds/.hidden": invalid name ".hidden": want type/language/dataset/name, like tts_models/en/ljspeech/vits`},
		{"entry null", wrap("null"), `invalid coqui catalog "c.json": tts_models/en/ds/m: want a JSON object, got null`},
		{"description number", wrap(`{"description": 1}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: description: want a string or null, got a number`},
		{"license list", wrap(`{"license": ["a"]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: license: want a string or null, got a list`},
		{"tos string", wrap(`{"tos_required": "yes"}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: tos_required: want true or false, got a string`},
		{"tos null", wrap(`{"tos_required": null}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: tos_required: want true or false, got null`},
		{"vocoder bad", wrap(`{"default_vocoder": "hifigan"}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: default_vocoder: model id "hifigan": 1 parts: want type/language/dataset/name, like tts_models/en/ljspeech/vits`},
		{"url number", wrap(`{"github_rls_url": 1}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: github_rls_url: want a URL or a list of URLs, got a number`},
		{"url relative", wrap(`{"github_rls_url": "m.zip"}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: github_rls_url: "m.zip": want an absolute http or https URL without userinfo`},
		{"url file", wrap(`{"hf_url": ["file:///etc/passwd"]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: "file:///etc/passwd": want an absolute http or https URL without userinfo`},
		{"url userinfo", wrap(`{"hf_url": "https://u:p@x.test/m.zip"}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: "https://u:p@x.test/m.zip": want an absolute http or https URL without userinfo`},
		{"url bad", wrap(`{"hf_url": "https://x .test/"}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: "https://x .test/" is not a URL`},
		{"empty list", wrap(`{"hf_url": []}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: empty list of URLs`},
		{"list of numbers", wrap(`{"hf_url": [1]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: want a list of URLs: json: cannot unmarshal number into Go value of type string`},
		{"dup names", wrap(`{"hf_url": ["https://x.test/a/config.json", "https://x.test/b/config.json"]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: two URLs save to "config.json"`},
		{"folder URL", wrap(`{"hf_url": ["https://x.test/a/"]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: "https://x.test/a/": no usable file name`},
		{"host URL", wrap(`{"hf_url": ["https://x.test"]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: "https://x.test": no usable file name`},
		{"dotdot URL", wrap(`{"hf_url": ["https://x.test/a/%2e%2e"]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: "https://x.test/a/%2e%2e": no usable file name`},
		{"backslash URL", wrap(`{"hf_url": ["https://x.test/a%5c..%5cb"]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: "https://x.test/a%5c..%5cb": no usable file name`},
		{"query URL", wrap(`{"hf_url": ["https://x.test/m.pth?download=1"]}`), `invalid coqui catalog "c.json": tts_models/en/ds/m: hf_url: "https://x.test/m.pth?download=1": a file URL with a query or fragment has no clear file name`},
		{"rename clash", wrap(`{"hf_url": ["https://x.test/best.pth", "https://x.test/model.pth.bak"]}`), ``},
		{"rename onto model.pth", wrap(`{"hf_url": ["https://x.test/best.pt", "https://x.test/model.pth"]}`), ``},
		{"too big", `{"x": "` + strings.Repeat("a", MaxCatalogSize) + `"}`, `invalid coqui catalog "c.json": larger than 16777216 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCatalog("c.json", []byte(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got: %v\nwant: %s", err, tt.want)
			}
			if !errors.Is(err, ErrCatalog) {
				t.Errorf("%v does not wrap ErrCatalog", err)
			}
		})
	}
	if _, err := LoadCatalog("testdata/absent.json"); err == nil || !errors.Is(err, ErrCatalog) ||
		err.Error() != `invalid coqui catalog "testdata/absent.json": open testdata/absent.json: no such file or directory` {
		t.Errorf("absent: %v", err)
	}
	if _, err := LoadCatalog("testdata"); err == nil || err.Error() != `invalid coqui catalog "testdata": not a regular file` {
		t.Errorf("folder: %v", err)
	}
}

func TestFilesRenameRules(t *testing.T) {
	// several *.pt* files: no rename (bark, XTTS)
	c, err := ParseCatalog("c.json", []byte(`{"tts_models": {"multilingual": {"multi-dataset": {"bark": {"hf_url": [
		"https://huggingface.co/erogol/bark/resolve/main/coarse_2.pt",
		"https://huggingface.co/erogol/bark/resolve/main/fine_2.pt",
		"https://huggingface.co/erogol/bark/resolve/main/text_2.pt",
		"https://huggingface.co/erogol/bark/resolve/main/config.json",
		"https://huggingface.co/erogol/bark/resolve/main/tokenizer.pth"]}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := c.Resolve("tts_models/multilingual/multi-dataset/bark")
	if e.Files[0].Name != "coarse_2.pt" || e.Files[4].Name != "tokenizer.pth" {
		t.Errorf("bark: %+v", e.Files)
	}
	// a rename onto an existing model.pth would lose a file
	_, err = ParseCatalog("c.json", []byte(`{"tts_models": {"en": {"d": {"m": {"hf_url": [
		"https://x.test/best.pt", "https://x.test/model.pth"]}}}}}`))
	if err != nil {
		t.Fatalf("two *.pt* files never rename: %v", err)
	}
}
