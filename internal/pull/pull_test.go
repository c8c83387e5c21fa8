package pull

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
	"github.com/ttsguard/ttsguard/internal/testutil"
)

var exampleFiles = testutil.TinyVits()

// zipOf writes files under one top folder, as coqui's release zips do.
func zipOf(t testing.TB, top string, files map[string][]byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, data := range files {
		f, err := w.Create(top + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	w.Close()
	return b.Bytes()
}

type env struct {
	srv   *httptest.Server
	other *httptest.Server
	tls   *tls.Config
	pol   *policy.Policy
	dir   string
	files map[string][]byte
}

func newEnv(t *testing.T, extraPolicy string) *env {
	e := &env{dir: t.TempDir(), files: map[string][]byte{}}
	evil := map[string][]byte{"config.json": exampleFiles["config.json"], "model_file.pth": []byte("cos\nsystem\n(S'id'\ntR.")}
	e.files["/rel/vits.zip"] = zipOf(t, "tts_models--en--test--vits", exampleFiles)
	e.files["/rel/evil.zip"] = zipOf(t, "evil", evil)
	e.files["/rel/model_file.pth"] = exampleFiles["model_file.pth"]
	e.files["/rel/config.json"] = exampleFiles["config.json"]
	e.other = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(e.files["/rel/vits.zip"]) }))
	t.Cleanup(e.other.Close)
	e.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rel/redirect-out":
			http.Redirect(w, r, e.other.URL+"/rel/vits.zip", http.StatusFound)
			return
		case "/rel/html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<!DOCTYPE html><html>rate limited</html>"))
			return
		}
		b, ok := e.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(e.srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(e.srv.Certificate())
	pool.AddCert(e.other.Certificate())
	e.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	yaml := fmt.Sprintf("version: 1\nstore: %s\nsources:\n  - %s/rel/\n%s", filepath.Join(e.dir, "store"), e.srv.URL, extraPolicy)
	pp := filepath.Join(e.dir, "ttsguard.yaml")
	if err := os.WriteFile(pp, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(pp)
	if err != nil {
		t.Fatal(err)
	}
	e.pol = pol
	return e
}

func (e *env) pull(t *testing.T, o Options, args ...string) (*Result, error) {
	o.Policy, o.TLS = e.pol, e.tls
	return Pull(context.Background(), o, args)
}

func TestPullHappyPathAndPin(t *testing.T) {
	e := newEnv(t, "")
	r, err := e.pull(t, Options{Name: "vits"}, e.srv.URL+"/rel/vits.zip")
	if err != nil {
		t.Fatalf("%v %+v", err, r)
	}
	if r.Pinned != "added" || r.Files != 2 || !r.OK {
		t.Fatalf("%+v", r)
	}
	// The model is read-only, in coqui's layout (top folder stripped).
	st, err := os.Stat(filepath.Join(r.Dir, "model_file.pth"))
	if err != nil || st.Mode().Perm() != 0o444 {
		t.Fatalf("%v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "ttsguard.lock")); err != nil {
		t.Fatal("no lock file next to the policy")
	}
	// A second pull matches the pin.
	r, err = e.pull(t, Options{Name: "vits"}, e.srv.URL+"/rel/vits.zip")
	if err != nil || r.Pinned != "matched" {
		t.Fatalf("%v %+v", err, r)
	}
	// Upstream changes: refused, store unchanged, until lock update.
	e.files["/rel/vits.zip"] = zipOf(t, "x", map[string][]byte{"config.json": exampleFiles["config.json"], "model_file.pth": exampleFiles["model_file.pth"], "extra.txt": []byte("new")})
	r, err = e.pull(t, Options{Name: "vits"}, e.srv.URL+"/rel/vits.zip")
	if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "lock update") {
		t.Fatalf("%v", err)
	}
	r, err = e.pull(t, Options{Name: "vits", Update: true}, e.srv.URL+"/rel/vits.zip")
	if err != nil || r.Pinned != "updated" || !strings.Contains(r.Changes, "extra.txt") {
		t.Fatalf("%v %+v", err, r)
	}
	// check on the stored model passes; tampering is caught.
	c, err := Check(context.Background(), e.pol, "vits", "")
	if err != nil || !c.OK {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestPullRefusals(t *testing.T) {
	e := newEnv(t, "")
	cases := []struct {
		name, url string
		o         Options
		want      string
	}{
		{"plain http", "http://127.0.0.1:1/rel/vits.zip", Options{Name: "a"}, "not allowed"},
		{"redirect out of policy", e.srv.URL + "/rel/redirect-out", Options{Name: "a"}, "not allowed"},
		{"html page", e.srv.URL + "/rel/html", Options{Name: "a"}, "HTML"},
		{"404", e.srv.URL + "/rel/missing.zip", Options{Name: "a"}, "404"},
		{"malicious checkpoint", e.srv.URL + "/rel/evil.zip", Options{Name: "evil"}, "os.system"},
		{"frozen", e.srv.URL + "/rel/vits.zip", Options{Name: "b", Frozen: true}, "--frozen"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.pull(t, c.o, c.url)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	st, err := store.Open(filepath.Join(e.dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	if vs, _ := st.List(); len(vs) != 0 {
		t.Fatalf("store not empty after refusals: %v", vs)
	}
}

func TestPullSignatureRequired(t *testing.T) {
	dir := t.TempDir()
	k, _ := oms.GenerateKey("p256")
	pub, _ := oms.MarshalPublicKey(&k.PublicKey)
	pubPath := filepath.Join(dir, "team.pub")
	os.WriteFile(pubPath, pub, 0o644)
	e := newEnv(t, fmt.Sprintf("signers:\n  - name: team\n    public_key: %s\nmodels:\n  signed:\n    signature: required\n", pubPath))
	// Unsigned: refused.
	if _, err := e.pull(t, Options{Name: "signed"}, e.srv.URL+"/rel/vits.zip"); err == nil || !strings.Contains(err.Error(), "requires a signature") {
		t.Fatalf("unsigned: %v", err)
	}
	// Signed with the team key (a local folder signed in place).
	model := filepath.Join(dir, "model")
	os.MkdirAll(model, 0o755)
	for n, b := range exampleFiles {
		os.WriteFile(filepath.Join(model, n), b, 0o644)
	}
	if _, err := oms.Sign(context.Background(), model, oms.KeySigner{Key: k}, oms.ModelOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := e.pull(t, Options{Name: "signed"}, model)
	if err != nil || !strings.Contains(r.Gates[1].Detail, `signer "team"`) {
		t.Fatalf("%v %+v", err, r)
	}
	// Signed by another key: refused.
	other, _ := oms.GenerateKey("p256")
	os.Remove(filepath.Join(model, "model.sig"))
	oms.Sign(context.Background(), model, oms.KeySigner{Key: other}, oms.ModelOptions{})
	if _, err := e.pull(t, Options{Name: "signed"}, model); err == nil || !strings.Contains(err.Error(), "no trusted signer") {
		t.Fatalf("other key: %v", err)
	}
}

func TestConcurrentPulls(t *testing.T) {
	e := newEnv(t, "")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := e.pull(t, Options{Name: fmt.Sprintf("m%d", i%4)}, e.srv.URL+"/rel/vits.zip")
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// Pulls of one name and of different names share the lock file:
		// each adds its pin without undoing the others'.
		if err != nil {
			t.Error(err)
		}
	}
	for _, n := range []string{"m0", "m1", "m2", "m3"} {
		if c, err := Check(context.Background(), e.pol, n, ""); err != nil || !c.OK {
			t.Errorf("%s: %v %+v", n, err, c)
		}
	}
}

// writeCatalog writes a coqui .models.json whose entries point at the test server.
func (e *env) writeCatalog(t *testing.T) string {
	cat := fmt.Sprintf(`{
  "tts_models": {
    "en": {
      "test": {
        "vits": {"description": "zip release", "github_rls_url": "%[1]s/rel/vits.zip", "license": "apache 2.0"},
        "files": {"description": "hf file list", "hf_url": ["%[1]s/rel/model_file.pth", "%[1]s/rel/config.json"], "license": "apache 2.0"},
        "xtts": {"description": "needs the TOS", "hf_url": ["%[1]s/rel/model_file.pth", "%[1]s/rel/config.json"], "tos_required": true, "license": "CPML"}
      }
    }
  }
}`, e.srv.URL)
	p := filepath.Join(e.dir, "models.json")
	if err := os.WriteFile(p, []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPullCoquiCatalog(t *testing.T) {
	e := newEnv(t, "")
	cat := e.writeCatalog(t)
	r, err := e.pull(t, Options{Catalog: cat}, "tts_models/en/test/vits")
	if err != nil || r.Name != "tts_models/en/test/vits" || r.Files != 2 {
		t.Fatalf("%v %+v", err, r)
	}
	if len(r.Sources) != 1 || r.Sources[0].CertSHA256 == "" || r.Sources[0].SHA256 == "" {
		t.Fatalf("provenance %+v", r.Sources)
	}
	r, err = e.pull(t, Options{Catalog: cat}, "tts_models/en/test/files")
	if err != nil || r.Files != 2 {
		t.Fatalf("%v %+v", err, r)
	}
	// Terms of service: refused without acceptance; accepted, coqui's marker is written.
	if _, err := e.pull(t, Options{Catalog: cat}, "tts_models/en/test/xtts"); err == nil || !strings.Contains(err.Error(), "--accept-tos") {
		t.Fatalf("tos: %v", err)
	}
	r, err = e.pull(t, Options{Catalog: cat, AcceptTOS: true}, "tts_models/en/test/xtts")
	if err != nil || r.TOS != "accepted" {
		t.Fatalf("%v %+v", err, r)
	}
	if b, err := os.ReadFile(filepath.Join(r.Dir, TOSFile)); err != nil || len(b) == 0 {
		t.Fatalf("tos_agreed.txt: %v", err)
	}
	if _, err := e.pull(t, Options{Catalog: cat}, "tts_models/en/test/nope"); err == nil || !strings.Contains(err.Error(), "not in the coqui catalog") {
		t.Fatalf("unknown id: %v", err)
	}
}
