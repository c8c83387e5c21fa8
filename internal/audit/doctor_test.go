package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

func TestDoctorClean(t *testing.T) {
	fx := newStoreFixture(t)
	rep, err := fx.run(t, false)
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("fresh store: err %v, findings:%s", err, dump(rep))
	}
	if rep.Store != fx.root || rep.Policy != fx.policy || rep.Lock != fx.lock {
		t.Errorf("report paths: store %q policy %q lock %q", rep.Store, rep.Policy, rep.Lock)
	}
	c := rep.Checked
	if c.Versions != 1 || c.Blobs != 4 || c.KeyFiles != 1 || c.Files < 4+4+2 || c.Symlinks != 1 {
		t.Errorf("checked %+v", c)
	}
	var b strings.Builder
	must(t, rep.Text(&b))
	if !strings.Contains(b.String(), "doctor OK: no findings") {
		t.Errorf("text:\n%s", b.String())
	}
}

// exp is one expected finding.
type exp struct {
	path, rule string
	sev        Severity
	fixable    bool
	problem    string // a substring of the problem
}

func blobOf(fx *fixture, content string) string {
	sum := sha256.Sum256([]byte(content))
	h := hex.EncodeToString(sum[:])
	return fx.path("objects/sha256/" + h[:2] + "/" + h[2:])
}

