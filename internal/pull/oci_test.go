package pull

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ttsguard/ttsguard/internal/oci"
	"github.com/ttsguard/ttsguard/internal/oci/ocitest"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// ociEnv is a registry, a signing key, and a host's policy that trusts the
// key and allows the registry.
type ociEnv struct {
	reg *ocitest.Registry
	c   *oci.Client
	key *ecdsa.PrivateKey
	pol *policy.Policy
	dir string
}

func newOCIEnv(t *testing.T, referrers bool) *ociEnv {
	return newOCIEnvWith(t, ocitest.Options{Referrers: referrers}, "oci")
}

// newOCIEnvWith is newOCIEnv with a registry started with o and a policy
// whose source for it has scheme ("oci" or "oci+http"). The publisher's
// client logs in with o's user and password.
func newOCIEnvWith(t *testing.T, o ocitest.Options, scheme string) *ociEnv {
	e := &ociEnv{reg: ocitest.NewWith(t, o), dir: t.TempDir()}
	var err error
	if e.c, err = oci.New(oci.Options{TLS: e.reg.TLS, PlainHTTP: o.PlainHTTP, Credentials: auth.StaticCredential(e.reg.Host, auth.Credential{Username: o.User, Password: o.Password})}); err != nil {
		t.Fatal(err)
	}
	k, _ := oms.GenerateKey("p256")
	e.key = k
	pub, _ := oms.MarshalPublicKey(&k.PublicKey)
	pubPath := filepath.Join(e.dir, "team.pub")
	must(t, os.WriteFile(pubPath, pub, 0o644))
	yaml := fmt.Sprintf("version: 1\nstore: %s\nsources:\n  - %s://%s/models/\nsigners:\n  - name: team\n    public_key: %s\nmodels:\n  tiny:\n    signature: required\n",
		filepath.Join(e.dir, "store"), scheme, e.reg.Host, pubPath)
	pp := filepath.Join(e.dir, "ttsguard.yaml")
	must(t, os.WriteFile(pp, []byte(yaml), 0o600))
	if e.pol, err = policy.Load(pp); err != nil {
		t.Fatal(err)
	}
	return e
}

// publish signs files as a model folder and pushes it under tag.
func (e *ociEnv) publish(t *testing.T, tag string, files map[string][]byte, sign bool) *oci.PushResult {
	t.Helper()
	dir := t.TempDir()
	req := oci.PushRequest{Name: "tiny", Bundles: map[string][]byte{}}
	for n, b := range files {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, n)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, n), b, 0o644))
		h := sha256.Sum256(b)
		data := b
		req.Files = append(req.Files, oci.PushFile{Path: n, SHA256: hex.EncodeToString(h[:]), Size: int64(len(b)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(data))), nil }})
	}
	if sign {
		if _, err := oms.Sign(context.Background(), dir, oms.KeySigner{Key: e.key}, oms.ModelOptions{}); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "model.sig"))
		must(t, err)
		req.Bundles[oci.SignatureFile] = b
	}
	ref, err := oci.ParseRef("oci://" + e.reg.Host + "/models/tiny:" + tag)
	must(t, err)
	res, err := e.c.Push(context.Background(), ref, req)
	must(t, err)
	return res
}

func (e *ociEnv) pull(o Options, src string) (*Result, error) {
	o.Policy, o.TLS = e.pol, e.reg.TLS
	if o.Name == "" {
		o.Name = "tiny"
	}
	return Pull(context.Background(), o, []string{src})
}

func (e *ociEnv) src(tag string) string { return "oci://" + e.reg.Host + "/models/tiny:" + tag }

// TestPullOCI: push → pull oci:// round trip with the signature from the
// referrer, the manifest digest pinned in the lock file and reported by
// check; a moved tag is a pin change; a changed blob is refused.
func TestPullOCI(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers-api", false: "referrers-tag"}[api], func(t *testing.T) {
			e := newOCIEnv(t, api)
			pushed := e.publish(t, "v1", exampleFiles, true)
			r, err := e.pull(Options{}, e.src("v1"))
			if err != nil {
				t.Fatalf("pull: %v %+v", err, r)
			}
			if r.OCI == nil || r.OCI.Manifest != pushed.Manifest || r.Pinned != "added" || !strings.Contains(r.Gates[1].Detail, `signer "team"`) {
				t.Fatalf("result: %+v %+v", r.OCI, r.Gates)
			}
			var got []string
			for _, s := range storedFiles(t, r.Dir) {
				got = append(got, s)
			}
			sort.Strings(got)
			if strings.Join(got, ",") != "config.json,model.sig,model_file.pth" {
				t.Errorf("stored files %v", got)
			}
			lockPath, _ := e.pol.LockPath()
			lf, err := store.LoadLock(lockPath)
			must(t, err)
			if pin := lf.Entries["tiny"].OCI; pin == nil || pin.Manifest != pushed.Manifest || pin.Ref != e.src("v1") {
				t.Fatalf("lock pin %+v", pin)
			}
			cr, err := Check(context.Background(), e.pol, "tiny", "")
			if err != nil || cr.OCI == nil || cr.OCI.Manifest != pushed.Manifest || !strings.Contains(cr.Gates[1].Detail, pushed.Manifest) {
				t.Fatalf("check: %v %+v", err, cr)
			}
			// By digest: the same pin.
			if r, err := e.pull(Options{}, "oci://"+e.reg.Host+"/models/tiny@"+pushed.Manifest); err != nil || r.Pinned != "matched" {
				t.Fatalf("pull by digest: %v %+v", err, r)
			}

			// The tag moves to other content: a pin change.
			changed := map[string][]byte{"config.json": exampleFiles["config.json"], "model_file.pth": append([]byte{}, exampleFiles["model_file.pth"]...), "extra.txt": []byte("new")}
			moved := e.publish(t, "v1", changed, true)
			_, err = e.pull(Options{}, e.src("v1"))
			if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "lock update") || !strings.Contains(err.Error(), moved.Manifest) {
				t.Fatalf("moved tag: %v", err)
			}
			r, err = e.pull(Options{Update: true}, e.src("v1"))
			if err != nil || r.Pinned != "updated" || r.OCI.Manifest != moved.Manifest || !strings.Contains(r.Changes, "OCI manifest") {
				t.Fatalf("lock update: %v %+v", err, r)
			}
		})
	}
}

