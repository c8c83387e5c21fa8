package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// vitsConfig is the shape of a released coqui VITS config.json (trimmed),
// with relative paths as a model folder ships them.
const vitsConfig = `{
    "output_path": "output",
    "model": "vits",
    "run_name": "vits_ljspeech",
    "datasets": [
        {"formatter": "ljspeech", "dataset_name": "", "path": "LJSpeech-1.1/", "meta_file_train": "metadata.csv",
         "ignored_speakers": null, "language": "", "meta_file_val": "", "meta_file_attn_mask": ""}
    ],
    "audio": {"sample_rate": 22050, "stats_path": null, "mel_fmax": null, "do_amp_to_db_linear": true},
    "characters": {
        "characters_class": "TTS.tts.models.vits.VitsCharacters",
        "pad": "<PAD>", "eos": "<EOS>", "bos": "<BOS>", "blank": "<BLNK>",
        "characters": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "punctuations": "!'(),-.:;? ", "phonemes": null
    },
    "phoneme_cache_path": "phoneme_cache",
    "use_speaker_embedding": false,
    "speakers_file": "speakers.pth",
    "d_vector_file": ["d_vectors_a.pth", "sub/d_vectors_b.pth"],
    "model_args": {"speaker_encoder_model_path": "", "speaker_encoder_config_path": "", "num_chars": 165},
    "lr_gen": 0.0002, "max_seq_len": NaN, "test_sentences": ["It took me quite a long time to develop a voice."]
}`

const yamlConfig = `
model: glow_tts
audio:
  sample_rate: 22050
  stats_path: scale_stats.npy
characters:
  characters_class: TTS.tts.utils.text.characters.Graphemes
datasets:
  - path: data/
    meta_file_train: metadata.csv
`

func testContext(t testing.TB, profile string) *scan.Context {
	pol, err := scan.NewPolicy(profile, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &scan.Context{Policy: pol, Limits: scan.DefaultLimits}
}

func scanText(t testing.TB, c *scan.Context, s string) (scan.Findings, error) {
	var fs scan.Findings
	err := Scan(context.Background(), c, strings.NewReader(s), int64(len(s)), &fs)
	return fs, err
}

// summary is "rule severity field" for each finding.
func summary(fs scan.Findings) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s", f.Rule, f.Severity, f.Field))
	}
	return strings.Join(out, "; ")
}