// TestDoctorBreakages breaks a fresh store one way each, checks the
// findings, runs --fix and checks what was repaired and what remains.
func TestDoctorBreakages(t *testing.T) {
	cfg := modelFiles["config.json"]
	tests := []struct {
		name string
		// breakIt damages fx and returns the findings expected before the fix,
		// those expected to remain after it (exactly, by path and rule), and
		// the modes expected after it.
		breakIt func(t *testing.T, fx *fixture) (before, after []exp, modes map[string]uint32)
	}{
		{"model file 0644", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.file("config.json"), 0o644))
			return []exp{
				{fx.file("config.json"), RuleMode, Medium, true, "mode 0644, want 0444: writable by its owner"},
				{blobOf(fx, cfg), RuleMode, Medium, true, "mode 0644"},
			}, nil, map[string]uint32{fx.file("config.json"): 0o444}
		}},
		{"model file 0666", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.file("config.json"), 0o666))
			return []exp{{fx.file("config.json"), RuleMode, High, true, "writable by group and others, writable by its owner (the store keeps it read-only), the serving user " + fx.serving.User + " can write it"}},
				nil, map[string]uint32{fx.file("config.json"): 0o444}
		}},
		{"store root 0777", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.root, 0o777))
			return []exp{{fx.root, RuleMode, High, true, "mode 0777, want 0750: writable by group and others"}},
				nil, map[string]uint32{fx.root: 0o750}
		}},
		{"store root 0700", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.root, 0o700))
			if fx.shared() { // served by root: the serving group cannot search it
				return []exp{{fx.root, RuleServingGroup, Medium, true, "mode 0700 gives its group, the serving group"}}, nil, map[string]uint32{fx.root: 0o750}
			}
			return []exp{{fx.root, RuleMode, Low, true, "less than expected"}}, nil, map[string]uint32{fx.root: 0o750}
		}},
		{"stat record 0666", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			rec := filepath.Join(fx.model, fx.id+store.RecordSuffix)
			must(t, os.Chmod(rec, 0o666))
			return []exp{{rec, RuleMode, High, true, "writable by group and others"}}, nil, map[string]uint32{rec: 0o444}
		}},
		{"stat record without metadata", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			rec := filepath.Join(fx.model, "0123456789abcdef"+store.RecordSuffix)
			write(t, rec, "{}", 0o444)
			e := exp{rec, RuleGarbage, Low, false, "stat record of a version that has no metadata"}
			return []exp{e}, []exp{e}, nil
		}},
		{"stray file in a version folder", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			writeInto(t, fx.file("sub/evil.pth"), "x", 0o644)
			stray := fx.file("sub/evil.pth")
			return []exp{
					{stray, RuleUnlisted, High, false, "does not list"},
					{stray, RuleMode, Medium, true, "mode 0644"},
				}, []exp{{stray, RuleUnlisted, High, false, ""}},
				map[string]uint32{stray: 0o444, fx.file("sub"): 0o555}
		}},
		{"symlink in a version folder", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			link := fx.file("speakers.pth")
			underDir(t, link, func() error { return os.Symlink("/etc/passwd", link) })
			e := exp{link, RuleSymlink, High, false, `symbolic link to "/etc/passwd"`}
			return []exp{e}, []exp{e}, nil
		}},
		{"symlink in objects", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			link := fx.path("objects/sha256/zz")
			must(t, os.Symlink(fx.vdir, link))
			e := exp{link, RuleSymlink, High, false, ""}
			return []exp{e}, []exp{e}, nil
		}},
		{"current points elsewhere", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			cur := filepath.Join(fx.model, "current")
			must(t, os.Remove(cur))
			must(t, os.Symlink("../../../etc", cur))
			e := exp{cur, RuleSymlink, High, false, `points to "../../../etc", not to a version folder beside it`}
			return []exp{e}, []exp{e}, nil
		}},
		{"setuid and setgid", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.file("model_file.pth"), 0o444|fs.ModeSetuid))
			must(t, os.Chmod(fx.file("sub"), 0o555|fs.ModeSetgid))
			must(t, os.Chmod(fx.path("models"), fileMode(fx.modelsPerm())|fs.ModeSticky))
			return []exp{
				{fx.file("model_file.pth"), RuleMode, High, true, "mode 4444, want 0444: setuid"},
				{fx.file("sub"), RuleMode, High, true, "mode 2555, want 0555: setgid"},
				{fx.path("models"), RuleMode, Low, true, "sticky"},
			}, nil, map[string]uint32{fx.file("model_file.pth"): 0o444, fx.file("sub"): 0o555, fx.path("models"): fx.modelsPerm()}
		}},
		{"version folder writable", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.vdir, 0o775))
			return []exp{{fx.vdir, RuleMode, High, true, "writable by group, writable by its owner"}}, nil, map[string]uint32{fx.vdir: 0o555}
		}},
		{"metadata writable", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			meta := filepath.Join(fx.model, fx.id+".json")
			must(t, os.Chmod(meta, 0o646))
			return []exp{{meta, RuleMode, High, true, "writable by others"}}, nil, map[string]uint32{meta: 0o444}
		}},
		{"private key 0644 next to the policy", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			key := filepath.Join(fx.dir, "signing.pem")
			write(t, key, "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n", 0o644)
			enc := filepath.Join(fx.dir, "keys", "k.key")
			write(t, enc, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIH\n-----END ENCRYPTED PRIVATE KEY-----\n", 0o640)
			return []exp{
				{key, RulePrivateKey, High, true, "PEM private key readable by group and others (mode 0644)"},
				{enc, RulePrivateKey, Medium, true, "PEM encrypted private key readable by group (mode 0640)"},
			}, nil, map[string]uint32{key: 0o600, enc: 0o600, fx.pubKey: 0o644}
		}},
		{"public key writable by others", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.pubKey, 0o666))
			return []exp{{fx.pubKey, RuleMode, High, true, "a trusted key or certificate: mode 0666, want 0644: writable by group and others"}},
				nil, map[string]uint32{fx.pubKey: 0o644}
		}},
		{"world-writable policy and lock file", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.policy, 0o666))
			must(t, os.Chmod(fx.lock, 0o662))
			return []exp{
				{fx.policy, RuleMode, High, true, "the policy: mode 0666, want 0644: writable by group and others"},
				{fx.lock, RuleMode, High, true, "the lock file: mode 0662, want 0640: writable by group and others"},
			}, nil, map[string]uint32{fx.policy: 0o644, fx.lock: 0o640}
		}},
		{"policy folder writable", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			must(t, os.Chmod(fx.dir, 0o777))
			e := exp{fx.dir, RuleFolder, High, false, "writable by group and others"}
			return []exp{e}, []exp{e}, map[string]uint32{fx.dir: 0o777}
		}},
		{"garbage blob", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			g := blobOf(fx, "garbage")
			mkdir(t, filepath.Dir(g), 0o750)
			write(t, g, "garbage", 0o444)
			e := exp{g, RuleGarbage, Low, false, "link count 1"}
			return []exp{e}, []exp{e}, nil
		}},
		{"leftover in tmp", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			left := fx.path("tmp/stage-123")
			mkdir(t, left, 0o700)
			e := exp{left, RuleLeftover, Low, false, ""}
			return []exp{e}, []exp{e}, nil
		}},
		{"missing and replaced model files", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			gone, swapped := fx.file("sub/speakers.json"), fx.file("config.json")
			underDir(t, gone, func() error { return os.Remove(gone) })
			underDir(t, swapped, func() error {
				if err := os.Remove(swapped); err != nil {
					return err
				}
				return os.WriteFile(swapped, []byte(cfg), 0o444)
			})
			e := []exp{
				{gone, RuleMissing, High, false, "missing"},
				{blobOf(fx, modelFiles["sub/speakers.json"]), RuleGarbage, Low, false, ""},
				{swapped, RuleNotLinked, Medium, false, "not a hard link to its blob"},
				{blobOf(fx, cfg), RuleGarbage, Low, false, ""},
			}
			return e, e, nil
		}},
		{"unexpected entries", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			a, b, c := fx.path("notes.txt"), filepath.Join(fx.model, "backup"), fx.path("models/Bad Name")
			write(t, a, "x", 0o600)
			mkdir(t, b, 0o750)
			mkdir(t, c, 0o750)
			e := []exp{{a, RuleUnexpected, Medium, false, ""}, {b, RuleUnexpected, Medium, false, ""}, {c, RuleUnexpected, Medium, false, ""}}
			return e, e, nil
		}},
		{"corrupt metadata", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			meta := filepath.Join(fx.model, fx.id+".json")
			underDir(t, meta, func() error {
				if err := os.Remove(meta); err != nil {
					return err
				}
				return os.WriteFile(meta, []byte(`{"format": "x"}`), 0o444)
			})
			e := exp{meta, RuleMetadata, High, false, "store is inconsistent"}
			return []exp{e}, []exp{e}, nil
		}},
		{"version folder without metadata", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			orphan := filepath.Join(fx.model, "0123456789abcdef")
			mkdir(t, orphan, 0o555)
			e := exp{orphan, RuleGarbage, Low, false, "without metadata"}
			return []exp{e}, []exp{e}, nil
		}},
		{"fifo in the store", func(t *testing.T, fx *fixture) ([]exp, []exp, map[string]uint32) {
			p := fx.file("pipe")
			underDir(t, p, func() error { return syscall.Mkfifo(p, 0o644) })
			e := exp{p, RuleSpecial, High, false, "a named pipe in the store"}
			return []exp{e}, []exp{e}, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newStoreFixture(t)
			before, after, modes := tt.breakIt(t, fx)
			rep, err := fx.run(t, false)
			if !errors.Is(err, ErrFindings) {
				t.Fatalf("before --fix: err %v, want ErrFindings", err)
			}
			for _, e := range before {
				f := find(rep, e.path, e.rule)
				if f == nil {
					t.Errorf("no %s finding at %s; findings:%s", e.rule, e.path, dump(rep))
					continue
				}
				if f.Severity != e.sev || f.Fixable != e.fixable || !strings.Contains(f.Problem, e.problem) || f.Fix == "" {
					t.Errorf("%s at %s: got %s fixable=%v %q (fix %q), want %s fixable=%v %q",
						e.rule, e.path, f.Severity, f.Fixable, f.Problem, f.Fix, e.sev, e.fixable, e.problem)
				}
			}
			rep, err = fx.run(t, true)
			if (len(after) == 0) != (err == nil) {
				t.Errorf("after --fix: err %v with %d findings expected to remain", err, len(after))
			}
			if len(rep.FixErrors) > 0 {
				t.Errorf("fix errors: %v", rep.FixErrors)
			}
			if len(rep.Findings) != len(after) {
				t.Errorf("after --fix: %d findings, want %d:%s", len(rep.Findings), len(after), dump(rep))
			}
			for _, e := range after {
				if find(rep, e.path, e.rule) == nil {
					t.Errorf("after --fix: no %s finding at %s:%s", e.rule, e.path, dump(rep))
				}
			}
			for p, want := range modes {
				if got := perm(t, p); got != want {
					t.Errorf("after --fix: %s has mode %04o, want %04o", p, got, want)
				}
			}
		})
	}
}

