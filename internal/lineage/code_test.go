package lineage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadCode: every file's digest, and for a git work tree HEAD's commit
// and tree as git itself prints them (uncommitted changes are in the
// digests, not the commit); CodeDir finds the work tree above a script.
func TestReadCode(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command(git, append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	os.MkdirAll(filepath.Join(dir, "recipes", "ljs"), 0o755)
	os.WriteFile(filepath.Join(dir, "recipes", "ljs", "train.py"), []byte("print('train')\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "README"), []byte("x\n"), 0o644)
	run("init", "-q")
	run("add", ".")
	run("commit", "-q", "-m", "one")
	commit, tree := run("rev-parse", "HEAD"), run("rev-parse", "HEAD^{tree}")
	os.WriteFile(filepath.Join(dir, "README"), []byte("changed, not committed\n"), 0o644)

	got, err := CodeDir(filepath.Join(dir, "recipes", "ljs", "train.py"))
	if err != nil || got != dir {
		t.Fatalf("CodeDir = %q, %v; want %q", got, err, dir)
	}
	c, err := ReadCode(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.GitCommit != commit || c.GitTree != tree {
		t.Errorf("git %s %s, want %s %s", c.GitCommit, c.GitTree, commit, tree)
	}
	readme, _ := fileSHA256(filepath.Join(dir, "README"))
	if len(c.Files) != 2 || c.Files["README"] != readme || c.Files["recipes/ljs/train.py"] == "" {
		t.Errorf("files %v", c.Files)
	}
	// Not a work tree: no commit; the script's folder.
	plain := t.TempDir()
	os.WriteFile(filepath.Join(plain, "train.py"), []byte("x"), 0o644)
	if got, _ := CodeDir(filepath.Join(plain, "train.py")); got != plain {
		t.Errorf("CodeDir plain = %q", got)
	}
	if c, err := ReadCode(context.Background(), plain); err != nil || c.GitCommit != "" || len(c.Files) != 1 {
		t.Errorf("plain: %v %+v", err, c)
	}
}
