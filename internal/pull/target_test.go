package pull

import (
	"os"
	"path/filepath"
	"testing"
)

// TestIsFolderTarget: a folder only wins when the store certainly lacks the
// name; deciding opens and creates nothing.
func TestIsFolderTarget(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	os.Mkdir("m", 0o755)
	root := filepath.Join(wd, "store")
	if !isFolderTarget("m", root) {
		t.Error("no store: the folder")
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Fatal("deciding created the store")
	}
	os.MkdirAll(filepath.Join(root, "models", "m"), 0o750)
	if !isFolderTarget("m", root) {
		t.Error("a store without the model: the folder")
	}
	// A current link, even a broken one: the stored model (its check says what is wrong).
	os.Symlink("not-a-version", filepath.Join(root, "models", "m", "current"))
	if isFolderTarget("m", root) {
		t.Error("a stored model of that name: must not be shadowed by the folder")
	}
	for _, p := range []string{"./m", filepath.Join(wd, "m")} {
		if !isFolderTarget(p, root) {
			t.Errorf("%s: written as a path, the folder", p)
		}
	}
	if isFolderTarget("absent", root) {
		t.Error("not a folder")
	}
	if ents, _ := os.ReadDir(root); len(ents) != 1 {
		t.Errorf("the store changed: %v", ents)
	}
}
