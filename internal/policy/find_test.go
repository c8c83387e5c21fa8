package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// isolate points every place Find and StoreDir look at into fresh temp dirs
// and returns the working folder.
func isolate(t *testing.T) (wd, home string) {
	t.Helper()
	home = t.TempDir()
	wd = t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(EnvPolicy, "")
	t.Setenv(EnvHome, "")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_DATA_HOME", "")
	t.Chdir(wd)
	return wd, home
}

func TestLoadResolvesPaths(t *testing.T) {
	_, home := isolate(t)
	dir := t.TempDir()
	for _, f := range []string{"keys/release.pub", "certs/root.pem", "certs/intermediate.pem", "certs/ca.pem", "trusted_root.json"} {
		write(t, filepath.Join(dir, f), "x")
	}
	write(t, filepath.Join(home, "keys/home.pub"), "x")
	src := strings.Replace(fullPolicy, "store: /srv/ttsguard", "store: store", 1)
	src = strings.Replace(src, "signers:\n", "signers:\n  - name: home\n    public_key: ~/keys/home.pub\n", 1)
	path := write(t, filepath.Join(dir, "ttsguard.yaml"), src)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]string{
		"Path":       p.Path,
		"Store":      p.Store,
		"CABundle":   p.CABundle,
		"home key":   p.Signers[0].PublicKey,
		"public key": p.Signers[1].PublicKey,
		"chain 0":    p.Signers[2].CertificateChain[0],
		"trust root": p.Signers[3].TrustRoot,
	}
	want := map[string]string{
		"Path":       path,
		"Store":      filepath.Join(dir, "store"),
		"CABundle":   filepath.Join(dir, "certs/ca.pem"),
		"home key":   filepath.Join(home, "keys/home.pub"),
		"public key": filepath.Join(dir, "keys/release.pub"),
		"chain 0":    filepath.Join(dir, "certs/root.pem"),
		"trust root": filepath.Join(dir, "trusted_root.json"),
	}
	for k, got := range checks {
		if got != want[k] {
			t.Errorf("%s = %q, want %q", k, got, want[k])
		}
	}
	if s, _ := p.StoreDir(); s != filepath.Join(dir, "store") {
		t.Errorf("StoreDir = %q", s)
	}
	if l, _ := p.LockPath(); l != filepath.Join(dir, "ttsguard.lock") {
		t.Errorf("LockPath = %q", l)
	}
}

