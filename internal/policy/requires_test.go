package policy

import (
	"reflect"
	"strings"
	"testing"
)

const requiresYAML = `version: 1
models:
  tts_models/multilingual/multi-dataset/bark:
    requires:
      - hf://facebook/encodec_24khz
      - source: hf://google-bert/bert-base-multilingual-cased@v1.0
        name: bert-tokenizer
        load_as: bert-base-multilingual-cased
        allow: [vocab.txt, "tokenizer*.json"]
        ignore: ["*.h5"]
  plain: {}
  none:
    requires: []
`

// TestParseRequires: both forms of a requirement, the defaults filled in
// (store name and loaded id: OWNER/REPO), an empty list kept apart from no
// list, and the round trip through String.
func TestParseRequires(t *testing.T) {
	p, err := Parse("p.yaml", []byte(requiresYAML))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Models["tts_models/multilingual/multi-dataset/bark"]
	want := []Requirement{
		{Source: "hf://facebook/encodec_24khz", Name: "facebook/encodec_24khz", LoadAs: "facebook/encodec_24khz"},
		{Source: "hf://google-bert/bert-base-multilingual-cased@v1.0", Name: "bert-tokenizer", LoadAs: "bert-base-multilingual-cased",
			Allow: []string{"vocab.txt", "tokenizer*.json"}, Ignore: []string{"*.h5"}},
	}
	if !got.RequiresSet || !reflect.DeepEqual(got.Requires, want) {
		t.Errorf("requires %+v", got.Requires)
	}
	if got.Requires[1].Repo() != "google-bert/bert-base-multilingual-cased" {
		t.Errorf("repo %q", got.Requires[1].Repo())
	}
	if m := p.Models["plain"]; m.RequiresSet || m.Requires != nil {
		t.Errorf("plain: %+v", m)
	}
	if m := p.Models["none"]; !m.RequiresSet || len(m.Requires) != 0 {
		t.Errorf("none: %+v", m)
	}
	out := p.String()
	for _, w := range []string{"    requires:\n      - source: hf://facebook/encodec_24khz\n        name: facebook/encodec_24khz\n        load_as: facebook/encodec_24khz\n", "  none:\n    signature: optional\n    tos_accepted: false\n    requires: []\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("String lacks %q:\n%s", w, out)
		}
	}
	q, err := Parse("out.yaml", []byte(out))
	if err != nil || !reflect.DeepEqual(p, q) {
		t.Errorf("round trip: %v\n%#v\n%#v", err, p.Models, q.Models)
	}
}

func TestParseRequiresErrors(t *testing.T) {
	const head = "version: 1\nmodels:\n  m:\n    requires:\n"
	for _, tt := range []struct{ name, in, want string }{
		{"not a list", "version: 1\nmodels:\n  m:\n    requires: hf://o/r\n", `line 4: models["m"].requires: want a list of hf:// sources or mappings, got a string`},
		{"https source", head + "      - https://huggingface.co/o/r\n", `line 5: models["m"].requires[0]: invalid Hugging Face reference: "https://huggingface.co/o/r": want hf://OWNER/REPO[@REVISION] (a requirement is a Hugging Face repository`},
		{"no owner", head + "      - hf://bert-base-multilingual-cased\n", `line 5: models["m"].requires[0]: "hf://bert-base-multilingual-cased": invalid Hugging Face reference: repo id "bert-base-multilingual-cased": want OWNER/NAME`},
		{"unknown key", head + "      - {source: hf://o/r, revision: main}\n", `line 5: models["m"].requires[0]: unknown key "revision"`},
		{"no source", head + "      - {name: x}\n", `line 5: models["m"].requires[0]: missing source`},
		{"bad name", head + "      - {source: hf://o/r, name: ../x}\n", `line 5: models["m"].requires[0].name: invalid model name "../x"`},
		{"bad load_as", head + "      - {source: hf://o/r, load_as: a/b/c}\n", `line 5: models["m"].requires[0].load_as: invalid Hugging Face reference: repo id "a/b/c"`},
		{"bad legacy load_as", head + "      - {source: hf://o/r, load_as: \"a--b\"}\n", `models["m"].requires[0].load_as: repo id "a--b": want NAME or OWNER/NAME`},
		{"empty allow", head + "      - {source: hf://o/r, allow: []}\n", `line 5: models["m"].requires[0].allow: an empty list keeps no file`},
		{"allow not a list", head + "      - {source: hf://o/r, allow: x}\n", `models["m"].requires[0].allow: want a list of strings, got a string`},
		{"same name twice", head + "      - hf://o/r\n      - {source: hf://o/s, name: o/r}\n", `line 6: models["m"].requires[1]: store name "o/r" is required twice (first on line 5)`},
		{"same cache twice", head + "      - hf://o/r\n      - {source: hf://o/s, load_as: o/r}\n", `line 6: models["m"].requires[1]: "o/r" is loaded as twice (first on line 5)`},
		{"number", head + "      - 5\n", `line 5: models["m"].requires[0]: want an hf:// source or a mapping, got an integer`},
	} {
		_, err := Parse("p.yaml", []byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.want)
		}
	}
}
