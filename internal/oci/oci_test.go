package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ttsguard/ttsguard/internal/oci/ocitest"
)

// testRegistry is an in-process registry with a client for it.
type testRegistry struct {
	*ocitest.Registry
	c *Client
}

func newTestRegistry(t *testing.T, referrers bool) *testRegistry {
	t.Helper()
	reg := ocitest.New(t, referrers)
	c, err := New(Options{TLS: reg.TLS, Credentials: auth.StaticCredential("", auth.EmptyCredential)})
	if err != nil {
		t.Fatal(err)
	}
	return &testRegistry{Registry: reg, c: c}
}

func (r *testRegistry) ref(t *testing.T, s string) Ref {
	t.Helper()
	ref, err := ParseRef("oci://" + r.Host + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func file(p string, data []byte) PushFile {
	return PushFile{Path: p, SHA256: sum(data), Size: int64(len(data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

var model = map[string][]byte{
	"config.json":          []byte(`{"model": "vits"}`),
	"model_file.pth":       bytes.Repeat([]byte("weights "), 5000),
	"speakers/speaker.pth": []byte("speaker ids"),
}

func pushModel(t *testing.T, r *testRegistry, tag string, bundles map[string][]byte) *PushResult {
	t.Helper()
	req := PushRequest{Name: "tiny", Version: "abc", Format: "pytorch", Bundles: bundles}
	for p, d := range model {
		req.Files = append(req.Files, file(p, d))
	}
	res, err := r.c.Push(context.Background(), r.ref(t, "models/tiny:"+tag), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPushFetchRoundTrip: a pushed model comes back file for file with its
// bundles, from registries with and without the referrers API.
func TestPushFetchRoundTrip(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers-api", false: "referrers-tag"}[api], func(t *testing.T) {
			r := newTestRegistry(t, api)
			bundles := map[string][]byte{SignatureFile: []byte(`{"sig": 1}`), ProvenanceFile: []byte(`{"prov": 1}`)}
			res := pushModel(t, r, "v1", bundles)
			if res.Layers != 3 || res.Uploaded != 3 || len(res.Referrers) != 2 {
				t.Fatalf("push: %+v", res)
			}
			again := pushModel(t, r, "v1", bundles)
			if again.Manifest != res.Manifest || again.Uploaded != 0 {
				t.Errorf("a second push of the same model: %+v (first %+v)", again, res)
			}
			d, err := r.c.Resolve(context.Background(), r.ref(t, "models/tiny:v1"))
			if err != nil || d != res.Manifest {
				t.Fatalf("resolve: %q %v, pushed %s", d, err, res.Manifest)
			}
			dir := t.TempDir()
			got, err := r.c.Fetch(context.Background(), r.ref(t, "models/tiny:v1"), d, dir, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			for p, want := range model {
				b, err := os.ReadFile(filepath.Join(dir, p))
				if err != nil || !bytes.Equal(b, want) {
					t.Errorf("%s: %v (%d bytes)", p, err, len(b))
				}
			}
			for f, want := range bundles {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil || !bytes.Equal(b, want) {
					t.Errorf("%s: %v %q", f, err, b)
				}
			}
			if len(got.Files) != 3 || len(got.Bundles) != 2 || got.Bytes != int64(len(model["config.json"])+len(model["model_file.pth"])+len(model["speakers/speaker.pth"])) {
				t.Errorf("fetched %s", got)
			}
		})
	}
}

// TestFetchChangedBlob: a blob changed in the registry's storage is refused,
// naming the file.
func TestFetchChangedBlob(t *testing.T) {
	r := newTestRegistry(t, true)
	res := pushModel(t, r, "v1", nil)
	d := model["model_file.pth"]
	bad := append([]byte{}, d...)
	bad[100] ^= 1
	r.SetBlob("sha256:"+sum(d), bad)
	_, err := r.c.Fetch(context.Background(), r.ref(t, "models/tiny:v1"), res.Manifest, t.TempDir(), 1<<30)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "model_file.pth") {
		t.Fatalf("a changed blob: %v", err)
	}
	r.SetBlob("sha256:"+sum(d), d[:len(d)-1])
	_, err = r.c.Fetch(context.Background(), r.ref(t, "models/tiny:v1"), res.Manifest, t.TempDir(), 1<<30)
	if err == nil || !strings.Contains(err.Error(), "model_file.pth") {
		t.Fatalf("a shortened blob: %v", err)
	}
	// A file larger than the caller allows is refused before any download.
	r.SetBlob("sha256:"+sum(d), d)
	_, err = r.c.Fetch(context.Background(), r.ref(t, "models/tiny:v1"), res.Manifest, t.TempDir(), 100)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("a file over the limit: %v", err)
	}
}

// TestFetchWrongManifest: a manifest whose bytes are not the pinned digest
// (a registry answering with other content) is refused.
func TestFetchWrongManifest(t *testing.T) {
	r := newTestRegistry(t, true)
	pushModel(t, r, "v1", nil)
	other := "sha256:" + strings.Repeat("ab", 32)
	_, err := r.c.Fetch(context.Background(), r.ref(t, "models/tiny:v1"), other, t.TempDir(), 1<<30)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown manifest: %v", err)
	}
	if _, err := r.c.Resolve(context.Background(), r.ref(t, "models/tiny:nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown tag: %v", err)
	}
}

// TestTwoSignatures: when referrers carry different model.sig bundles, one
// is written into the folder and the others come back as alternates (the
// pull's signature gate tries them); more than MaxAlternates is refused.
func TestTwoSignatures(t *testing.T) {
	r := newTestRegistry(t, true)
	pushModel(t, r, "v1", map[string][]byte{SignatureFile: []byte(`{"sig": 1}`)})
	res := pushModel(t, r, "v1", map[string][]byte{SignatureFile: []byte(`{"sig": 2}`)})
	pushModel(t, r, "v1", map[string][]byte{SignatureFile: []byte(`{"sig": 2}`)}) // the same bundle again: not an alternate
	dir := t.TempDir()
	got, err := r.c.Fetch(context.Background(), r.ref(t, "models/tiny:v1"), res.Manifest, dir, 1<<30)
	if err != nil {
		t.Fatalf("two signatures: %v", err)
	}
	written, err := os.ReadFile(filepath.Join(dir, SignatureFile))
	if err != nil {
		t.Fatal(err)
	}
	alts := got.Alternates[SignatureFile]
	if len(alts) != 1 || bytes.Equal(alts[0].Data, written) || !strings.HasPrefix(alts[0].Referrer, "sha256:") {
		t.Fatalf("alternates %+v beside %s", alts, written)
	}
	if both := string(written) + string(alts[0].Data); !strings.Contains(both, `"sig": 1`) || !strings.Contains(both, `"sig": 2`) {
		t.Fatalf("the two bundles: %s", both)
	}
	for i := 3; i <= MaxAlternates+2; i++ {
		pushModel(t, r, "v1", map[string][]byte{SignatureFile: []byte(fmt.Sprintf(`{"sig": %d}`, i))})
	}
	_, err = r.c.Fetch(context.Background(), r.ref(t, "models/tiny:v1"), res.Manifest, t.TempDir(), 1<<30)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "different model.sig") {
		t.Fatalf("%d different signatures: %v", MaxAlternates+2, err)
	}
}

func TestParseRef(t *testing.T) {
	good := map[string]Ref{
		"oci://reg.example:5000/a/b:v1":                         {Host: "reg.example:5000", Repository: "a/b", Tag: "v1"},
		"oci://REG.example/a@sha256:" + strings.Repeat("0", 64): {Host: "reg.example", Repository: "a", Digest: "sha256:" + strings.Repeat("0", 64)},
	}
	for s, want := range good {
		got, err := ParseRef(s)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", s, got, err)
		}
		if err == nil && got.String() != strings.Replace(s, "REG", "reg", 1) {
			t.Errorf("%s: String %s", s, got.String())
		}
	}
	for _, s := range []string{
		"oci://reg.example/a", // no tag
		"oci://reg.example/a:v1@sha256:" + strings.Repeat("0", 64),
		"oci://reg.example/a@sha512:" + strings.Repeat("0", 128),
		"oci://user@reg.example/a:v1",
		"oci://reg.example/A:v1",
		"oci://reg.example/a:v1?x",
		"oci://reg.example",
		"https://reg.example/a:v1",
		"oci://reg.example:99999/a:v1",
	} {
		if r, err := ParseRef(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: accepted as %+v", s, r)
		}
	}
}

// TestManifestReviewFindings: the attack review's manifests: keys that
// differ only in case (encoding/json would take the last, other readers the
// exact one), git paths (stored but never signed), and signature names in
// another case.
func TestManifestReviewFindings(t *testing.T) {
	layer := func(p string) string {
		return `{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"annotations":{"org.cncf.model.filepath":"` + p + `"}}`
	}
	head := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.cncf.model.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},`
	if _, _, err := ParseModelManifest([]byte(head+`"layers":[`+layer("model.pth")+`]}`), 1<<20); err != nil {
		t.Fatalf("the good manifest: %v", err)
	}
	for name, m := range map[string]string{
		"LAYERS beside layers": head + `"layers":[` + layer("model.pth") + `],"LAYERS":[` + layer("evil.pth") + `]}`,
		"Digest beside digest": head + `"layers":[{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","Digest":"sha256:` + strings.Repeat("0", 64) + `","size":2,"annotations":{"org.cncf.model.filepath":"m.pth"}}]}`,
		".git/config":          head + `"layers":[` + layer(".git/config") + `]}`,
		".gitattributes":       head + `"layers":[` + layer(".GITATTRIBUTES") + `]}`,
		"Model.sig":            head + `"layers":[` + layer("Model.sig") + `]}`,
	} {
		if _, _, err := ParseModelManifest([]byte(m), 1<<20); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
}

// TestPlainRedirectToRemote: a plain-HTTP loopback registry cannot send the
// client to a plain-HTTP host elsewhere.
func TestPlainRedirectToRemote(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://evil-remote.invalid/steal", http.StatusTemporaryRedirect))
	t.Cleanup(srv.Close)
	c, err := New(Options{PlainHTTP: true, Credentials: auth.StaticCredential("", auth.EmptyCredential)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ParseRef("oci://" + strings.TrimPrefix(srv.URL, "http://") + "/m/x:v1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(context.Background(), ref)
	if err == nil || !strings.Contains(err.Error(), "plain HTTP is for a loopback registry only") {
		t.Fatalf("redirect to a remote plain-HTTP host: %v", err)
	}
}