// TestPullOCIRefusals: a changed blob, an unsigned or malicious artifact,
// a registry outside the sources.
func TestPullOCIRefusals(t *testing.T) {
	e := newOCIEnv(t, true)
	e.publish(t, "v1", exampleFiles, true)
	pth := exampleFiles["model_file.pth"]
	h := sha256.Sum256(pth)
	bad := append([]byte{}, pth...)
	bad[len(bad)/2] ^= 0x40
	e.reg.SetBlob("sha256:"+hex.EncodeToString(h[:]), bad)
	_, err := e.pull(Options{}, e.src("v1"))
	if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "model_file.pth") || !strings.Contains(err.Error(), "hash to") {
		t.Fatalf("changed blob: %v", err)
	}
	e.reg.SetBlob("sha256:"+hex.EncodeToString(h[:]), pth)
	if _, err := os.Stat(filepath.Join(e.dir, "ttsguard.lock")); err == nil {
		t.Errorf("a refused pull wrote the lock file")
	}

	// (The same files under another tag are the same manifest, with the
	// same referrers: signed. Other content is not.)
	e.publish(t, "unsigned", map[string][]byte{"config.json": exampleFiles["config.json"], "model_file.pth": pth, "README.md": []byte("x")}, false)
	if _, err := e.pull(Options{}, e.src("unsigned")); !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "requires a signature") {
		t.Fatalf("unsigned: %v", err)
	}
	evil := map[string][]byte{"config.json": exampleFiles["config.json"], "model_file.pth": []byte("cos\nsystem\n(S'id'\ntR.")}
	e.publish(t, "evil", evil, true)
	if r, err := e.pull(Options{}, e.src("evil")); !errors.Is(err, ErrGate) || r == nil || r.Gates[len(r.Gates)-2].Name != "scan" {
		t.Fatalf("evil: %v %+v", err, r)
	}
	if _, err := e.pull(Options{}, "oci://"+e.reg.Host+"/elsewhere/tiny:v1"); !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "not in the policy's sources") {
		t.Fatalf("outside the sources: %v", err)
	}
	if _, err := e.pull(Options{}, e.src("nope")); !errors.Is(err, ErrUsage) {
		t.Fatalf("unknown tag: %v", err)
	}
	e.reg.Close()
	if _, err := e.pull(Options{}, e.src("v1")); err == nil {
		t.Fatal("a pull from a stopped registry succeeded")
	}
}

// TestPullOCIStraySignature: a registry holds, beside the model's valid
// model.sig referrer, one signed with a key the policy does not trust (a
// stale signature, or one someone with push access attached): the pull
// tries each and passes with the valid one, whether the stray one's
// referrer sorts first (it is written into the folder, fails, and the
// valid one is tried next) or last; with no valid one it fails and says how
// many it tried.
func TestPullOCIStraySignature(t *testing.T) {
	for _, strayFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "stray-sorts-first", false: "stray-sorts-last"}[strayFirst], func(t *testing.T) {
			// Bundles are randomized (ECDSA): publish into fresh registries
			// until the referrers sort the way this case needs.
			var e *ociEnv
			for try := 0; ; try++ {
				if try == 40 {
					t.Fatal("no registry with the wanted referrer order in 40 tries")
				}
				e = newOCIEnv(t, true)
				good := e.key
				e.key, _ = oms.GenerateKey("p256")
				stray := e.publish(t, "v1", exampleFiles, true).Referrers[oci.SignatureFile]
				e.key = good
				valid := e.publish(t, "v1", exampleFiles, true).Referrers[oci.SignatureFile]
				if (stray < valid) == strayFirst {
					break
				}
			}
			r, err := e.pull(Options{}, e.src("v1"))
			if err != nil {
				t.Fatalf("a stray signature beside the valid one blocked the pull: %v", err)
			}
			g := gateOf(r, "signature")
			if g == nil || !g.OK || !strings.Contains(g.Detail, `signer "team"`) || strings.Contains(g.Detail, "did not pass") != strayFirst {
				t.Fatalf("signature gate %+v", g)
			}
			// The stored signature is the one that verified.
			if cr, err := Check(context.Background(), e.pol, "tiny", ""); err != nil || !cr.OK {
				t.Fatalf("check of the stored model: %v %+v", err, cr)
			}
		})
	}
	e := newOCIEnv(t, true)
	good := e.key
	for range 2 {
		e.key, _ = oms.GenerateKey("p256")
		e.publish(t, "v1", exampleFiles, true)
	}
	e.key = good
	_, err := e.pull(Options{}, e.src("v1"))
	if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "nor the 1 other model.sig attached") {
		t.Fatalf("two untrusted signatures: %v", err)
	}
}
