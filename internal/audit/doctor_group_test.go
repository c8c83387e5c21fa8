package audit

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/store"
)

// newStoreFixture is newFixture with the store's shared folders as a store
// created by root has them: newFixture sets exact modes after the fact,
// which clears the setgid bit of models/ and of the model folder.
func newStoreFixture(t *testing.T) *fixture {
	t.Helper()
	fx := newFixture(t)
	if fx.shared() {
		must(t, os.Chmod(fx.path("models"), fileMode(0o2750)))
		must(t, os.Chmod(fx.model, fileMode(0o2750)))
	}
	return fx
}

// shared reports whether the fixture's store has a serving group: created
// by root, its folder's group is not root's.
func (fx *fixture) shared() bool {
	in, err := statInfo(fx.root, false)
	return err == nil && in.uid == 0 && in.gid != 0
}

// modelsPerm is the mode models/ has in the fixture's store.
func (fx *fixture) modelsPerm() uint32 {
	if fx.shared() {
		return 0o2750
	}
	return 0o750
}

// fileMode turns stat mode bits (07777) into an fs.FileMode for os.Chmod.
func fileMode(bits uint32) fs.FileMode {
	m := fs.FileMode(bits & 0o777)
	if bits&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if bits&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if bits&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// servedStore is a store created by root through store.Open, as pull
// creates it, with its audit log (and so its signing key) and one model,
// under a folder every user can search; the policy is beside it.
type servedStore struct {
	base, policy, root string
	st                 *store.Store
	model              *store.Version
	gid                int // the serving group
}

func newServedStore(t *testing.T, policyYAML string) *servedStore {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root creates a store for a serving group and switches to the serving user")
	}
	gid, err := store.LookupServingGroup("")
	if err != nil {
		t.Skipf("no default serving group here: %v", err)
	}
	base, err := os.MkdirTemp("", "ttsguard-doctor-")
	must(t, err)
	t.Cleanup(func() {
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	must(t, os.Chmod(base, 0o755))
	s := &servedStore{base: base, policy: filepath.Join(base, "etc", "ttsguard.yaml"), root: filepath.Join(base, "store"), gid: gid}
	mkdir(t, filepath.Dir(s.policy), 0o755)
	write(t, s.policy, policyYAML, 0o644)
	s.st, err = store.Open(s.root)
	must(t, err)
	l, err := OpenLog(s.st.Root, true)
	must(t, err)
	s.model = s.commit(t, modelName)
	_, err = l.Append(Event{Time: time.Now(), Command: "pull", Model: modelName, Root: s.model.Root, OK: true, User: "root (uid 0)", TTSGuard: "test"})
	must(t, err)
	return s
}

// commit commits the fixture's model files as name.
func (s *servedStore) commit(t *testing.T, name string) *store.Version {
	t.Helper()
	stage, cleanup, err := s.st.Stage()
	must(t, err)
	defer cleanup()
	for n, content := range modelFiles {
		p := filepath.Join(stage, filepath.FromSlash(n))
		mkdir(t, filepath.Dir(p), 0o755)
		write(t, p, content+name, 0o644)
	}
	m, err := manifest.Build(context.Background(), stage, manifest.Options{IgnorePaths: []string{"model.sig"}})
	must(t, err)
	v, err := s.st.Commit(context.Background(), name, stage, m.Root().String(), store.Provenance{SignatureFile: "model.sig"})
	must(t, err)
	return v
}

func (s *servedStore) path(rel string) string { return filepath.Join(s.root, filepath.FromSlash(rel)) }

func (s *servedStore) doctor(t *testing.T, fix bool) (*Report, error) {
	t.Helper()
	rep, err := Doctor(context.Background(), Options{PolicyFile: s.policy, Fix: fix})
	if err != nil && !errors.Is(err, ErrFindings) {
		t.Fatalf("Doctor: %v", err)
	}
	return rep, err
}

// asServing runs name with args as nobody with gid as its only group.
func asServing(t *testing.T, gid int, name string, args ...string) ([]byte, error) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s here: %v", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir, cmd.Env = "/", []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: uint32(gid), Groups: []uint32{}}}
	return cmd.Output()
}

// readsModel reports whether the serving user can read every file of v.
func (s *servedStore) readsModel(t *testing.T, v *store.Version) error {
	t.Helper()
	var files []string
	must(t, filepath.WalkDir(v.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	}))
	if len(files) != len(modelFiles) {
		t.Fatalf("%d files in %s, want %d", len(files), v.Dir, len(modelFiles))
	}
	_, err := asServing(t, s.gid, "cat", files...)
	return err
}

