package weightdiff

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/tensors"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDiffFolders(t *testing.T) {
	old, nw := t.TempDir(), t.TempDir()
	copyFile(t, filepath.Join(fixtures, "fp32-old-zip.pth"), filepath.Join(old, "model.pth"))
	copyFile(t, filepath.Join(fixtures, "fp32-new-zip.pth"), filepath.Join(nw, "model.pth"))
	write(t, filepath.Join(old, "config.json"), `{"model": "vits", "audio": {"sample_rate": 22050}, "gone": [1, 2]}`)
	write(t, filepath.Join(nw, "config.json"), `{"model": "vits", "audio": {"sample_rate": 24000}, "new": true}`)
	write(t, filepath.Join(old, "notes.txt"), "old")
	write(t, filepath.Join(nw, "extra.txt"), "new")
	write(t, filepath.Join(old, "same.txt"), "same")
	write(t, filepath.Join(nw, "same.txt"), "same")
	r, err := Diff(context.Background(), old, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range r.Files {
		files[f.Path] = f.Change
	}
	want := map[string]string{"model.pth": Changed, "config.json": Changed, "notes.txt": Removed, "extra.txt": Added}
	if len(files) != len(want) {
		t.Errorf("files %v, want %v", files, want)
	}
	for p, c := range want {
		if files[p] != c {
			t.Errorf("%s: %q, want %q", p, files[p], c)
		}
	}
	keys := map[string]string{}
	for _, c := range r.Config {
		keys[c.Key] = c.Change + " " + c.Old + " " + c.New
	}
	wantKeys := map[string]string{"audio.sample_rate": "changed 22050 24000", "gone.0": "removed 1 ", "gone.1": "removed 2 ", "new": "added  true"}
	if len(keys) != len(wantKeys) {
		t.Errorf("config %v, want %v", keys, wantKeys)
	}
	for k, w := range wantKeys {
		if keys[k] != w {
			t.Errorf("config %s: %q, want %q", k, keys[k], w)
		}
	}
	if len(r.Checkpoints) != 1 || r.Checkpoints[0].Old != "model.pth" || len(r.Checkpoints[0].Tensors) == 0 {
		t.Errorf("checkpoints %+v", r.Checkpoints)
	}
}

func TestDiffRenamedAndUnpaired(t *testing.T) {
	old, nw := t.TempDir(), t.TempDir()
	copyFile(t, filepath.Join(fixtures, "bf16-old-zip.pth"), filepath.Join(old, "model_file.pth"))
	copyFile(t, filepath.Join(fixtures, "bf16-new-legacy.pth"), filepath.Join(nw, "best_model.pth"))
	r, err := Diff(context.Background(), old, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Checkpoints) != 1 || r.Checkpoints[0].Old != "model_file.pth" || r.Checkpoints[0].New != "best_model.pth" || r.Checkpoints[0].Error != "" {
		t.Fatalf("renamed checkpoint not compared: %+v", r.Checkpoints)
	}
	// A second new checkpoint: nothing can be paired, and any rule refuses.
	copyFile(t, filepath.Join(fixtures, "bf16-new-zip.pth"), filepath.Join(nw, "other.pth"))
	r, err = Diff(context.Background(), old, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Checkpoints) != 0 || len(r.Unpaired) != 3 {
		t.Fatalf("checkpoints %+v, unpaired %+v", r.Checkpoints, r.Unpaired)
	}
	if v := r.Check(Rules{Frozen: []string{"text_encoder.*"}}); len(v) != 3 || v[0].Rule != "unpaired" {
		t.Errorf("%v", v)
	}
	// A checkpoint that does not read is reported, and refused under rules.
	write(t, filepath.Join(nw, "other.pth"), "PK\x03\x04 truncated")
	copyFile(t, filepath.Join(fixtures, "bf16-old-zip.pth"), filepath.Join(old, "other.pth"))
	r, err = Diff(context.Background(), old, nw, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var bad *Checkpoint
	for i := range r.Checkpoints {
		if r.Checkpoints[i].New == "other.pth" {
			bad = &r.Checkpoints[i]
		}
	}
	if bad == nil || bad.Error == "" {
		t.Fatalf("unreadable checkpoint not reported: %+v", r.Checkpoints)
	}
	found := false
	for _, v := range r.Check(Rules{Frozen: []string{"nothing"}}) {
		found = found || v.Rule == "unreadable" && v.File == "other.pth"
	}
	if !found {
		t.Errorf("unreadable checkpoint passed the rules")
	}
}

// TestDiffFileShrinks: a checkpoint truncated while it is compared (mapped
// into memory) is an error, not a crash.
func TestDiffFileShrinks(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "new.pth")
	copyFile(t, filepath.Join(fixtures, "fp32-new-zip.pth"), big)
	oc, err := tensors.Open(context.Background(), filepath.Join(fixtures, "fp32-old-zip.pth"), scan.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	nc, err := tensors.Open(context.Background(), big, scan.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := os.Truncate(big, 0); err != nil {
		t.Fatal(err)
	}
	var ck Checkpoint
	err = ck.diff(context.Background(), oc, nc, Options{Workers: 1, Depth: 2})
	if err == nil || !strings.Contains(err.Error(), "changed while it was read") && !strings.Contains(err.Error(), "unexpected EOF") {
		t.Fatalf("%v", err)
	}
}
