package lineage

import (
	"errors"
	"strings"
	"testing"
)

var testAreas = Areas{
	{Path: "/data/ljs", What: `dataset "ljs"`},
	{Path: "/store/models/base/1234", What: "the base model", Base: true},
	{Path: "/work/config.json", What: "the config"},
	{Path: "/work/out", What: "--out", Write: true},
}

func TestAuditConfig(t *testing.T) {
	for _, c := range []struct {
		name, config string
		want         []string // error substrings; none: accepted
		fields       int
	}{
		{name: "coqui paths inside", config: `{"output_path": "/work/out", "phoneme_cache_path": "/work/out/phonemes",
			"datasets": [{"formatter": "ljspeech", "path": "/data/ljs", "meta_file_train": "metadata.csv", "meta_file_val": ""}],
			"restore_path": "/store/models/base/1234/model.pth", "audio": {"stats_path": null, "sample_rate": 22050},
			"model_args": {"speakers_file": "/store/models/base/1234/speakers.pth", "d_vector_file": ["/data/ljs/d.json"], "use_d_vector_file": true}}`, fields: 7},
		{name: "meta file relative to its dataset", config: `{"datasets": [{"path": "/data/ljs", "meta_file_train": "../secret/metadata.csv"}]}`,
			want: []string{"datasets[0].meta_file_train", `"/data/secret/metadata.csv" is outside`}},
		{name: "speakers file outside", config: `{"model_args": {"speakers_file": "/root/.ssh/id_rsa"}}`,
			want: []string{"model_args.speakers_file", `"/root/.ssh/id_rsa" is outside the declared inputs`}},
		{name: "output into a dataset", config: `{"output_path": "/data/ljs/run"}`,
			want: []string{"output_path", `is in dataset "ljs", which is read-only`}},
		{name: "restore from elsewhere", config: `{"restore_path": "/work/out/checkpoint_100.pth"}`,
			want: []string{"restore_path", "not inside the base model"}},
		{name: "continue from elsewhere", config: `{"continue_path": "/tmp/run"}`, want: []string{"continue_path", "outside"}},
		{name: "relative path", config: `{"audio": {"stats_path": "scale_stats.npy"}}`, want: []string{"audio.stats_path", "relative"}},
		{name: "dot dot escape", config: `{"speakers_file": "/data/ljs/../../etc/passwd"}`, want: []string{"speakers_file", `"/etc/passwd" is outside`}},
		{name: "url", config: `{"logger_uri": "s3://bucket/run"}`, want: []string{"logger_uri", "URL"}},
		{name: "home", config: `{"test_sentences_file": "~/sentences.txt"}`, want: []string{"test_sentences_file", "~"}},
		{name: "list of d-vector files", config: `{"d_vector_file": ["/data/ljs/a.json", "/etc/b.json"]}`, want: []string{"d_vector_file[1]", "/etc/b.json"}},
		{name: "not an object", config: `[1]`, want: []string{"not a JSON object"}},
		{name: "two values", config: `{} {}`, want: []string{"not a JSON object"}},
		{name: "not json", config: `{"a":`, want: []string{"not a JSON object"}},
		{name: "python json", config: `{"max_audio_len": Infinity, "min_x": -Infinity, "v": NaN, "output_path": "/work/out"}`, fields: 1},
		{name: "coqui comments", config: "{\"output_path\": \"/work/out\", // a comment\n \"speakers_file\": \"/etc/x\"}", want: []string{"speakers_file", "/etc/x"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			paths, err := AuditConfig("config.json", []byte(c.config), testAreas)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if len(paths) != c.fields {
					t.Errorf("%d paths, want %d: %+v", len(paths), c.fields, paths)
				}
				return
			}
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestAuditArgs(t *testing.T) {
	ok := []string{"train.py", "--config_path", "/work/config.json", "--restore_path=/store/models/base/1234/model.pth", "--coqpit.output_path", "/work/out/x", "--epochs", "3"}
	if paths, err := AuditArgs(ok, "/work/config.json", testAreas); err != nil || len(paths) != 2 {
		t.Fatalf("%v %+v", err, paths)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config_path", "/work/other.json"}, "not the declared config"},
		{[]string{"--config_path=config.json"}, "not the declared config"},
		{[]string{"--restore_path", "/tmp/x.pth"}, "--restore_path"},
		{[]string{"--continue_path=/work/out"}, "not inside the base model"},
		{[]string{"--coqpit.datasets.0.path", "/etc"}, "--coqpit.datasets.0.path"},
		{[]string{"--coqpit.output_path=/data/ljs"}, "read-only"},
		{[]string{"--restore_path"}, "no value"},
	} {
		if _, err := AuditArgs(c.args, "/work/config.json", testAreas); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestScript(t *testing.T) {
	for _, c := range []struct {
		cmd    []string
		python bool
		want   string
	}{
		{[]string{"/usr/bin/python3", "/src/train.py", "--x"}, true, "/src/train.py"},
		{[]string{"python3", "-u", "-W", "ignore", "-X", "dev", "/src/train.py"}, true, "/src/train.py"},
		{[]string{"python3", "-m", "TTS.bin.train_tts"}, true, ""},
		{[]string{"python3", "-c", "print(1)"}, true, ""},
		{[]string{"python3", "-u"}, true, ""},
		{[]string{"/src/recipe.sh", "a"}, false, "/src/recipe.sh"},
	} {
		if got := Script(c.cmd, c.python); got != c.want {
			t.Errorf("Script(%q) = %q, want %q", c.cmd, got, c.want)
		}
	}
}

// FuzzAuditConfig: any bytes are refused or accepted without panicking,
// the same way twice, and every path accepted lies in an area.
func FuzzAuditConfig(f *testing.F) {
	f.Add([]byte(`{"output_path": "/work/out", "datasets": [{"path": "/data/ljs", "meta_file_train": "m.csv"}]}`))
	f.Add([]byte(`{"a": {"b_file": ["/x", 1, null, {"c_path": "y"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p1, e1 := AuditConfig("c", data, testAreas)
		p2, e2 := AuditConfig("c", data, testAreas)
		if (e1 == nil) != (e2 == nil) || len(p1) != len(p2) {
			t.Fatalf("not deterministic: %v %v", e1, e2)
		}
		if e1 != nil {
			return
		}
		for _, p := range p1 {
			if _, ok := testAreas.find(p.Path); !ok {
				t.Fatalf("accepted %q outside every area", p.Path)
			}
		}
	})
}