func TestDoctorUntrustedPolicyFixesItselfFirst(t *testing.T) {
	fx := newStoreFixture(t)
	must(t, os.Chmod(fx.policy, 0o646))
	must(t, os.Chmod(fx.file("config.json"), 0o644))
	rep, err := fx.run(t, true)
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("err %v", err)
	}
	if perm(t, fx.policy) != 0o644 {
		t.Errorf("policy mode %04o, want 0644", perm(t, fx.policy))
	}
	if find(rep, fx.file("config.json"), RuleMode) == nil || perm(t, fx.file("config.json")) != 0o644 {
		t.Errorf("a store fix was made on the word of a world-writable policy:%s", dump(rep))
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "review it, then run doctor --fix again") {
		t.Errorf("notes: %q", rep.Notes)
	}
	// The policy is no longer world-writable: a second --fix repairs the store.
	rep, err = fx.run(t, true)
	if err != nil || perm(t, fx.file("config.json")) != 0o444 {
		t.Fatalf("second --fix: err %v, mode %04o:%s", err, perm(t, fx.file("config.json")), dump(rep))
	}
}

func TestDoctorOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	fx := newStoreFixture(t)
	p := fx.file("config.json")
	must(t, os.Lchown(p, 65534, -1))
	rep, _ := fx.run(t, false)
	f := find(rep, p, RuleOwner)
	if f == nil || !f.Fixable || f.Severity != High || !strings.Contains(f.Problem, "the serving user can change it") {
		t.Fatalf("owner finding: %+v%s", f, dump(rep))
	}
	rep, err := fx.run(t, true)
	if err != nil {
		t.Fatalf("after --fix: %v%s", err, dump(rep))
	}
	var st syscall.Stat_t
	must(t, syscall.Lstat(p, &st))
	if st.Uid != 0 {
		t.Errorf("owner after --fix: uid %d", st.Uid)
	}

	// A store owned by the serving user: one finding, not fixable.
	must(t, filepath.WalkDir(fx.root, func(q string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(q, 65534, 65534)
	}))
	rep, _ = fx.run(t, true)
	if f := find(rep, fx.root, RuleServing); f == nil || f.Fixable || len(rep.Findings) != 1 {
		t.Errorf("store owned by the serving user:%s", dump(rep))
	}
	// A trusted file owned by someone else than you or root.
	must(t, os.Chown(fx.pubKey, 65534, 65534))
	rep, _ = fx.run(t, false)
	if f := find(rep, fx.pubKey, RuleOwner); f == nil || f.Fixable {
		t.Errorf("public key owned by another user:%s", dump(rep))
	}
	if f := find(rep, fx.pubKey, RuleServing); f == nil {
		t.Errorf("public key owned by the serving user:%s", dump(rep))
	}
}

