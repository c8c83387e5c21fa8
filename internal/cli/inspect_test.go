package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/store"
)

// TestDiffStoredVersions: NAME@VERSION names a stored version by its id or a
// unique prefix of it.
func TestDiffStoredVersions(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(pol, []byte("version: 1\nstore: "+filepath.Join(dir, "store")+"\n"), 0o600))
	m := filepath.Join(dir, "m")
	must(os.Mkdir(m, 0o755))
	ckpt := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "tensors", "testdata", "ckpt", name))
		must(err)
		return b
	}
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		rc := Main(args, &out, &errb)
		return out.String() + errb.String(), rc
	}
	must(os.WriteFile(filepath.Join(m, "model.pth"), ckpt("bf16-old-zip.pth"), 0o644))
	if out, rc := run("pull", "--policy", pol, m); rc != 0 {
		t.Fatal(out)
	}
	must(os.WriteFile(filepath.Join(m, "model.pth"), ckpt("bf16-new-zip.pth"), 0o644))
	if out, rc := run("lock", "update", "--policy", pol, "m"); rc != 0 || !strings.Contains(out, "changed   decoder.conv.bias") {
		t.Fatalf("lock update does not print the diff:\n%s", out)
	}
	st, err := store.Open(filepath.Join(dir, "store"))
	must(err)
	vs, err := st.Versions("m")
	must(err)
	if len(vs) != 2 {
		t.Fatalf("%d versions", len(vs))
	}
	oldID, newID := vs[0].ID, vs[1].ID
	if vs[0].Root == vs[1].Root {
		t.Fatal("same root")
	}
	out, rc := run("diff", "--policy", pol, "m@"+oldID[:6], "m@"+newID)
	if rc != 0 || !strings.Contains(out, "diff m@"+oldID+" -> m@"+newID) || !strings.Contains(out, "decoder.conv.bias") {
		t.Errorf("exit %d:\n%s", rc, out)
	}
	// The current version is the new one: no difference.
	if out, rc := run("diff", "--policy", pol, "m", "m@"+newID); rc != 0 || !strings.Contains(out, "files: the same") {
		t.Errorf("exit %d:\n%s", rc, out)
	}
	if out, rc := run("diff", "--policy", pol, "m@ffffffff", "m"); rc != 2 || !strings.Contains(out, "neither a folder or file nor a stored model") {
		t.Errorf("exit %d:\n%s", rc, out)
	}
	if out, rc := run("inspect", "--policy", pol, "m@"+oldID); rc != 0 || !strings.Contains(out, "inspect OK: m@"+oldID) {
		t.Errorf("exit %d:\n%s", rc, out)
	}
}
