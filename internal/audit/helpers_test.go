package audit

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/store"
)

// fixture is a policy folder (policy, lock file, a public key) and a store
// holding one committed model, with every mode as doctor expects it.
type fixture struct {
	dir     string // the policy folder
	policy  string
	lock    string
	pubKey  string
	root    string // the store
	model   string // models/<escaped name>
	vdir    string // the current version folder
	id      string
	serving *Principal
}

const modelName = "tts_models/en/test/vits"

var modelFiles = map[string]string{
	"config.json":       `{"model": "vits", "audio": {"sample_rate": 22050}}`,
	"model_file.pth":    "not really a checkpoint",
	"sub/speakers.json": `{"a": 0}`,
	"model.sig":         `{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}`,
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := t.TempDir()
	t.Cleanup(func() { // read-only folders stop TempDir's cleanup when not root
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o700)
			}
			return nil
		})
	})
	fx := &fixture{
		dir:     filepath.Join(base, "etc"),
		root:    filepath.Join(base, "store"),
		serving: &Principal{User: "nobody", UID: 65534, GIDs: []int{65534}, Source: "test"},
	}
	if os.Geteuid() == fx.serving.UID { // the tests run as nobody: serve as someone else
		fx.serving = &Principal{User: "svc", UID: 4242, GIDs: []int{4242}, Source: "test"}
	}
	fx.policy = filepath.Join(fx.dir, "ttsguard.yaml")
	fx.lock = filepath.Join(fx.dir, "ttsguard.lock")
	fx.pubKey = filepath.Join(fx.dir, "keys", "k.pub")
	mkdir(t, filepath.Join(fx.dir, "keys"), 0o755)
	must(t, os.Chmod(fx.dir, 0o755))
	write(t, fx.pubKey, "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n", 0o644)
	write(t, fx.policy, "version: 1\nstore: ../store\nsources: []\nsigners:\n  - name: k\n    public_key: keys/k.pub\n", 0o644)
	write(t, fx.lock, "{}\n", 0o644)

	st, err := store.Open(fx.root)
	must(t, err)
	stage, cleanup, err := st.Stage()
	must(t, err)
	defer cleanup()
	for name, content := range modelFiles {
		p := filepath.Join(stage, filepath.FromSlash(name))
		mkdir(t, filepath.Dir(p), 0o755)
		write(t, p, content, 0o644)
	}
	m, err := manifest.Build(context.Background(), stage, manifest.Options{IgnorePaths: []string{"model.sig"}})
	must(t, err)
	v, err := st.Commit(context.Background(), modelName, stage, m.Root().String(), store.Provenance{SignatureFile: "model.sig"})
	must(t, err)
	fx.id, fx.vdir = v.ID, v.Dir
	fx.model = filepath.Dir(v.Dir)
	// Open and Mkdir are subject to the umask: set the layout's modes exactly.
	for p, mode := range map[string]os.FileMode{fx.root: 0o750, fx.path("objects"): 0o750, fx.path("objects/sha256"): 0o750,
		fx.path("models"): 0o750, fx.model: 0o750, fx.path("tmp"): 0o700, fx.path(".lock"): 0o600} {
		must(t, os.Chmod(p, mode))
	}
	ents, err := os.ReadDir(fx.path("objects/sha256"))
	must(t, err)
	for _, e := range ents {
		must(t, os.Chmod(fx.path("objects/sha256/"+e.Name()), 0o750))
	}
	return fx
}

// path is a path in the store.
func (fx *fixture) path(rel string) string { return filepath.Join(fx.root, filepath.FromSlash(rel)) }

// file is a path in the current version folder.
func (fx *fixture) file(rel string) string { return filepath.Join(fx.vdir, filepath.FromSlash(rel)) }

func (fx *fixture) run(t *testing.T, fix bool) (*Report, error) {
	t.Helper()
	rep, err := Doctor(context.Background(), Options{PolicyFile: fx.policy, Fix: fix, Serving: fx.serving})
	if err != nil && !errors.Is(err, ErrFindings) {
		t.Fatalf("Doctor: %v", err)
	}
	if rep == nil {
		t.Fatal("Doctor returned no report")
	}
	if len(rep.Errors) > 0 {
		t.Fatalf("Doctor errors: %v", rep.Errors)
	}
	return rep, err
}

// find returns the first finding at path with rule, or nil.
func find(rep *Report, path, rule string) *Finding {
	for i, f := range rep.Findings {
		if f.Path == path && f.Rule == rule {
			return &rep.Findings[i]
		}
	}
	return nil
}

func dump(rep *Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString("\n  " + f.Severity.String() + " " + f.Path + " [" + f.Rule + "] " + f.Problem + "; fix: " + f.Fix)
	}
	return b.String()
}

func perm(t *testing.T, p string) uint32 {
	t.Helper()
	var st syscall.Stat_t
	must(t, syscall.Lstat(p, &st))
	return uint32(st.Mode) & 0o7777
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(p, mode))
	must(t, os.Chmod(p, mode))
}

func write(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	must(t, os.WriteFile(p, []byte(content), mode))
	must(t, os.Chmod(p, mode))
}

// writeInto writes a file into a read-only folder, restoring its mode.
func writeInto(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	dir := filepath.Dir(p)
	old := perm(t, dir)
	must(t, os.Chmod(dir, 0o755))
	write(t, p, content, mode)
	must(t, os.Chmod(dir, os.FileMode(old)))
}

// underDir runs fn with p's folder writable, restoring its mode.
func underDir(t *testing.T, p string, fn func() error) {
	t.Helper()
	dir := filepath.Dir(p)
	old := perm(t, dir)
	must(t, os.Chmod(dir, 0o755))
	must(t, fn())
	must(t, os.Chmod(dir, os.FileMode(old)))
}