func TestLoadErrors(t *testing.T) {
	wd, _ := isolate(t)
	write(t, filepath.Join(wd, "k.pub"), "x")
	if err := os.Mkdir(filepath.Join(wd, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, data, want string }{
		{"missing key file", "version: 1\nsigners:\n  - name: k\n    public_key: nokey.pub\n",
			`policy "p.yaml": line 4: signers[0].public_key: stat ` + filepath.Join(wd, "nokey.pub") + `: no such file or directory`},
		{"missing chain file", "version: 1\nsigners:\n  - name: k\n    certificate_chain:\n      - k.pub\n      - nochain.pem\n",
			`policy "p.yaml": line 6: signers[0].certificate_chain[1]: stat ` + filepath.Join(wd, "nochain.pem") + `: no such file or directory`},
		{"missing bundle", "version: 1\nca_bundle: /nonexistent/ca.pem\n",
			`policy "p.yaml": line 2: ca_bundle: stat /nonexistent/ca.pem: no such file or directory`},
		{"bundle is a folder", "version: 1\nca_bundle: adir\n",
			`policy "p.yaml": line 2: ca_bundle: ` + filepath.Join(wd, "adir") + `: not a regular file`},
		{"missing trust root", "version: 1\nsigners:\n  - name: k\n    identity: a@b.test\n    issuer: https://i.test\n    trust_root: tr.json\n",
			`policy "p.yaml": line 6: signers[0].trust_root: stat ` + filepath.Join(wd, "tr.json") + `: no such file or directory`},
		{"syntax", "version: 1\nsourcez: []\n", `policy "p.yaml": line 2: unknown key "sourcez"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(t, "p.yaml", tt.data)
			_, err := Load("p.yaml")
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got: %v\nwant: %s", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
		})
	}
	// a store that does not exist yet is fine
	write(t, "s.yaml", "version: 1\nstore: not/yet\n")
	if p, err := Load("s.yaml"); err != nil || p.Store != filepath.Join(wd, "not/yet") {
		t.Errorf("store: %v %v", p, err)
	}
	// the file itself
	_, err := Load("absent.yaml")
	if err == nil || err.Error() != `policy "absent.yaml": open absent.yaml: no such file or directory` || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent: %v", err)
	}
	if _, err := Load("adir"); err == nil || err.Error() != `policy "adir": not a regular file` {
		t.Errorf("folder: %v", err)
	}
	write(t, "ww.yaml", "version: 1\n")
	if err := os.Chmod("ww.yaml", 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("ww.yaml"); err == nil || err.Error() != `policy "ww.yaml": the file is writable by everyone (mode -rw-rw-rw-): run chmod o-w` {
		t.Errorf("world-writable: %v", err)
	}
	write(t, "big.yaml", "version: 1\n#"+strings.Repeat("x", MaxFileSize))
	if _, err := Load("big.yaml"); err == nil || err.Error() != `policy "big.yaml": larger than 1048576 bytes` {
		t.Errorf("big: %v", err)
	}
}

func TestFindOrder(t *testing.T) {
	wd, home := isolate(t)
	explicit := write(t, filepath.Join(t.TempDir(), "explicit.yaml"), "version: 1\nstore: /explicit\n")
	env := write(t, filepath.Join(t.TempDir(), "env.yaml"), "version: 1\nstore: /env\n")
	xdg := t.TempDir()

	store := func(explicitArg string) string {
		t.Helper()
		p, err := Find(explicitArg)
		if err != nil {
			t.Fatal(err)
		}
		if p.Path == "" {
			return "default"
		}
		return p.Store
	}
	// nothing anywhere: the embedded default
	if got := store(""); got != "default" {
		t.Errorf("empty: %s", got)
	}
	// ~/.config when XDG_CONFIG_HOME is unset
	write(t, filepath.Join(home, ".config/ttsguard/policy.yaml"), "version: 1\nstore: /home-config\n")
	if got := store(""); got != "/home-config" {
		t.Errorf("~/.config: %s", got)
	}
	// a relative XDG_CONFIG_HOME is ignored
	t.Setenv("XDG_CONFIG_HOME", "relative")
	write(t, filepath.Join(wd, "relative/ttsguard/policy.yaml"), "version: 1\nstore: /relative\n")
	if got := store(""); got != "/home-config" {
		t.Errorf("relative XDG_CONFIG_HOME: %s", got)
	}
	t.Setenv("XDG_CONFIG_HOME", xdg)
	if got := store(""); got != "default" {
		t.Errorf("empty XDG_CONFIG_HOME: %s", got)
	}
	write(t, filepath.Join(xdg, "ttsguard/policy.yaml"), "version: 1\nstore: /xdg\n")
	if got := store(""); got != "/xdg" {
		t.Errorf("XDG_CONFIG_HOME: %s", got)
	}
	write(t, filepath.Join(wd, "ttsguard.yaml"), "version: 1\nstore: /local\n")
	if got := store(""); got != "/local" {
		t.Errorf("./ttsguard.yaml: %s", got)
	}
	t.Setenv(EnvPolicy, env)
	if got := store(""); got != "/env" {
		t.Errorf("$TTSGUARD_POLICY: %s", got)
	}
	if got := store(explicit); got != "/explicit" {
		t.Errorf("explicit: %s", got)
	}
	// explicit and env files must exist
	if _, err := Find(filepath.Join(wd, "nope.yaml")); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("explicit missing: %v", err)
	}
	t.Setenv(EnvPolicy, filepath.Join(wd, "nope.yaml"))
	if _, err := Find(""); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("env missing: %v", err)
	}
	// a found file that is invalid is an error, not a fall back
	t.Setenv(EnvPolicy, "")
	write(t, filepath.Join(wd, "ttsguard.yaml"), "version: 2\n")
	if _, err := Find(""); err == nil || err.Error() != `policy "ttsguard.yaml": line 1: version: unsupported version 2: want 1` {
		t.Errorf("invalid local: %v", err)
	}
}

func TestFindUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads everything")
	}
	wd, _ := isolate(t)
	write(t, filepath.Join(wd, "sub/ttsguard.yaml"), "version: 1\n")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(wd, "sub"))
	if err := os.Chmod(filepath.Join(wd, "sub"), 0o000); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(wd, "sub"), 0o755) })
	if _, err := Find(""); err == nil || !errors.Is(err, fs.ErrPermission) {
		t.Errorf("unreadable config folder: %v", err)
	}
}

func TestStoreDirAndLockPath(t *testing.T) {
	wd, home := isolate(t)
	p := Default()
	check := func(want string) {
		t.Helper()
		got, err := p.StoreDir()
		if err != nil || got != want {
			t.Errorf("StoreDir = %q, %v; want %q", got, err, want)
		}
		lock, err := p.LockPath()
		if err != nil || lock != filepath.Join(want, "ttsguard.lock") {
			t.Errorf("LockPath = %q, %v; want it in %q", lock, err, want)
		}
	}
	check(filepath.Join(home, ".local/share/ttsguard"))
	t.Setenv("XDG_DATA_HOME", "relative/data")
	check(filepath.Join(home, ".local/share/ttsguard"))
	t.Setenv("XDG_DATA_HOME", "/data")
	check("/data/ttsguard")
	t.Setenv(EnvHome, "rel-home")
	check(filepath.Join(wd, "rel-home"))
	t.Setenv(EnvHome, "~/th")
	check(filepath.Join(home, "th"))
	p.Store = "/policy-store"
	check("/policy-store")
	// a loaded policy keeps its lock file next to itself
	path := write(t, filepath.Join(wd, "conf/ttsguard.yaml"), "version: 1\n")
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if lock, _ := q.LockPath(); lock != filepath.Join(wd, "conf/ttsguard.lock") {
		t.Errorf("LockPath = %q", lock)
	}
	if s, _ := q.StoreDir(); s != filepath.Join(home, "th") {
		t.Errorf("StoreDir = %q", s)
	}
}

// planted is a policy another local user would plant: it names a serving
// user, passes the caller's secrets through, widens what the server reads,
// drops the signature requirement and, being elsewhere, moves the lock file.
const planted = `version: 1
models:
  tts_models/en/ljspeech/vits:
    signature: optional
run:
  user: "65534"
  allow_read: [/root]
  env: [AWS_SECRET_ACCESS_KEY]
`

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// TestFindRefusesPlantedPolicy is the attack of issue 9 item 11: another
// user (uid 65534) who can write the working folder, or another place a
// policy is found, plants a policy. Every discovery path must refuse it,
// naming the file, the owner and the way to trust it on purpose, and must
// not fall back to another policy.
func TestFindRefusesPlantedPolicy(t *testing.T) {
	needRoot(t)
	wd, home := isolate(t)
	for _, step := range []string{"./ttsguard.yaml", "$XDG_CONFIG_HOME", "$TTSGUARD_POLICY", "--policy"} {
		t.Run(step, func(t *testing.T) {
			t.Setenv(EnvPolicy, "")
			t.Setenv("XDG_CONFIG_HOME", "")
			os.Remove(filepath.Join(wd, LocalFile))
			var path, explicit string
			switch step {
			case "./ttsguard.yaml":
				path = filepath.Join(wd, LocalFile)
			case "$XDG_CONFIG_HOME":
				path = filepath.Join(home, ".config/ttsguard/policy.yaml")
			case "$TTSGUARD_POLICY":
				path = filepath.Join(t.TempDir(), "p.yaml")
				t.Setenv(EnvPolicy, path)
			case "--policy":
				path = filepath.Join(t.TempDir(), "p.yaml")
				explicit = path
			}
			write(t, path, planted)
			defer os.Remove(path)
			chown(t, path, 65534)
			p, err := Find(explicit)
			if p != nil || !errors.Is(err, ErrUntrusted) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("planted policy: %v, %v", p, err)
			}
			for _, want := range []string{"owned by uid 65534", "not by you (uid 0) or root", filepath.Base(path), `add "` + filepath.Dir(path) + `" to TTSGUARD_TRUSTED_PATHS`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestFindRefusesSharedFolder: a policy of the caller's (or root's) in a
// folder others can write, or that another user owns, is refused too: they
// could replace it. A sticky folder (/tmp) stops others from replacing a
// file they do not own, so there the file's owner and mode decide.
func TestFindRefusesSharedFolder(t *testing.T) {
	needRoot(t)
	isolate(t)
	tests := []struct {
		name    string
		dirMode fs.FileMode // with os.ModeSticky for a sticky folder
		dirUID  int
		mode    fs.FileMode
		uid     int
		want    string // "" accepted
	}{
		{"own file, own folder", 0o755, 0, 0o644, 0, ""},
		{"group-writable file", 0o755, 0, 0o664, 0, "the file is writable by its group (mode -rw-rw-r--"},
		{"folder of another user", 0o755, 65534, 0o644, 0, `is owned by uid 65534`},
		{"world-writable folder", 0o777, 0, 0o644, 0, "is writable by everyone (mode drwxrwxrwx"},
		{"group-writable folder", 0o775, 0, 0o644, 0, "is writable by its group (mode drwxrwxr-x"},
		{"sticky folder, own file", 0o777 | os.ModeSticky, 0, 0o644, 0, ""},
		{"sticky folder, file of another user", 0o777 | os.ModeSticky, 0, 0o644, 65534, "the file is owned by uid 65534"},
		{"sticky folder, group-writable file", 0o777 | os.ModeSticky, 0, 0o664, 0, "the file is writable by its group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "shared")
			path := write(t, filepath.Join(dir, LocalFile), planted)
			chown(t, path, tt.uid)
			chown(t, dir, tt.dirUID)
			for p, m := range map[string]fs.FileMode{path: tt.mode, dir: tt.dirMode} {
				if err := os.Chmod(p, m); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			p, err := Find("")
			if tt.want == "" {
				if err != nil || p.Path != path {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), `policy "ttsguard.yaml": `) {
				t.Errorf("error %v, want one that says %q", err, tt.want)
			}
		})
	}
}

// TestFindRefusesPlantedLink: a symbolic link in the working folder is
// judged by what it leads to, and in a sticky folder by its own owner too.
func TestFindRefusesPlantedLink(t *testing.T) {
	needRoot(t)
	wd, _ := isolate(t)
	theirs := write(t, filepath.Join(t.TempDir(), "theirs.yaml"), planted)
	chown(t, theirs, 65534)
	if err := os.Symlink(theirs, filepath.Join(wd, LocalFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(""); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("link to another user's file: %v", err)
	}
	// The target in a folder others can write.
	open := filepath.Join(t.TempDir(), "open")
	mine := write(t, filepath.Join(open, "mine.yaml"), "version: 1\n")
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(wd, LocalFile))
	if err := os.Symlink(mine, filepath.Join(wd, LocalFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(""); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), `its folder "`+open+`" is writable by everyone`) {
		t.Errorf("link into a world-writable folder: %v", err)
	}
	// Another user's link in a sticky folder, to a file of root's.
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(wd, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	chown(t, filepath.Join(wd, LocalFile), 65534)
	if _, err := Find(""); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "a symbolic link owned by uid 65534") {
		t.Errorf("another user's link in a sticky folder: %v", err)
	}
	chown(t, filepath.Join(wd, LocalFile), 0)
	if p, err := Find(""); err != nil || p.Path != filepath.Join(wd, LocalFile) {
		t.Errorf("own link to an own file: %v", err)
	}
}

// TestTrustedPaths: TTSGUARD_TRUSTED_PATHS accepts a policy on purpose.
func TestTrustedPaths(t *testing.T) {
	needRoot(t)
	wd, _ := isolate(t)
	path := write(t, filepath.Join(wd, LocalFile), planted)
	chown(t, path, 65534)
	chown(t, wd, 65534)
	tests := []struct {
		env     string
		trusted bool
	}{
		{"", false},
		{wd, true},
		{path, true},
		{"/nonexistent:" + wd + "/", true},
		{filepath.Dir(wd), true}, // a folder above
		{"*", true},
		{wd + "x", false},        // a sibling with a longer name
		{"ttsguard.yaml", false}, // relative: ignored
		{".", false},             // relative: ignored
		{filepath.Join(wd, "sub"), false},
		{":" + filepath.Join(wd, "other.yaml"), false},
	}
	for _, tt := range tests {
		t.Setenv(EnvTrustedPaths, tt.env)
		p, err := Find("")
		if tt.trusted != (err == nil) {
			t.Errorf("%s=%q: %v", EnvTrustedPaths, tt.env, err)
		}
		if err == nil && p.Run.User != "65534" {
			t.Errorf("%s=%q: not the planted policy: %+v", EnvTrustedPaths, tt.env, p.Run)
		}
	}
	// Entries are compared with symbolic links resolved too.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(wd, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvTrustedPaths, link)
	if _, err := Find(""); err != nil {
		t.Errorf("entry through a link: %v", err)
	}
	// A world-writable policy stays refused.
	t.Setenv(EnvTrustedPaths, "*")
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(""); err == nil || !strings.Contains(err.Error(), "writable by everyone") {
		t.Errorf("world-writable, trusted: %v", err)
	}
}

// TestLoadRefusesUntrustedCABundle: the CA bundle a policy names decides
// which download servers are trusted: it is checked like the policy.
func TestLoadRefusesUntrustedCABundle(t *testing.T) {
	needRoot(t)
	wd, _ := isolate(t)
	ca := write(t, filepath.Join(wd, "certs/ca.pem"), "x")
	path := write(t, filepath.Join(wd, LocalFile), "version: 1\nca_bundle: certs/ca.pem\n")
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
	chown(t, ca, 65534)
	_, err := Load(path)
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), `line 2: ca_bundle: "`+ca+`": the file is owned by uid 65534`) {
		t.Errorf("CA bundle of another user: %v", err)
	}
	t.Setenv(EnvTrustedPaths, filepath.Dir(ca))
	if _, err := Load(path); err != nil {
		t.Errorf("trusted: %v", err)
	}
}