func TestDoctorServingUser(t *testing.T) {
	fx := newStoreFixture(t)
	// The serving user in the store's group: a group-writable folder is its to write.
	fx.serving = &Principal{User: "svc", UID: 4242, GIDs: []int{int(gidOf(t, fx.root))}}
	must(t, os.Chmod(fx.path("models"), fileMode(0o770|fx.modelsPerm()&0o2000)))
	rep, _ := fx.run(t, false)
	if f := find(rep, fx.path("models"), RuleMode); f == nil || !strings.Contains(f.Problem, "the serving user svc can write it") {
		t.Errorf("group-writable models/:%s", dump(rep))
	}
	// A serving user that is root.
	fx.serving = &Principal{User: "root", UID: 0}
	rep, _ = fx.run(t, false)
	if f := find(rep, fx.policy, RuleServing); f == nil || f.Severity != High {
		t.Errorf("root serving user:%s", dump(rep))
	}
	// The default serving user, looked up.
	if _, err := LookupPrincipal(DefaultServingUser, ""); err != nil {
		t.Skipf("no %s user here: %v", DefaultServingUser, err)
	}
	rep, err := Doctor(context.Background(), Options{PolicyFile: fx.policy})
	if rep == nil || rep.ServingUser == nil || rep.ServingUser.User != DefaultServingUser || rep.ServingUser.Source != "default" {
		t.Errorf("default serving user: %+v, %v", rep, err)
	}
}

