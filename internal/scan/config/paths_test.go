package config

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// modelFS is a model folder: speakers.pth, d_vectors.json and
// sub/lang.json are files, voices/ is a folder.
var modelFS = fstest.MapFS{
	"speakers.pth":   {Data: []byte("x")},
	"d_vectors.json": {Data: []byte("{}")},
	"sub/lang.json":  {Data: []byte("{}")},
	"voices/a.wav":   {Data: []byte("RIFF")},
	"link.pth":       {Data: []byte("speakers.pth"), Mode: os.ModeSymlink},
}

// fieldSummary is "field kind resolved training" for each path field.
func fieldSummary(fs []PathField) string {
	var out []string
	for _, f := range fs {
		s := f.Field + " " + string(f.Kind) + " " + strconv.Quote(f.Resolved)
		if f.Training {
			s += " training"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func TestPathFields(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"absolute by base name", `{"speakers_file": "/runs/vits-May-01/speakers.pth"}`, `speakers_file absolute "speakers.pth"`},
		{"absolute, no such file", `{"speakers_file": "/runs/other.pth"}`, `speakers_file absolute ""`},
		{"absolute, base is a folder", `{"speakers_file": "/data/voices"}`, `speakers_file absolute ""`},
		{"absolute, base is a link", `{"speakers_file": "/data/link.pth"}`, `speakers_file absolute ""`},
		{"absolute, ends in a slash", `{"speakers_file": "/data/speakers.pth/"}`, `speakers_file absolute ""`},
		{"windows path", `{"d_vector_file": "C:\\runs\\d_vectors.json"}`, `d_vector_file absolute "d_vectors.json"`},
		{"windows drive-relative", `{"d_vector_file": "C:d_vectors.json"}`, `d_vector_file absolute "d_vectors.json"`},
		{"home path", `{"speakers_file": "~/speakers.pth"}`, `speakers_file absolute "speakers.pth"`},
		{"relative", `{"speakers_file": "./speakers.pth"}`, `speakers_file relative "speakers.pth"`},
		{"relative in a subfolder", `{"language_ids_file": "sub/lang.json"}`, `language_ids_file relative "sub/lang.json"`},
		{"relative base name only counts for absolute paths", `{"language_ids_file": "lang.json"}`, `language_ids_file relative ""`},
		{"escape", `{"speakers_file": "../x/speakers.pth"}`, `speakers_file escape ""`},
		{"url", `{"speakers_file": "https://example.com/speakers.pth"}`, `speakers_file url ""`},
		{"list and model_args", `{"model_args": {"d_vector_file": ["/a/d_vectors.json", "/a/missing.json"]}}`,
			`model_args.d_vector_file[0] absolute "d_vectors.json"; model_args.d_vector_file[1] absolute ""`},
		{"datasets are training-only", `{"datasets": [{"path": "/data/vctk", "meta_file_train": "/data/speakers.pth"}]}`,
			`datasets[0].path absolute "" training; datasets[0].meta_file_train absolute "speakers.pth" training`},
		{"training-only keys", `{"output_path": "/runs", "phoneme_cache_path": "/runs/ph", "data_path": "/wavs/", "test_sentences_file": "t.txt"}`,
			`output_path absolute "" training; phoneme_cache_path absolute "" training; data_path absolute "" training; test_sentences_file relative "" training`},
		{"datasets below the top level are not", `{"model_args": {"datasets": [{"path": "/data"}]}}`, `model_args.datasets[0].path absolute ""`},
		{"a training key inside a path map is not", `{"LOCAL_MODEL_PATHS": {"output_path": "/etc/x"}}`, `LOCAL_MODEL_PATHS.output_path absolute ""`},
		{"not path fields", `{"distributed_url": "tcp://localhost:54321", "text": "/etc/passwd", "stats_path": null}`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := PathFields([]byte(tt.in), modelFS)
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldSummary(fs); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			for _, f := range fs {
				if tok := tt.in[f.Offset:f.End]; tok != strconv.Quote(f.Value) && !strings.Contains(tok, `\`) {
					t.Errorf("%s: span %q is not the token of %q", f.Field, tok, f.Value)
				}
			}
		})
	}
}

func TestPathFieldsSpans(t *testing.T) {
	tests := []struct {
		name, in string
		offset   int64 // of the only field; -1: unknown
		end      int64
	}{
		{"json", `{"speakers_file": "/r/speakers.pth"}`, 18, 35},
		{"byte order mark", "\xef\xbb\xbf" + `{"speakers_file": "/r/speakers.pth"}`, 21, 38},
		{"comments", "{// c\n\"speakers_file\": \"/r/speakers.pth\"}", 23, 40},
		{"yaml", "speakers_file: /r/speakers.pth\n", 15, 0},
		{"coqui fallback only", "{\"speakers_file\": \"/r/speakers.pth\", \"x\": \"a\\\nb\"}", -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := PathFields([]byte(tt.in), modelFS)
			if err != nil || len(fs) != 1 {
				t.Fatalf("%v %v", fs, err)
			}
			if f := fs[0]; f.Offset != tt.offset || f.End != tt.end || f.Resolved != "speakers.pth" {
				t.Fatalf("got %+v, want span [%d, %d)", f, tt.offset, tt.end)
			}
		})
	}
	if _, err := PathFields([]byte("[1]"), nil); err == nil {
		t.Fatal("a list is not a config")
	}
}

func TestModelName(t *testing.T) {
	for in, want := range map[string]string{
		`{"model": "VITS"}`: "vits", `{"generator_model": "hifigan_generator"}`: "hifigan_generator",
		"model: xtts\n": "xtts", `{"model": 3}`: "", `{"model_args": {"model": "x"}}`: "",
	} {
		if got, err := ModelName([]byte(in)); err != nil || got != want {
			t.Errorf("ModelName(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestScanResolvesInFolder grades absolute paths against the files beside
// the config (scan.Context.Dir), the same for scan and pull.
func TestScanResolvesInFolder(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"speakers.pth", "scale_stats.npy"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "voices"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
		dir            string
	}{
		{"resolved by base name", `{"speakers_file": "/home/u/run-1/speakers.pth"}`, "config/absolute-path info speakers_file", dir},
		{"the old rule: inside the folder but missing", `{"speakers_file": "` + dir + `/missing.pth"}`, "config/absolute-path medium speakers_file", dir},
		{"a folder of that name", `{"speakers_file": "/x/voices"}`, "config/absolute-path medium speakers_file", dir},
		{"no folder known", `{"speakers_file": "/home/u/run-1/speakers.pth"}`, "config/absolute-path medium speakers_file", ""},
		{"escape stays high", `{"speakers_file": "../speakers.pth"}`, "config/path-escape high speakers_file", dir},
		{"url stays high", `{"audio": {"stats_path": "https://x/scale_stats.npy"}}`, "config/url high audio.stats_path", dir},
		{"training url is medium", `{"datasets": [{"path": "s3://bucket/vctk"}]}`, "config/url medium datasets[0].path", dir},
		{"training absolute is info", `{"datasets": [{"path": "/data/vctk"}], "data_path": "/wavs"}`,
			"config/absolute-path info datasets[0].path; config/absolute-path info data_path", dir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testContext(t, "")
			c.Dir = tt.dir
			fs, err := scanText(t, c, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(fs); got != tt.want {
				t.Fatalf("findings %q, want %q\n%v", got, tt.want, fs)
			}
		})
	}
}

// TestTrainerRunFolder reads the config coqui's trainer wrote for a
// multi-speaker VITS (testdata/gen_trainer.py) beside the files of its run
// folder: every path either resolves in the folder or is training-only, so
// the scan has nothing above Info; without the files beside it, the
// speaker and d-vector paths are findings.
func TestTrainerRunFolder(t *testing.T) {
	data, err := os.ReadFile("testdata/trainer_vits_config.json")
	if err != nil {
		t.Fatal(err)
	}
	names, err := os.ReadFile("testdata/trainer_vits_files.txt")
	if err != nil {
		t.Fatal(err)
	}
	full := t.TempDir()
	for _, n := range strings.Fields(string(names)) {
		if err := os.WriteFile(filepath.Join(full, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, dir string
		worst     scan.Severity
		fields    string // resolved fields
	}{
		{"run folder", full, scan.Info,
			"model_args.speakers_file=speakers.pth model_args.d_vector_file[0]=d_vectors.json speakers_file=speakers.pth d_vector_file[0]=d_vectors.json"},
		{"empty folder", t.TempDir(), scan.Medium, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testContext(t, "")
			c.Dir = tt.dir
			var fs scan.Findings
			if err := Scan(context.Background(), c, bytes.NewReader(data), int64(len(data)), &fs); err != nil {
				t.Fatal(err)
			}
			worst := scan.Info
			for _, f := range fs {
				worst = max(worst, f.Severity)
			}
			if worst != tt.worst {
				t.Fatalf("worst %v, want %v: %v", worst, tt.worst, fs)
			}
			pf, err := PathFields(data, os.DirFS(tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			var resolved, training []string
			for _, f := range pf {
				if f.Resolved != "" {
					resolved = append(resolved, f.Field+"="+f.Resolved)
				}
				if f.Training {
					training = append(training, f.Field)
				}
				if data[f.Offset] != '"' || data[f.End-1] != '"' {
					t.Errorf("%s: span [%d, %d) is not a string token", f.Field, f.Offset, f.End)
				}
			}
			if got := strings.Join(resolved, " "); got != tt.fields {
				t.Errorf("resolved %s, want %s", got, tt.fields)
			}
			if got := strings.Join(training, " "); got != "output_path phoneme_cache_path datasets[0].path datasets[0].meta_file_train" {
				t.Errorf("training-only %s", got)
			}
		})
	}
}