func TestScan(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		profile    string
		want       string // summary of the findings
		unscanable bool
	}{
		{name: "vits config", in: vitsConfig},
		{name: "yaml config", in: yamlConfig},
		{name: "absolute stats_path", in: `{"audio": {"stats_path": "/tmp/scale_stats.npy"}}`,
			want: "config/absolute-path medium audio.stats_path"},
		{name: "home path", in: `{"speakers_file": "~/speakers.pth"}`, want: "config/absolute-path medium speakers_file"},
		{name: "windows path", in: `{"speakers_file": "C:\\models\\speakers.pth"}`, want: "config/absolute-path medium speakers_file"},
		{name: "escape", in: `{"d_vector_file": ["ok.pth", "data/../../../etc"]}`,
			want: "config/path-escape high d_vector_file[1]"},
		{name: "training-only escape", in: `{"datasets": [{"path": "ok/"}, {"path": "data/../../../etc"}]}`,
			want: "config/path-escape medium datasets[1].path"},
		{name: "backslash escape", in: `{"tokenizer_file": "..\\..\\vocab.json"}`, want: "config/path-escape high tokenizer_file"},
		{name: "url", in: `{"model_args": {"gpt_checkpoint": "https://example.com/gpt.pth"}}`,
			want: "config/url high model_args.gpt_checkpoint"},
		{name: "fsspec chain", in: `{"mel_norm_file": "simplecache::s3://bucket/mel.pth"}`, want: "config/url high mel_norm_file"},
		{name: "d_vector_file list", in: `{"d_vector_file": ["a.pth", "/abs/b.pth"]}`, want: "config/absolute-path medium d_vector_file[1]"},
		{name: "map of paths", in: `{"model_paths": {"text": "/root/.cache/text.pt", "coarse": "coarse.pt"}}`,
			want: "config/absolute-path medium model_paths.text"},
		{name: "bark paths coqui replaces", in: `{"LOCAL_MODEL_PATHS": {"text": "/root/.cache/text.pt", "coarse": "coarse.pt"}}`,
			want: "config/absolute-path info LOCAL_MODEL_PATHS.text; config/absolute-path info LOCAL_MODEL_PATHS.coarse"},
		{name: "suffix rule", in: `{"custom_thing_file": "http://x/y"}`, want: "config/url high custom_thing_file"},
		{name: "output_path absolute is info", in: `{"output_path": "/home/erogol/Models/"}`, want: "config/absolute-path info output_path"},
		{name: "output_path escape", in: `{"output_path": "../.."}`, want: "config/path-escape medium output_path"},
		{name: "non-path key ignored", in: `{"github_branch": "https://github.com/x", "text": "/etc/passwd"}`},
		{name: "null and bool paths ignored", in: `{"stats_path": null, "speakers_file": false, "d_vector_file": 3}`},
		{name: "characters_class not listed", in: `{"characters": {"characters_class": "mypkg.Chars"}}`,
			want: "config/import-string medium characters.characters_class"},
		{name: "characters_class os.system", in: `{"characters": {"characters_class": "os.system"}}`,
			want: "config/import-string critical characters.characters_class"},
		{name: "characters_class dunder", in: `{"characters": {"characters_class": "TTS.tts.models.vits.__builtins__"}}`,
			want: "config/import-string critical characters.characters_class"},
		{name: "weights-only profile lists no class", in: `{"characters": {"characters_class": "TTS.tts.models.vits.VitsCharacters"}}`,
			profile: scan.ProfileWeightsOnly, want: "config/import-string medium characters.characters_class"},
		{name: "module name", in: `{"model": "vits.os"}`, want: "config/module-name medium model"},
		{name: "duplicate keys both audited", in: `{"stats_path": "/a.npy", "stats_path": "b.npy", "speakers_file": "../x"}`,
			want: "config/absolute-path medium stats_path; config/path-escape high speakers_file"},
		{name: "quoted key", in: `{"a.b": {"stats_path": "/x"}}`, want: `config/absolute-path medium ["a.b"].stats_path`},
		{name: "line comments", in: "{\n // a comment\n \"stats_path\": \"http://x/y\" // trailing\n}",
			want: "config/url high stats_path"},
		{name: "block comment", in: "{ /* \"stats_path\": \"/hidden\" */ \"speakers_file\": \"/s.pth\" }",
			want: "config/absolute-path medium speakers_file"},
		{name: "coqui fallback sees through strings", in: "{\"note\": \"a // b\", \"x\": 1 // c\n, \"stats_path\": \"/p.npy\"}",
			want: "config/absolute-path medium stats_path"},
		{name: "yaml absolute", in: "audio:\n  stats_path: /etc/x.npy\n", want: "config/absolute-path medium audio.stats_path"},
		{name: "yaml alias", in: "base: &p /etc/x.npy\naudio:\n  stats_path: *p\n", want: "config/absolute-path medium audio.stats_path"},
		{name: "yaml merge", in: "defaults: &d\n  speakers_file: http://x/s.pth\nmodel_args:\n  <<: *d\n",
			want: "config/url high defaults.speakers_file; config/url high model_args.speakers_file"},
		{name: "yaml binary", in: "stats_path: !!binary L2V0Yy9wYXNzd2Q=\n", want: "config/absolute-path medium stats_path"},
		{name: "yaml python tag", in: "x: !!python/object/apply:os.system [\"id\"]\n", want: "config/yaml-tag high x"},
		{name: "yaml custom tag", in: "x: !thing 1\n", want: "config/yaml-tag medium x"},
		{name: "yaml null tilde", in: "stats_path: ~\n"},
		{name: "yaml two documents", in: "a: 1\n---\nb: 2\n", unscanable: true},
		{name: "yaml scalar", in: "just text\n", unscanable: true},
		{name: "json array", in: `["stats_path", "/x"]`, unscanable: true},
		{name: "empty", in: "", unscanable: true},
		{name: "not utf-8", in: "{\"a\": \"\xff\"}", unscanable: true},
		{name: "broken json", in: `{"stats_path": "/x"`, unscanable: true},
		{name: "deep", in: strings.Repeat("[", 2000) + strings.Repeat("]", 2000), unscanable: true},
		{name: "alias bomb", in: aliasBomb(), unscanable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			profile := tt.profile
			if profile == "" {
				profile = scan.ProfileCoqui
			}
			fs, err := scanText(t, testContext(t, profile), tt.in)
			if tt.unscanable != (err != nil) {
				t.Fatalf("err = %v, want unscannable %v (%v)", err, tt.unscanable, fs)
			}
			if err != nil && !errors.Is(err, scan.ErrUnscannable) {
				t.Fatalf("error %v does not wrap ErrUnscannable", err)
			}
			if got := summary(fs); got != tt.want {
				t.Fatalf("findings %q, want %q\n%v", got, tt.want, fs)
			}
		})
	}
}

// aliasBomb is a billion-laughs YAML document.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	return b.String()
}