func gidOf(t *testing.T, p string) uint32 {
	var st syscall.Stat_t
	must(t, syscall.Lstat(p, &st))
	return st.Gid
}

func TestServingNames(t *testing.T) {
	for _, tt := range []struct {
		yaml       string
		user, grp  string
		fromPolicy bool
	}{
		{"version: 1\n", DefaultServingUser, "", false},
		{"version: 1\nrun:\n  user: tts\n  group: audio\n", "tts", "audio", true},
		{"version: 1\nrun:\n  group: audio\n", DefaultServingUser, "audio", true},
		{"version: 1\nrun:\n  user: \"4242\"\n", "4242", "", true},
	} {
		p, err := policy.Parse("p.yaml", []byte(tt.yaml))
		must(t, err)
		u, g, from := servingNames(p)
		if u != tt.user || g != tt.grp || from != tt.fromPolicy {
			t.Errorf("%q: got %q %q %v, want %q %q %v", tt.yaml, u, g, from, tt.user, tt.grp, tt.fromPolicy)
		}
	}
	// A numeric user needs no passwd entry.
	p, err := LookupPrincipal("4242", "")
	if err != nil || p.UID != 4242 {
		t.Errorf("numeric user: %+v, %v", p, err)
	}
	if _, err := LookupPrincipal("no-such-user-here", ""); err == nil {
		t.Error("unknown user: no error")
	}
}

func TestDoctorPolicyServingUser(t *testing.T) {
	fx := newStoreFixture(t)
	// The policy's run.user, with the store's group as the default run group.
	write(t, fx.policy, "version: 1\nstore: ../store\nsources: []\nrun:\n  user: \"4242\"\n", 0o644)
	rep, err := Doctor(context.Background(), Options{PolicyFile: fx.policy})
	if rep == nil || rep.ServingUser == nil || rep.ServingUser.UID != 4242 || rep.ServingUser.Source != "policy run" {
		t.Fatalf("serving user: %+v, %v", rep, err)
	}
	if gid := int(gidOf(t, fx.root)); gid != 0 && !slices.Contains(rep.ServingUser.GIDs, gid) {
		t.Errorf("serving groups %v lack the store's group %d", rep.ServingUser.GIDs, gid)
	}
	// A run.user that does not exist: a finding, not an error.
	write(t, fx.policy, "version: 1\nstore: ../store\nsources: []\nrun:\n  user: no-such-user-here\n", 0o644)
	rep, _ = Doctor(context.Background(), Options{PolicyFile: fx.policy})
	if rep == nil || find(rep, fx.policy, RuleNoServingUser) == nil {
		t.Errorf("unknown run.user: %+v", rep)
	}
}

func TestDoctorHeldTmpIsNotALeftover(t *testing.T) {
	fx := newStoreFixture(t)
	st, err := store.Open(fx.root)
	must(t, err)
	dir, cleanup, err := st.Stage()
	must(t, err)
	defer cleanup()
	rep, err := fx.run(t, false)
	if err != nil || find(rep, dir, RuleLeftover) != nil {
		t.Errorf("held stage folder reported: %v%s", err, dump(rep))
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "in use") {
		t.Errorf("notes: %q", rep.Notes)
	}
}

