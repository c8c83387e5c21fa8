package pull

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestPullCreatesStoreForRunGroup: as root, the store a first pull creates
// takes the policy's run.group (issue 9, item 13), with a umask that would
// otherwise leave the model folder unreadable to it.
func TestPullCreatesStoreForRunGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: only a store created by root gets the serving group (CI runs as root)")
	}
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	e := newEnv(t, "run:\n  group: \"4321\"\n")
	if _, err := e.pull(t, Options{Name: "local"}, localModel(t, nil)); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(e.dir, "store")
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{
		{root, 0o750},
		{filepath.Join(root, "models"), 0o750 | os.ModeSetgid},
		{filepath.Join(root, "models", "local"), 0o750 | os.ModeSetgid},
	} {
		st, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if gid := st.Sys().(*syscall.Stat_t).Gid; gid != 4321 || st.Mode()&(os.ModePerm|os.ModeSetgid) != c.mode {
			t.Errorf("%s: group %d mode %v, want 4321 and %v", c.path, gid, st.Mode(), c.mode)
		}
	}
}
