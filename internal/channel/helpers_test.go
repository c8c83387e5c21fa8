package channel

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/testutil"
)

// fixture is one channel (a publisher's folder served by a loopback TLS
// server, the "mirror") and one host following it.
type fixture struct {
	t     testing.TB
	dir   string // the publisher's channel folder
	home  string // the host's policy, lock and store
	srv   *httptest.Server
	tls   *tls.Config
	pol   *policy.Policy
	keys  map[string]*Signer
	now   time.Time
	mu    sync.Mutex
	serve string            // the folder the mirror serves (dir unless an attack swaps it)
	over  map[string][]byte // mirror paths served from memory instead
	dl    map[string][]byte // model downloads under /dl/
}

var modelFiles = testutil.TinyVits()

// version returns model version n's files (n > 1 adds a changelog).
func version(n int) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range modelFiles {
		out[k] = v
	}
	if n > 1 {
		out["CHANGELOG.txt"] = []byte(fmt.Sprintf("version %d\n", n))
	}
	return out
}

func zipOf(t testing.TB, files map[string][]byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, data := range files {
		f, err := w.Create("model/" + name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	w.Close()
	return b.Bytes()
}

// rootOf is the root digest a pull of files pins.
func rootOf(t testing.TB, files map[string][]byte) string {
	d := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(d, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := pull.RootDigest(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// writeKey writes a new private key (ECDSA P-256 as keygen writes it, or
// Ed25519 PKCS#8) and loads it.
func writeKey(t testing.TB, dir, name string, ed bool) *Signer {
	var pemBytes []byte
	if ed {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		pemBytes = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	} else {
		k, err := oms.GenerateKey("p256")
		if err != nil {
			t.Fatal(err)
		}
		if pemBytes, err = oms.MarshalPrivateKey(k, nil); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, name+".key")
	if err := os.WriteFile(p, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newFixture initializes a channel moving model "vits" with one key per
// role (targets: T1 and T2 under targetsThreshold) and a host whose policy
// follows it.
func newFixture(t testing.TB, targetsThreshold int) *fixture {
	base := t.TempDir()
	f := &fixture{t: t, dir: filepath.Join(base, "channel"), home: filepath.Join(base, "host"), keys: map[string]*Signer{},
		now: time.Now().UTC().Truncate(time.Second), over: map[string][]byte{}, dl: map[string][]byte{}}
	f.serve = f.dir
	kd := filepath.Join(base, "keys")
	os.Mkdir(kd, 0o700)
	os.Mkdir(f.home, 0o700)
	for i, n := range []string{"root", "targets", "targets2", "snapshot", "timestamp", "timestamp2"} {
		f.keys[n] = writeKey(t, kd, n, i%2 == 1)
	}
	keys := Keys{metadata.ROOT: {f.keys["root"]}, metadata.TARGETS: {f.keys["targets"], f.keys["targets2"]},
		metadata.SNAPSHOT: {f.keys["snapshot"]}, metadata.TIMESTAMP: {f.keys["timestamp"]}}
	if _, err := Init(f.dir, keys, InitOptions{Thresholds: map[string]int{metadata.TARGETS: targetsThreshold}, Now: f.now}); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(f.srv.Certificate())
	f.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	root, err := os.ReadFile(filepath.Join(f.dir, "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	rp := filepath.Join(f.home, "channel-root.json")
	if err := os.WriteFile(rp, root, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(root)
	yaml := fmt.Sprintf("version: 1\nstore: %s\nsources:\n  - %s/dl/\nchannels:\n  - name: prod\n    url: %s/channel/\n    root: channel-root.json\n    root_sha256: %s\n    models: [vits]\n",
		filepath.Join(f.home, "store"), f.srv.URL, f.srv.URL, hex.EncodeToString(sum[:]))
	pp := filepath.Join(f.home, "ttsguard.yaml")
	if err := os.WriteFile(pp, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if f.pol, err = policy.Load(pp); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.dl[r.URL.Path]; ok {
		w.Write(b)
		return
	}
	if b, ok := f.over[r.URL.Path]; ok {
		w.Write(b)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, "/channel/")
	if !ok || strings.Contains(rel, "..") {
		http.NotFound(w, r)
		return
	}
	b, err := os.ReadFile(filepath.Join(f.serve, filepath.FromSlash(rel)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func (f *fixture) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// onlineKeys signs targets (with both targets keys), snapshot and timestamp.
func (f *fixture) onlineKeys() Keys {
	return Keys{metadata.TARGETS: {f.keys["targets"], f.keys["targets2"]}, metadata.SNAPSHOT: {f.keys["snapshot"]}, metadata.TIMESTAMP: {f.keys["timestamp"]}}
}

// publish serves model version n's zip and publishes it with rootDigest
// ("" = its true root digest).
func (f *fixture) publish(n int, rootDigest string) Descriptor {
	files := version(n)
	path := fmt.Sprintf("/dl/vits-%d.zip", n)
	f.set(func() { f.dl[path] = zipOf(f.t, files) })
	if rootDigest == "" {
		rootDigest = rootOf(f.t, files)
	}
	d := Descriptor{Name: "vits", Version: fmt.Sprintf("%d.0", n), Source: f.srv.URL + path, RootDigest: rootDigest}
	if _, err := Publish(f.dir, d, f.onlineKeys(), nil, f.now); err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) update(at time.Time) (*UpdateResult, error) {
	return Update(context.Background(), UpdateOptions{Policy: f.pol, TLS: f.tls, Now: at})
}

// pin is the lock file's root digest of vits ("" if none).
func (f *fixture) pin() string {
	b, err := os.ReadFile(filepath.Join(f.home, "ttsguard.lock"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		f.t.Fatal(err)
	}
	i := bytes.Index(b, []byte(`"root": "`))
	if i < 0 {
		return ""
	}
	rest := b[i+len(`"root": "`):]
	return string(rest[:bytes.IndexByte(rest, '"')])
}

// snapshotOf copies the channel folder's files (a state to replay later).
func (f *fixture) snapshotOf() string {
	d := filepath.Join(f.t.TempDir(), "copy")
	if err := os.CopyFS(d, os.DirFS(f.dir)); err != nil {
		f.t.Fatal(err)
	}
	return d
}

// wantAttack checks err is a refresh refused as attack, with its words.
func wantAttack(t *testing.T, err error, attack Attack, words string) {
	t.Helper()
	re, ok := err.(*RefreshError)
	if !ok {
		var e *RefreshError
		if !asRefresh(err, &e) {
			t.Fatalf("want a %s refusal, got %v", attack, err)
		}
		re = e
	}
	t.Log(err)
	if re.Attack != attack || !strings.Contains(err.Error(), words) {
		t.Fatalf("want a %s refusal saying %q, got attack %q: %v", attack, words, re.Attack, err)
	}
}

func asRefresh(err error, target **RefreshError) bool { return errors.As(err, target) }