// private checks that the serving user can read none of the store's
// private files: the audit log's signing key and log, tmp/, .lock.
func (s *servedStore) private(t *testing.T) {
	t.Helper()
	for _, p := range []string{s.path("audit/key"), s.path("audit/log"), s.path(".lock")} {
		if _, err := os.Lstat(p); err != nil {
			t.Fatal(err)
		}
		if out, err := asServing(t, s.gid, "cat", p); err == nil {
			t.Errorf("the serving user read %s: %q", p, out)
		}
		if gidOf(t, p) == uint32(s.gid) {
			t.Errorf("%s has the serving group", p)
		}
	}
	for _, p := range []string{s.path("audit"), s.path("tmp")} {
		if out, err := asServing(t, s.gid, "ls", p); err == nil {
			t.Errorf("the serving user listed %s: %q", p, out)
		}
		if gidOf(t, p) == uint32(s.gid) {
			t.Errorf("%s has the serving group", p)
		}
	}
}

// TestServedStoreReadsModelsNotKey: a store created by root is, with no
// manual step, readable by the serving user (nobody, the serving group as
// its only group) model file by model file, and clean for doctor; the audit
// log's key, the log, tmp/ and .lock stay out of its reach.
func TestServedStoreReadsModelsNotKey(t *testing.T) {
	s := newServedStore(t, "version: 1\nstore: ../store\nsources: []\n")
	if err := s.readsModel(t, s.model); err != nil {
		t.Errorf("the serving user cannot read the model: %v", err)
	}
	s.private(t)
	rep, err := s.doctor(t, false)
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("a store as root creates it: err %v, findings:%s", err, dump(rep))
	}
	if rep.ServingUser == nil || rep.ServingUser.GID != s.gid {
		t.Errorf("serving user %+v, want group %d", rep.ServingUser, s.gid)
	}
	// A folder above the store the serving user cannot search: a note.
	must(t, os.Chmod(s.base, 0o700))
	rep, _ = s.doctor(t, false)
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "the serving user cannot search "+s.base+",") {
		t.Errorf("notes: %q", rep.Notes)
	}
	must(t, os.Chmod(s.base, 0o755))
}

// TestDoctorRepairsStoreOfOldLayout: a store as root created it before it
// was made for its serving group (root:root, no setgid bit) is unreadable
// by the serving user; doctor says so for each folder in the way, with the
// fix; --fix repairs it, a model pulled afterwards is readable too, and the
// key stays private.
func TestDoctorRepairsStoreOfOldLayout(t *testing.T) {
	s := newServedStore(t, "version: 1\nstore: ../store\nsources: []\n")
	folders := []string{s.root, s.path("models"), filepath.Dir(s.model.Dir)}
	for _, p := range folders {
		must(t, os.Chown(p, -1, 0))
		must(t, os.Chmod(p, 0o750))
	}
	if err := s.readsModel(t, s.model); err == nil {
		t.Fatal("the serving user reads a root:root store: the test proves nothing")
	}
	rep, err := s.doctor(t, false)
	if !errors.Is(err, ErrFindings) || len(rep.Findings) != len(folders) {
		t.Fatalf("err %v, findings:%s", err, dump(rep))
	}
	for _, p := range folders {
		f := find(rep, p, RuleServingGroup)
		if f == nil || !f.Fixable || f.Severity != Medium || !strings.Contains(f.Problem, "not the serving group") ||
			!strings.Contains(f.Fix, "chgrp "+strconv.Itoa(s.gid)+" ") {
			t.Errorf("%s: %+v", p, f)
		}
	}
	rep, err = s.doctor(t, true)
	if err != nil || len(rep.Fixed) != len(folders) {
		t.Fatalf("--fix: err %v, fixed %d, errors %v, findings:%s", err, len(rep.Fixed), rep.FixErrors, dump(rep))
	}
	for p, want := range map[string]uint32{s.root: 0o750, folders[1]: 0o2750, folders[2]: 0o2750} {
		if got, g := perm(t, p), gidOf(t, p); got != want || int(g) != s.gid {
			t.Errorf("%s after --fix: mode %04o gid %d, want %04o gid %d", p, got, g, want, s.gid)
		}
	}
	if err := s.readsModel(t, s.model); err != nil {
		t.Errorf("after --fix: %v", err)
	}
	if err := s.readsModel(t, s.commit(t, "pulled/later")); err != nil {
		t.Errorf("a model pulled after --fix: %v", err)
	}
	s.private(t)
	if rep, err := s.doctor(t, false); err != nil {
		t.Errorf("after --fix and a pull: %v%s", err, dump(rep))
	}
}

