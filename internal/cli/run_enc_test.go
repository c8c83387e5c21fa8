//go:build linux && (amd64 || arm64)

package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
)

// grepFiles returns the regular files under dir (up to 256 MiB each; what
// cannot be read is skipped) that hold marker.
func grepFiles(dir, marker string) []string {
	var hits []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if st, err := d.Info(); err != nil || st.Size() > 256<<20 {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte(marker)) {
			hits = append(hits, p)
		}
		return nil
	})
	return hits
}

// TestRunEncrypted is issue 13's acceptance test of encryption at rest: a
// model with a unique marker in its config is pulled, the store encrypted,
// and `run` (as root) gives the command the plaintext at the model's own
// paths (tts-server's arguments and a command reading {model}); afterwards
// the marker is in no file under the store or under /tmp, and the mount
// table shows no decrypted tmpfs.
func TestRunEncrypted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("run decrypts into a tmpfs in a mount namespace of its own: root only")
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		os.Chmod(p, 0o755)
	}
	pp, marker, modelDir := encryptedModel(t, dir, nil)
	store := filepath.Join(dir, "store")

	// tts-server (the stand-in) parses the config and reads the checkpoint at the model's paths.
	data, err := os.ReadFile("../sandbox/testdata/fake_tts_server.py")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "bin", "tts-server")
	os.Mkdir(filepath.Dir(script), 0o755)
	if err := os.WriteFile(script, data, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", filepath.Dir(script)+":/usr/bin:/bin")
	port := freeTCPPort(t)
	resp, body, err := serveOnce(t, port, "--policy", pp, "tiny", "--tts-server", "--port", strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	checkWAV(t, resp, body)
	if !strings.Contains(resp.Header.Get("X-Args"), filepath.Join(modelDir, "model_file.pth")) {
		t.Errorf("tts-server args %s: want the model's own path", resp.Header.Get("X-Args"))
	}

	// A command reads the plaintext at {model}.
	prog := "import hashlib,sys; print(open(sys.argv[1]).read()); print(hashlib.sha256(open(sys.argv[2],'rb').read()).hexdigest())"
	var out, errb bytes.Buffer
	if err := execRun(&out, &errb, "--policy", pp, "tiny", "--", py, "-c", prog, "{model}/config.json", "{model}/model_file.pth"); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	want, _ := os.ReadFile("../../examples/tiny-vits/model_file.pth")
	h := sha256.Sum256(want)
	sum := hex.EncodeToString(h[:])
	if !strings.Contains(out.String(), marker) || !strings.Contains(out.String(), sum) {
		t.Fatalf("the command did not read the plaintext through the tmpfs:\n%s\n%s", out.String(), errb.String())
	}

	// Afterwards: the plaintext is in no file under the store or /tmp, and
	// the host's mount table never had the tmpfs.
	for _, d := range []string{store, os.TempDir(), "/tmp"} {
		if hits := grepFiles(d, marker); len(hits) > 0 {
			t.Errorf("after run, the plaintext is in %v", hits)
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte("ttsguard-decrypted")) {
		t.Error("the host's mount table shows a decrypted tmpfs")
	}
	// path refuses it.
	var pout bytes.Buffer
	code := Main([]string{"path", "--policy", pp, "tiny"}, &pout, &pout)
	if code != 2 || !strings.Contains(pout.String(), "encrypted at rest") {
		t.Errorf("path: exit %d: %s", code, pout.String())
	}
}

// encryptedModel pulls the example model with a random marker in its
// config into an encrypted store under dir (policy dir/ttsguard.yaml,
// identity dir/store.key) as "tiny", checks the marker is not in the store,
// and returns the policy, the marker and the version folder. extra are
// more files of the model.
func encryptedModel(t *testing.T, dir string, extra map[string]string) (pp, marker, modelDir string) {
	t.Helper()
	nonce := make([]byte, 12)
	rand.Read(nonce)
	marker = "ttsguard-enc-marker-" + hex.EncodeToString(nonce)
	// The model: the example with the marker in its config.
	src := filepath.Join(dir, "src")
	os.Mkdir(src, 0o755)
	for _, n := range []string{"config.json", "model_file.pth"} {
		data, err := os.ReadFile(filepath.Join("../../examples/tiny-vits", n))
		if err != nil {
			t.Fatal(err)
		}
		if n == "config.json" {
			data = bytes.Replace(data, []byte("{"), []byte(`{"comment": "`+marker+`", `), 1)
		}
		if err := os.WriteFile(filepath.Join(src, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for n, c := range extra {
		if err := os.WriteFile(filepath.Join(src, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "store.key"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pp = filepath.Join(dir, "ttsguard.yaml")
	pol := "version: 1\nstore:\n  path: store\n  encryption:\n    recipients: [" + id.Recipient().String() + "]\n    identity: store.key\nsources: []\n"
	if err := os.WriteFile(pp, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	pl, err := policy.Load(pp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pull.Pull(context.Background(), pull.Options{Policy: pl, Name: "tiny"}, []string{src})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	if hits := grepFiles(store, marker); len(hits) > 0 {
		t.Fatalf("after pull, the plaintext is in %v", hits)
	}

	return pp, marker, r.Dir
}
