package store

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
)

// servingUID is the user the served-store tests read as (nobody).
const servingUID = 65534

// otherGID is a group no file of these tests has.
const otherGID = 61234

// servableDir returns a fresh folder that every user can search (unlike
// t.TempDir's parents), removed at the end of the test.
func servableDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ttsguard-group-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTree(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// asUser runs name with args as uid with gid as its only group, from /.
func asUser(t *testing.T, uid, gid int, name string, args ...string) ([]byte, error) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s here: %v", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir, cmd.Env = "/", []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.Join(err, errors.New(stderr.String()))
	}
	return out, nil
}

// modelFiles lists the files of a version folder, sorted.
func modelFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// readsAll checks that uid:gid can read every file of dir, byte for byte.
func readsAll(t *testing.T, uid, gid int, dir string) error {
	t.Helper()
	files := modelFiles(t, dir)
	var want []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
	}
	got, err := asUser(t, uid, gid, "cat", files...)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%d:%d read %d bytes of %s, want %d", uid, gid, len(got), dir, len(want))
	}
	return nil
}

func statOf(t *testing.T, p string) (perm uint32, gid int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Mode & 0o7777, int(st.Gid)
}

// TestServedStoreReadableByServingGroup: a store that root creates, then
// commits into, is readable by the serving user through the serving group
// with no manual step: every file of every model, also of a model committed
// later. Its private parts (tmp/, .lock) stay unreadable.
func TestServedStoreReadableByServingGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the store is created for a serving group only by root")
	}
	gid, err := LookupServingGroup("")
	if err != nil {
		t.Skipf("no default serving group here: %v", err)
	}
	base := servableDir(t)
	root := filepath.Join(base, "srv", "ttsguard")
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	v := commitVariant(t, s, "tts_models/en/test/vits", "a")
	stage, cleanup, err := s.Stage()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	secret := filepath.Join(stage, "secret.pth")
	if err := os.WriteFile(secret, []byte("staged, not verified"), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := readsAll(t, servingUID, gid, v.Dir); err != nil {
		t.Errorf("the serving user cannot read the model it is to serve: %v", err)
	}
	// The group, not the others' bits, is what lets it in.
	if err := readsAll(t, servingUID, otherGID, v.Dir); err == nil {
		t.Error("a user outside the serving group read the model: the store is open to everyone")
	}
	for _, p := range []string{secret, filepath.Join(root, lockName)} {
		if out, err := asUser(t, servingUID, gid, "cat", p); err == nil {
			t.Errorf("the serving user read %s: %q", p, out)
		}
	}
	if out, err := asUser(t, servingUID, gid, "ls", filepath.Join(root, dirTmp)); err == nil {
		t.Errorf("the serving user listed tmp/: %q", out)
	}

	// The layout of group.go.
	for _, tt := range []struct {
		path string
		perm uint32
		gid  int
	}{
		{filepath.Join(base, "srv"), 0o755, 0},
		{root, 0o750, gid},
		{filepath.Join(root, dirModels), 0o2750, gid},
		{filepath.Dir(v.Dir), 0o2750, gid},
		{filepath.Join(root, dirObjects), 0o750, 0},
		{filepath.Join(root, dirObjects, "sha256"), 0o750, 0},
		{filepath.Join(root, dirTmp), 0o700, 0},
		{filepath.Join(root, lockName), 0o600, 0},
	} {
		if perm, g := statOf(t, tt.path); perm != tt.perm || g != tt.gid {
			t.Errorf("%s: mode %04o gid %d, want %04o gid %d", tt.path, perm, g, tt.perm, tt.gid)
		}
	}

	// A model committed later is readable too: models/ hands its group down.
	v2 := commitVariant(t, s, "other", "b")
	if err := readsAll(t, servingUID, gid, v2.Dir); err != nil {
		t.Errorf("a model committed later: %v", err)
	}
	checkConsistent(t, s)
}

// TestOpenServingGroupOption: the policy's group (a name or an id) is the
// store's; an unknown group or root's refuses to create anything; an
// existing store's groups are left alone.
func TestOpenServingGroupOption(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := servableDir(t)
	root := filepath.Join(base, "a")
	if _, err := Open(root, ServingGroup("61234")); err != nil {
		t.Fatal(err)
	}
	if _, g := statOf(t, root); g != otherGID {
		t.Errorf("store group %d, want %d", g, otherGID)
	}
	if _, g := statOf(t, filepath.Join(root, dirModels)); g != otherGID {
		t.Errorf("models/ group %d, want %d", g, otherGID)
	}
	for _, name := range []string{"no-such-group-for-ttsguard", "root", "0"} {
		p := filepath.Join(base, "b-"+name)
		if _, err := Open(p, ServingGroup(name)); err == nil {
			t.Errorf("serving group %q accepted", name)
		}
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("serving group %q: the store was created anyway (%v)", name, err)
		}
	}
	// An existing store keeps its groups: Open is no repair tool.
	old := filepath.Join(base, "old")
	if _, err := Open(old); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{old, filepath.Join(old, dirModels)} {
		if err := os.Chown(p, -1, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(old, ServingGroup("61234")); err != nil {
		t.Fatal(err)
	}
	if perm, g := statOf(t, filepath.Join(old, dirModels)); perm != 0o750 || g != 0 {
		t.Errorf("existing models/: mode %04o gid %d, want 0750 gid 0", perm, g)
	}
	// A store folder recreated in a store with a serving group gets it.
	if err := os.Chown(old, -1, otherGID); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(old, dirModels)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(old); err != nil {
		t.Fatal(err)
	}
	if perm, g := statOf(t, filepath.Join(old, dirModels)); perm != 0o2750 || g != otherGID {
		t.Errorf("recreated models/: mode %04o gid %d, want 2750 gid %d", perm, g, otherGID)
	}
}

// TestNonRootStoreKeepsItsGroup: a store created by another user than root
// is as before: the creator's group, no setgid bit (started as that user,
// `ttsguard run` cannot switch to a serving user).
func TestNonRootStoreKeepsItsGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start the test binary as another user")
	}
	base := servableDir(t)
	bin := filepath.Join(base, "store.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, servingUID, otherGID); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(home, "store")
	cmd := exec.Command(bin)
	cmd.Dir = "/"
	cmd.Env = []string{helperEnv + "=1", "STORE=" + root, "MODEL=a", "NAME=m", "TMPDIR=" + home}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: servingUID, Gid: otherGID, Groups: []uint32{}}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("commit as uid %d: %v\n%s", servingUID, err, out)
	}
	for _, tt := range []struct {
		path string
		perm uint32
	}{
		{root, 0o750}, {filepath.Join(root, dirModels), 0o750}, {filepath.Join(root, dirModels, "m"), 0o750}, {filepath.Join(root, dirTmp), 0o700},
	} {
		if perm, g := statOf(t, tt.path); perm != tt.perm || g != otherGID {
			t.Errorf("%s: mode %04o gid %d, want %04o gid %d (the creator's)", tt.path, perm, g, tt.perm, otherGID)
		}
	}
}