func TestOffsets(t *testing.T) {
	in := "{\"audio\": {\"stats_path\": \"/x.npy\"}}"
	fs, err := scanText(t, testContext(t, ""), in)
	if err != nil || len(fs) != 1 || fs[0].Offset != int64(strings.Index(in, `"/x.npy"`)) {
		t.Fatalf("%v %v", fs, err)
	}
	in = "model: vits\naudio:\n  stats_path: \"/x.npy\"\n"
	fs, err = scanText(t, testContext(t, ""), in)
	if err != nil || len(fs) != 1 || fs[0].Offset != int64(strings.Index(in, `"/x.npy"`)) {
		t.Fatalf("%v %v", fs, err)
	}
	// The YAML parser counts a lone CR, CR LF and NEL as line breaks too
	// (found by FuzzScan: an offset of -1).
	for _, nl := range []string{"\r", "\r\n", "\u0085", "\u2028"} {
		in = "model: vits" + nl + "audio:" + nl + "  stats_path: \"/x.npy\"" + nl
		fs, err = scanText(t, testContext(t, ""), in)
		if err != nil || len(fs) != 1 || fs[0].Offset != int64(strings.Index(in, `"/x.npy"`)) {
			t.Fatalf("line break %q: %v %v", nl, fs, err)
		}
	}
}

func TestLimit(t *testing.T) {
	c := testContext(t, "")
	c.Limits.MaxConfigSize = 10
	if _, err := scanText(t, c, vitsConfig); !errors.Is(err, scan.ErrUnscannable) {
		t.Fatalf("err = %v", err)
	}
}

func TestIsConfig(t *testing.T) {
	for in, want := range map[string]bool{
		vitsConfig: true, yamlConfig: true, "{// c\n}": true, "a: 1": true,
		"hello": false, "[1, 2]": false, "": false, "\x80\x02}q\x00.": false, "cos\nsystem\n(S'ls'\ntR.": false,
	} {
		if got := IsConfig([]byte(in)); got != want {
			t.Errorf("IsConfig(%.20q) = %v, want %v", in, got, want)
		}
	}
}

// TestBarkDefaultConfig: coqui's own BarkConfig, as coqui writes it (JSON and
// YAML, from the differential corpus, written by coqui-tts 0.28 and loaded by
// its load_config), holds remote URLs and home-folder paths that coqui
// replaces or never reads: nothing above Info. A value coqui does use there
// (a non-default download URL) and a path field coqui opens stay flagged.
func TestBarkDefaultConfig(t *testing.T) {
	c := testContext(t, scan.ProfileCoqui)
	for _, f := range []string{"json-BarkConfig/config.json", "yaml-BarkConfig/config.yaml"} {
		b, err := os.ReadFile("../testdata/differential/benign-config-" + f)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := scanText(t, c, string(b))
		if err != nil {
			t.Fatal(err)
		}
		infos := 0
		for _, x := range fs {
			if x.Severity != scan.Info {
				t.Errorf("%s: %s", f, x)
			} else {
				infos++
			}
		}
		if infos < 10 {
			t.Errorf("%s: %d info findings, want the 12 bark paths named", f, infos)
		}
		for _, tc := range []struct {
			from, to string
			rule     string
			sev      scan.Severity
		}{
			{"https://huggingface.co/erogol/bark/tree/main/text_2.pt", "https://evil.example/text_2.pt", RuleURL, scan.High},
			{"https://huggingface.co/erogol/bark/tree/main/fine_2.pt", "simplecache::https://evil.example/f.pt", RuleURL, scan.High},
			{"https://huggingface.co/erogol/bark/tree/main/coarse_2.pt", "/etc/hostname", RuleAbsolutePath, scan.Medium},
		} {
			s := strings.Replace(string(b), tc.from, tc.to, 1)
			if s == string(b) {
				t.Fatalf("%s: %q not in the config", f, tc.from)
			}
			fs, err := scanText(t, c, s)
			if err != nil {
				t.Fatal(err)
			}
			if g := worst(fs, tc.rule); g != tc.sev {
				t.Errorf("%s with %q: worst %s is %s, want %s", f, tc.to, tc.rule, g, tc.sev)
			}
		}
	}
	// A path field coqui opens, in a Bark config, stays flagged; the same key
	// in another case is no BarkConfig field and is graded as any path.
	for _, tc := range []struct {
		cfg  string
		rule string
		sev  scan.Severity
	}{
		{`{"model": "bark", "speakers_file": "/etc/hostname", "LOCAL_MODEL_PATHS": {"text": "/etc/passwd"}}`, RuleAbsolutePath, scan.Medium},
		{`{"model": "bark", "local_model_paths": {"text": "/etc/passwd"}}`, RuleAbsolutePath, scan.Medium},
		{`{"model": "bark", "LOCAL_MODEL_PATHS": {"text": "/etc/passwd"}, "CACHE_DIR": "file:///etc"}`, RuleAbsolutePath, scan.Info},
	} {
		fs, err := scanText(t, c, tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if g := worstAny(fs); g != tc.sev {
			t.Errorf("%s: worst finding %s, want %s (%v)", tc.cfg, g, tc.sev, fs)
		}
	}
}

func worst(fs scan.Findings, rule string) scan.Severity {
	var w scan.Severity
	for _, x := range fs {
		if x.Rule == rule && x.Severity > w {
			w = x.Severity
		}
	}
	return w
}

func worstAny(fs scan.Findings) scan.Severity {
	var w scan.Severity
	for _, x := range fs {
		if x.Severity > w {
			w = x.Severity
		}
	}
	return w
}
