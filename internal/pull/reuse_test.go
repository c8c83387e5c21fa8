package pull

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// localModel writes the example model into a fresh folder and returns it.
func localModel(t *testing.T, extra map[string][]byte) string {
	t.Helper()
	m := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(m, 0o755))
	for n, b := range exampleFiles {
		must(t, os.WriteFile(filepath.Join(m, n), b, 0o644))
	}
	for n, b := range extra {
		must(t, os.WriteFile(filepath.Join(m, n), b, 0o644))
	}
	return m
}

// corruptStored damages, in place, the stored file rel of the model in dir:
// the blob it is a hard link to, and so every model sharing it. Same size
// when grow is 0, else grow bytes longer.
func corruptStored(t *testing.T, dir, rel string, grow int) {
	t.Helper()
	p := filepath.Join(dir, rel)
	st, err := os.Stat(p)
	must(t, err)
	must(t, os.Chmod(p, 0o644))
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("CORRUPTED"), st.Size()/2)
	must(t, err)
	if grow > 0 {
		_, err = f.WriteAt([]byte(strings.Repeat("x", grow)), st.Size())
		must(t, err)
	}
	must(t, f.Close())
	must(t, os.Chmod(p, 0o444))
}

func checkStoredOK(t *testing.T, e *env, name string) {
	t.Helper()
	c, err := CheckStored(context.Background(), e.pol, name)
	if err != nil || !c.OK {
		t.Errorf("check %s after the pull: %v %+v", name, err, c)
	}
}

// TestPullRepairsCorruptedBlob (issue 9, item 17): after a stored blob is
// corrupted, pulling the clean source again must not reuse the corrupted
// blob: the new model, and every stored model sharing the blob, check clean.
func TestPullRepairsCorruptedBlob(t *testing.T) {
	for _, c := range []struct {
		name string
		grow int    // 0: same size
		as   string // the name pulled after the corruption
	}{
		{"another model, same size", 0, "b"},
		{"same model again", 0, "a"},
		{"another model, size changed", 7, "b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "")
			src := localModel(t, nil)
			r, err := e.pull(t, Options{Name: "a"}, src)
			if err != nil {
				t.Fatal(err)
			}
			corruptStored(t, r.Dir, "model_file.pth", c.grow)
			if cr, err := CheckStored(context.Background(), e.pol, "a"); err == nil || cr.OK {
				t.Fatalf("the corruption went unnoticed: %+v", cr)
			}
			r2, err := e.pull(t, Options{Name: c.as}, src)
			if err != nil {
				t.Fatalf("pull of the clean source: %v", err)
			}
			b, err := os.ReadFile(filepath.Join(r2.Dir, "model_file.pth"))
			if err != nil || string(b) != string(exampleFiles["model_file.pth"]) {
				t.Errorf("%s holds the corrupted blob after a pull of clean bytes", c.as)
			}
			checkStoredOK(t, e, c.as)
			checkStoredOK(t, e, "a")
		})
	}
}

// TestCheckNamesEveryModelSharingABadBlob (issue 9, item 17): the check of
// one stored model (what audit runs for each) names every stored model and
// version that shares a corrupted blob, not just the one being checked.
func TestCheckNamesEveryModelSharingABadBlob(t *testing.T) {
	e := newEnv(t, "")
	src := localModel(t, nil)
	ra1, err := e.pull(t, Options{Name: "a"}, src)
	must(t, err)
	rb, err := e.pull(t, Options{Name: "b"}, src)
	must(t, err)
	// A second version of a (not current) shares the checkpoint too.
	ra2, err := e.pull(t, Options{Name: "a", Update: true}, localModel(t, map[string][]byte{"extra.txt": []byte("v2")}))
	must(t, err)
	corruptStored(t, rb.Dir, "model_file.pth", 0)
	cr, err := CheckStored(context.Background(), e.pol, "b")
	if err == nil || cr.OK {
		t.Fatalf("the corruption went unnoticed: %+v", cr)
	}
	detail := cr.Gates[0].Detail
	for _, want := range []string{
		"model_file.pth",
		"a (version " + filepath.Base(ra1.Dir),
		"a (version " + filepath.Base(ra2.Dir),
		"b (version " + filepath.Base(rb.Dir),
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("integrity detail does not name %q:\n%s", want, detail)
		}
	}
}
