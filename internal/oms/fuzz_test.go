package oms

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/testutil"
)

// seedBundles adds every bundle of the shared vectors to the corpus.
func seedBundles(f *testing.F) {
	vec := testutil.Vectors(f)
	for _, pattern := range []string{"model-transparency/*/model.sig", "spec-v1.0/*/*.bundle.json"} {
		paths, _ := filepath.Glob(filepath.Join(vec, pattern))
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
}

// FuzzParseStatement: never panics; whatever parses is self-consistent
// (root digest over the items, valid options) and survives a re-encode.
func FuzzParseStatement(f *testing.F) {
	base := filepath.Join(testutil.Vectors(f), "model-transparency", "goldens", "_signing", "testdata", "signing", "TestPayload")
	paths, _ := filepath.Glob(filepath.Join(base, "*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStatement(data)
		if err != nil {
			if !errors.Is(err, ErrStatement) {
				t.Fatalf("error not wrapping ErrStatement: %v", err)
			}
			return
		}
		if s.Legacy {
			return
		}
		if got := manifest.RootOf(s.Items); !bytes.Equal(got.Value, s.Root.Value) {
			t.Fatal("accepted a statement whose root does not match its items")
		}
		o := s.Options
		if err := o.Validate(); err != nil {
			t.Fatalf("accepted invalid options: %v", err)
		}
		m := &manifest.Manifest{Options: o, Items: s.Items}
		out, err := NewStatement(s.Name, m).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ParseStatement(out)
		if err != nil {
			t.Fatalf("re-encoded statement does not parse: %v\n%s", err, out)
		}
		if !bytes.Equal(s2.Root.Value, s.Root.Value) || len(s2.Items) != len(s.Items) {
			t.Fatal("round trip changed the statement")
		}
	})
}

// FuzzParseBundle: bundle parsing (ours and the normalisation for
// sigstore-go) never panics and fails only with ErrBundle.
func FuzzParseBundle(f *testing.F) {
	seedBundles(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := parseBundle(data); err != nil && !errors.Is(err, ErrBundle) {
			t.Fatalf("error not wrapping ErrBundle: %v", err)
		}
		if _, err := sigstoreBundle(data); err != nil && !errors.Is(err, ErrBundle) {
			t.Fatalf("sigstoreBundle error not wrapping ErrBundle: %v", err)
		}
		if json.Valid(data) {
			clearKeyIDs(data)
		}
	})
}

// FuzzVerifyBundle: the whole signature path with every verifier never
// panics, and nothing but the genuine key bundle's payload is accepted by
// the key verifier: any accepted input must carry a signature that verifies.
func FuzzVerifyBundle(f *testing.F) {
	seedBundles(f)
	vec := testutil.Vectors(f)
	keys := filepath.Join(vec, "model-transparency", "keys", "certificate")
	pubPEM, err := os.ReadFile(filepath.Join(keys, "signing-key-pub.pem"))
	if err != nil {
		f.Fatal(err)
	}
	pub, err := ParsePublicKey("pub", pubPEM)
	if err != nil {
		f.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(keys, "ca-cert.pem"))
	anchors, err := ParseCertificatesPEM("ca", caPEM)
	if err != nil {
		f.Fatal(err)
	}
	keyless, err := NewSigstoreVerifier(filepath.Join(vec, "trusted-root-public-good.json"), "stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2")
	if err != nil {
		f.Fatal(err)
	}
	verifiers := []SignatureVerifier{KeyVerifier{Key: pub}, CertificateVerifier{Anchors: anchors}, keyless}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range verifiers {
			s, _, err := VerifyBundle(data, v)
			if err != nil {
				if !errors.Is(err, ErrVerification) {
					t.Fatalf("error not wrapping ErrVerification: %v", err)
				}
				continue
			}
			if kv, ok := v.(KeyVerifier); ok {
				p, perr := parseBundle(data)
				if perr != nil || !signedBy(kv.Key, p) {
					t.Fatalf("key verifier accepted a bundle whose signature does not verify (%d items)", len(s.Items))
				}
			}
		}
	})
}

func signedBy(k *ecdsa.PublicKey, p *parsedBundle) bool {
	h, _ := hashFor(k)
	return verifyDSSE(k, p) == nil || verifyECDSA(k, h, paeCompat(p.payload), p.signature) == nil
}
