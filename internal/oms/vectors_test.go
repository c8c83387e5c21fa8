package oms

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/testutil"
)

func loadPub(t *testing.T, p string) KeyVerifier {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePublicKey(p, data)
	if err != nil {
		t.Fatal(err)
	}
	return KeyVerifier{Key: k}
}

func loadAnchors(t *testing.T, p string) CertificateVerifier {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseCertificatesPEM(p, data)
	if err != nil {
		t.Fatal(err)
	}
	return CertificateVerifier{Anchors: k}
}

// modelFor returns the model path and signature of a reference vector: the
// key bundles of v0.3.1 and v1.0.0 signed the single file signme-1 (their
// folder has no signme-2); the others the whole folder.
func modelFor(dir string) (model, sig string) {
	sig = filepath.Join(dir, "model.sig")
	if _, err := os.Stat(filepath.Join(dir, "signme-2")); err != nil {
		return filepath.Join(dir, "signme-1"), sig
	}
	return dir, sig
}

func TestReferenceVectors(t *testing.T) {
	vec := testutil.Vectors(t)
	mt := filepath.Join(vec, "model-transparency")
	keys := filepath.Join(mt, "keys", "certificate")
	keyless, err := NewSigstoreVerifier(filepath.Join(vec, "trusted-root-public-good.json"), "stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2")
	if err != nil {
		t.Fatal(err)
	}
	for _, ver := range []string{"v0.2.0", "v0.3.1", "v1.0.0", "v1.0.1", "v1.1.0"} {
		for kind, v := range map[string]SignatureVerifier{
			"elliptic-key": loadPub(t, filepath.Join(keys, "signing-key-pub.pem")),
			"certificate":  loadAnchors(t, filepath.Join(keys, "ca-cert.pem")),
			"sigstore":     keyless,
		} {
			dir := filepath.Join(mt, ver+"-"+kind)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			t.Run(ver+"-"+kind, func(t *testing.T) {
				model, sig := modelFor(dir)
				o := VerifyOptions{ModelOptions: ModelOptions{Signature: sig}}
				if ver == "v1.0.1" || ver == "v1.1.0" {
					o.IgnorePaths = []string{"ignore-me"}
				}
				r, err := Verify(context.Background(), model, v, o)
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if !r.OK || r.Items == 0 {
					t.Fatalf("result %+v", r)
				}
				if ver == "v1.1.0" && kind == "elliptic-key" && r.Root != "sha256:92745110b1ab4368471cbe31664e10174e954b113a3df333db860317b2c6dec4" {
					t.Errorf("root %s", r.Root)
				}
			})
		}
	}
}

func TestReferenceVectorsTampered(t *testing.T) {
	mt := filepath.Join(testutil.Vectors(t), "model-transparency")
	keys := filepath.Join(mt, "keys", "certificate")
	dir := t.TempDir()
	for _, f := range []string{"model.sig", "signme-1", "signme-2", "ignore-me"} {
		data, err := os.ReadFile(filepath.Join(mt, "v1.1.0-elliptic-key", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "signme-2"), []byte("tampered"), 0o644)
	os.WriteFile(filepath.Join(dir, "new-file"), []byte("x"), 0o644)
	r, err := Verify(context.Background(), dir, loadPub(t, filepath.Join(keys, "signing-key-pub.pem")), VerifyOptions{})
	if !errors.Is(err, ErrVerification) || r == nil || r.OK {
		t.Fatalf("err %v result %+v", err, r)
	}
	if strings.Join(r.Changed, ",") != "signme-2" || strings.Join(r.Extra, ",") != "new-file" {
		t.Errorf("changed %q extra %q", r.Changed, r.Extra)
	}
	// Extra files are tolerated with IgnoreUnsignedFiles, changes never.
	r, err = Verify(context.Background(), dir, loadPub(t, filepath.Join(keys, "signing-key-pub.pem")), VerifyOptions{IgnoreUnsignedFiles: true})
	if err == nil || len(r.Extra) != 0 {
		t.Fatalf("err %v extra %q", err, r.Extra)
	}
	os.Remove(filepath.Join(dir, "signme-1"))
	r, _ = Verify(context.Background(), dir, loadPub(t, filepath.Join(keys, "signing-key-pub.pem")), VerifyOptions{})
	if strings.Join(r.Missing, ",") != "signme-1" {
		t.Errorf("missing %q", r.Missing)
	}
}

func TestSpecVectors(t *testing.T) {
	vec := testutil.Vectors(t)
	spec := filepath.Join(vec, "spec-v1.0")
	keys := filepath.Join(vec, "model-transparency", "keys", "certificate")
	keyless, err := NewSigstoreVerifier(filepath.Join(vec, "trusted-root-public-good.json"), "stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2")
	if err != nil {
		t.Fatal(err)
	}
	key := loadPub(t, filepath.Join(keys, "signing-key-pub.pem"))
	verifiers := map[string]SignatureVerifier{
		"key": key, "certificate": loadAnchors(t, filepath.Join(keys, "ca-cert.pem")), "sigstore": keyless,
	}
	for name, v := range verifiers {
		t.Run("valid/"+name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(spec, "valid", name+".bundle.json"))
			if err != nil {
				t.Fatal(err)
			}
			s, _, err := VerifyBundle(raw, v)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Items) != 2 {
				t.Errorf("%d items", len(s.Items))
			}
		})
	}
	invalid := map[string]struct {
		v    SignatureVerifier
		want string
	}{
		"invalid/empty":                         {key, "not a JSON object"},
		"invalid/missing-envelope":              {key, "no dsseEnvelope"},
		"invalid/missing-verification-material": {key, "no verificationMaterial"},
		"invalid/missing-tlog-entries":          {keyless, "transparency log"},
		// Its payload was edited after signing: the signature no longer verifies.
		"invalid-payload/wrong-predicate": {key, "does not verify"},
	}
	for name, c := range invalid {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(spec, name+".bundle.json"))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = VerifyBundle(raw, c.v)
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrVerification mentioning %q", err, c.want)
			}
		})
	}
}