// TestDoctorServingGroupOfPolicy: the policy's run.group is the group the
// store must have; a world-writable policy's group is never applied.
func TestDoctorServingGroupOfPolicy(t *testing.T) {
	s := newServedStore(t, "version: 1\nstore: ../store\nsources: []\nrun:\n  group: \"61234\"\n")
	want := "not the serving group gid 61234"
	write(t, s.policy, "version: 1\nstore: ../store\nsources: []\nrun:\n  group: \"61234\"\n", 0o666)
	rep, err := s.doctor(t, true)
	if !errors.Is(err, ErrFindings) || len(rep.Fixed) != 1 || find(rep, s.root, RuleServingGroup) == nil {
		t.Fatalf("world-writable policy: err %v, fixed %d:%s", err, len(rep.Fixed), dump(rep))
	}
	if int(gidOf(t, s.root)) != s.gid {
		t.Errorf("--fix applied the group of a world-writable policy")
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "--fix left 3 fixable findings alone") {
		t.Errorf("notes: %q", rep.Notes)
	}
	must(t, os.Chmod(s.policy, 0o644))
	rep, _ = s.doctor(t, false)
	if f := find(rep, s.root, RuleServingGroup); f == nil || !strings.Contains(f.Problem, want) {
		t.Fatalf("findings:%s", dump(rep))
	}
	if rep, err := s.doctor(t, true); err != nil || gidOf(t, s.root) != 61234 || gidOf(t, s.path("models")) != 61234 {
		t.Errorf("--fix: %v%s", err, dump(rep))
	}
}

// TestDoctorUnreadableModel: in a store served by root, a model folder or
// file the serving group cannot read is a serving-group finding; --fix
// restores the mode.
func TestDoctorUnreadableModel(t *testing.T) {
	s := newServedStore(t, "version: 1\nstore: ../store\nsources: []\n")
	cfg := filepath.Join(s.model.Dir, "config.json")
	must(t, os.Chmod(s.model.Dir, 0o550))
	must(t, os.Chmod(cfg, 0o400))
	rep, _ := s.doctor(t, false)
	for _, p := range []string{s.model.Dir, cfg} {
		if f := find(rep, p, RuleServingGroup); f == nil || !f.Fixable || f.Severity != Medium || !strings.Contains(f.Problem, "cannot read it") {
			t.Errorf("%s: %+v%s", p, f, dump(rep))
		}
	}
	if rep, err := s.doctor(t, true); err != nil || perm(t, s.model.Dir) != 0o555 || perm(t, cfg) != 0o444 {
		t.Errorf("--fix: %v%s", err, dump(rep))
	}
	if err := s.readsModel(t, s.model); err != nil {
		t.Error(err)
	}
}

// TestDoctorSetgidOnServingGroupFolders: a setgid bit on a store folder
// whose group is the serving group is the layout (a store created by root
// has it on models/), not a finding, and --fix keeps it; on a file, or on a
// folder of another group, it is still high.
func TestDoctorSetgidOnServingGroupFolders(t *testing.T) {
	fx := newFixture(t)
	// What docs/sandbox.md told operators to do by hand: chmod g+s STORE/models.
	must(t, os.Chmod(fx.path("models"), 0o750|fs.ModeSetgid))
	must(t, os.Chmod(fx.model, 0o750|fs.ModeSetgid))
	must(t, os.Chmod(fx.file("config.json"), 0o644)) // something for --fix to do
	rep, err := fx.run(t, false)
	for _, p := range []string{fx.path("models"), fx.model} {
		for _, f := range rep.Findings {
			if f.Path == p {
				t.Errorf("setgid on a folder of the serving group reported: %s %s: %s", f.Severity, f.Rule, f.Problem)
			}
		}
	}
	if !errors.Is(err, ErrFindings) || find(rep, fx.file("config.json"), RuleMode) == nil {
		t.Fatalf("err %v:%s", err, dump(rep))
	}
	if rep, err := fx.run(t, true); err != nil {
		t.Fatalf("--fix: %v%s", err, dump(rep))
	}
	for _, p := range []string{fx.path("models"), fx.model} {
		if got := perm(t, p); got != 0o2750 {
			t.Errorf("%s after --fix: mode %04o, want 2750 (--fix must keep the setgid bit)", p, got)
		}
	}
	// On a file: high, and --fix clears it.
	must(t, os.Chmod(fx.file("config.json"), 0o444|fs.ModeSetgid))
	rep, _ = fx.run(t, false)
	if f := find(rep, fx.file("config.json"), RuleMode); f == nil || f.Severity != High || !strings.Contains(f.Problem, "setgid") {
		t.Errorf("setgid file:%s", dump(rep))
	}
	// On a folder whose group is not the serving group: high.
	objects := fx.path("objects")
	if gidOf(t, objects) == gidOf(t, fx.root) && os.Geteuid() == 0 {
		must(t, os.Chown(objects, -1, 61234)) // another user's store has one group only
	}
	if gidOf(t, objects) != gidOf(t, fx.root) {
		must(t, os.Chmod(objects, 0o750|fs.ModeSetgid))
		rep, _ = fx.run(t, false)
		if f := find(rep, objects, RuleMode); f == nil || f.Severity != High || !strings.Contains(f.Problem, "setgid") {
			t.Errorf("setgid folder of another group:%s", dump(rep))
		}
	}
}
