package pull

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/sandbox"
)

// trainerFolder writes the run folder coqui's trainer left for a
// multi-speaker VITS (internal/scan/config/testdata/gen_trainer.py): its
// real config.json, and its other files, empty.
func trainerFolder(t *testing.T) (string, []string) {
	t.Helper()
	cfg, err := os.ReadFile("../scan/config/testdata/trainer_vits_config.json")
	must(t, err)
	list, err := os.ReadFile("../scan/config/testdata/trainer_vits_files.txt")
	must(t, err)
	dir := filepath.Join(t.TempDir(), "run")
	must(t, os.Mkdir(dir, 0o755))
	names := strings.Fields(string(list))
	for _, n := range names {
		data := []byte(nil)
		if n == "config.json" {
			data = cfg
		}
		must(t, os.WriteFile(filepath.Join(dir, n), data, 0o644))
	}
	return dir, names
}

// writeFolder writes files (name: content) under a new folder.
func writeFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for n, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(n))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o644))
	}
	return dir
}

func TestUnreadFiles(t *testing.T) {
	trainer, trainerNames := trainerFolder(t)
	tests := []struct {
		name   string
		dir    string
		family string
		unread string
	}{
		{"trainer run folder", trainer, "vits", "best_model_2.pth checkpoint_1.pth EVENTS gen_trainer.py trainer_0_log.txt"},
		{"released vits", writeFolder(t, map[string]string{"config.json": `{"model": "vits"}`, "model_file.pth": "", "speaker_ids.json": "{}"}), "vits", ""},
		{"numbered checkpoints only", writeFolder(t, map[string]string{"config.json": `{"model": "glow_tts"}`,
			"checkpoint_20.pth": "", "checkpoint_100.pth": "", "README.md": ""}), "glow_tts", "README.md checkpoint_20.pth"},
		{"path fields keep their files", writeFolder(t, map[string]string{
			"config.json": `{"model": "vits", "model_args": {"language_ids_file": "/x/langs.json"}, "d_vector_file": ["sub/dv.pth"], "datasets": [{"meta_file_train": "metadata.csv"}]}`,
			"model.pth":   "", "langs.json": "", "sub/dv.pth": "", "sub/other.pth": "", "metadata.csv": "", "scale_stats.npy": "",
		}), "vits", "metadata.csv sub/other.pth"},
		{"xtts loads its folder", writeFolder(t, map[string]string{"config.json": `{"model": "xtts"}`, "model.pth": "", "vocab.json": "",
			"speakers_xtts.pth": "", "checkpoint_5.pth": "", "events.out.tfevents.1.host": "", "train_gpt_xtts.py": ""}), "xtts",
			"checkpoint_5.pth events.out.tfevents.1.host"},
		{"no config", writeFolder(t, map[string]string{"model.pth": "", "notes.txt": "", "trainer_0_log.txt": ""}), "", "trainer_0_log.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, err := stagedFiles(tt.dir)
			must(t, err)
			if tt.dir == trainer && !slices.Equal(names, trainerNames) {
				t.Fatalf("staged %v, want %v", names, trainerNames)
			}
			want := tt.unread
			if i := slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(n, "events.out.tfevents.") }); i >= 0 {
				want = strings.Replace(want, "EVENTS", names[i], 1)
			}
			family, unread := unreadFiles(tt.dir, names)
			if family != tt.family || strings.Join(unread, " ") != want {
				t.Fatalf("family %q, unread %q; want %q, %q", family, strings.Join(unread, " "), tt.family, want)
			}
		})
	}
}

// TestCheckpointRule holds chooseCheckpoint to the rule tts-server's
// arguments are built with (sandbox.TTSServerArgs).
func TestCheckpointRule(t *testing.T) {
	tests := [][]string{
		{"model.pth", "best_model.pth", "checkpoint_9.pth"},
		{"best_model.pth", "best_model_7.pth", "checkpoint_9.pth"},
		{"checkpoint.pth", "model_file.pth.tar"},
		{"checkpoint_9.pth", "checkpoint_10.pth", "checkpoint_1.pth"},
		{"checkpoint_01.pth", "checkpoint_1.pth"},
		{"best_model_7.pth", "checkpoint_x.pth", "checkpoint_3.pth"},
	}
	for _, files := range tests {
		t.Run(strings.Join(files, ","), func(t *testing.T) {
			m := map[string]string{"config.json": `{"model": "vits"}`}
			for _, f := range files {
				m[f] = ""
			}
			dir := writeFolder(t, m)
			ts, err := sandbox.TTSServerArgs(dir, "", sandbox.DefaultTTSPort)
			must(t, err)
			i := slices.Index(ts.Args, "--model_path")
			names, err := stagedFiles(dir)
			must(t, err)
			if got, want := chooseCheckpoint(names), filepath.Base(ts.Args[i+1]); got != want {
				t.Fatalf("chooseCheckpoint = %q, tts-server gets %q", got, want)
			}
		})
	}
}

func TestFilesGate(t *testing.T) {
	tests := []struct {
		name    string
		exclude []string
		kept    string // the staged files after the gate
		fails   bool
		detail  string
	}{
		{"nothing excluded", nil, "config.json logs/a/run.txt model.pth model.sig tos_agreed.txt train.py", false,
			"warning: 2 files that coqui's vits loader never reads: logs/a/run.txt, train.py"},
		{"a file and a folder", []string{"*.py", "logs"}, "config.json model.pth model.sig tos_agreed.txt", false,
			`2 left out by models["m"].files.exclude (logs/a/run.txt, train.py)`},
		{"a folder's files", []string{"logs/*/*"}, "config.json model.pth model.sig tos_agreed.txt train.py", false, "1 left out"},
		{"the signature and the terms are kept", []string{"*"}, "model.sig tos_agreed.txt", false, "1 files kept, 4 left out"},
		{"nothing left: nothing removed", []string{"*"}, "config.json logs/a/run.txt model.pth model.sig train.py", true, "leaves none of the 4 files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"config.json": `{"model": "vits"}`, "model.pth": "", "train.py": "",
				"logs/a/run.txt": "", "model.sig": "{}", TOSFile: "x"}
			if tt.fails {
				delete(files, TOSFile)
			}
			dir := writeFolder(t, files)
			g, err := filesGate(dir, "m", policy.Model{Files: policy.ModelFiles{Exclude: tt.exclude}})
			if (err != nil) != tt.fails || g.OK == tt.fails || !strings.Contains(g.Detail, tt.detail) {
				t.Fatalf("err %v, gate %+v", err, g)
			}
			var kept []string
			must(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				rel, _ := filepath.Rel(dir, p)
				if err == nil && !d.IsDir() {
					kept = append(kept, filepath.ToSlash(rel))
				}
				if d.IsDir() && rel == "logs" && !strings.Contains(tt.kept, "logs/") {
					t.Errorf("the emptied folder logs/ is left")
				}
				return err
			}))
			if got := strings.Join(kept, " "); got != tt.kept {
				t.Fatalf("kept %s, want %s", got, tt.kept)
			}
		})
	}
}