func TestDoctorBadPolicy(t *testing.T) {
	fx := newStoreFixture(t)
	write(t, fx.policy, "version: 1\nsourcez: []\n", 0o644)
	if _, err := Doctor(context.Background(), Options{PolicyFile: fx.policy}); !errors.Is(err, ErrPolicy) {
		t.Errorf("invalid policy: %v", err)
	}
	if _, err := Doctor(context.Background(), Options{PolicyFile: filepath.Join(fx.dir, "nope.yaml")}); !errors.Is(err, ErrPolicy) {
		t.Errorf("missing policy: %v", err)
	}
	write(t, fx.policy, "version: 1\nsourcez: []\n", 0o666)
	if _, err := Doctor(context.Background(), Options{PolicyFile: fx.policy}); !errors.Is(err, ErrPolicy) {
		t.Errorf("invalid world-writable policy: %v", err)
	}
}

func TestDoctorNoStoreYet(t *testing.T) {
	fx := newStoreFixture(t)
	must(t, os.Rename(fx.root, fx.root+".old"))
	rep, err := fx.run(t, false)
	if err != nil || rep.Store != "" || !strings.Contains(strings.Join(rep.Notes, "\n"), "no store at") {
		t.Errorf("no store: err %v, store %q, notes %q", err, rep.Store, rep.Notes)
	}
}

func TestDoctorNotAStore(t *testing.T) {
	fx := newStoreFixture(t)
	write(t, fx.policy, "version: 1\nstore: .\nsources: []\n", 0o644)
	rep, _ := fx.run(t, true)
	if f := find(rep, fx.dir, RuleNotAStore); f == nil {
		t.Errorf("policy folder taken as a store:%s", dump(rep))
	}
	if got := perm(t, fx.dir); got != 0o755 {
		t.Errorf("--fix changed a folder that is not a store: %04o", got)
	}
}

func TestReportOutput(t *testing.T) {
	fx := newStoreFixture(t)
	must(t, os.Chmod(fx.file("config.json"), 0o666))
	writeInto(t, fx.file("x y.bin"), "x", 0o444)
	rep, _ := fx.run(t, false)
	data, err := json.Marshal(rep)
	must(t, err)
	var back struct {
		Findings []map[string]any `json:"findings"`
	}
	must(t, json.Unmarshal(data, &back))
	if len(back.Findings) == 0 {
		t.Fatalf("json: %s", data)
	}
	for _, k := range []string{"path", "problem", "severity", "fix", "fixable", "rule"} {
		if _, ok := back.Findings[0][k]; !ok {
			t.Errorf("json finding lacks %q: %v", k, back.Findings[0])
		}
	}
	if back.Findings[0]["severity"] != "high" {
		t.Errorf("first finding: %v", back.Findings[0])
	}
	var b strings.Builder
	must(t, rep.Text(&b))
	text := b.String()
	for _, s := range []string{
		"high    " + fx.file("config.json") + ": mode 0666, want 0444",
		"; fix: chmod 0444 " + fx.file("config.json") + " [--fix]",
		"rm '" + fx.file("x y.bin") + "'",
		"findings (",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("text lacks %q:\n%s", s, text)
		}
	}
	// A clean report marshals findings as [], never null.
	fx2 := newStoreFixture(t)
	rep, _ = fx2.run(t, false)
	data, _ = json.Marshal(rep)
	if !strings.Contains(string(data), `"findings":[]`) {
		t.Errorf("clean json: %s", data)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"/a/b.c": "/a/b.c", "a b": "'a b'", "it's": `'it'\''s'`, "": "''", "$x": "'$x'"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestDoctorIncomplete(t *testing.T) {
	fx := newStoreFixture(t)
	// The store lies below a file: stat fails with ENOTDIR, an I/O error, not "no store".
	write(t, fx.policy, "version: 1\nstore: ttsguard.lock/store\nsources: []\n", 0o644)
	rep, err := Doctor(context.Background(), Options{PolicyFile: fx.policy, Serving: fx.serving})
	if !errors.Is(err, ErrIncomplete) || rep == nil || len(rep.Errors) != 1 {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	var b strings.Builder
	must(t, rep.Text(&b))
	if !strings.Contains(b.String(), "doctor INCOMPLETE: 1 path could not be checked") {
		t.Errorf("text:\n%s", b.String())
	}
}
