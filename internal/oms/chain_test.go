package oms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

// testCA is a self-signed root, an intermediate and a leaf.
type testCA struct {
	root, inter, leaf *x509.Certificate
}

func newCert(t *testing.T, tmpl, parent *x509.Certificate, pub any, priv any) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// leafSpec says what the leaf (and the intermediate's EKU) of a test CA looks like.
type leafSpec struct {
	nb, na   time.Time
	ku       x509.KeyUsage
	eku      []x509.ExtKeyUsage
	interEKU []x509.ExtKeyUsage // extended key usages of the intermediate (none by default)
}

var codeSigning = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}

func makeCA(t *testing.T, leafKey *ecdsa.PrivateKey, l leafSpec) testCA {
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caT := func(n int64, cn string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	var ca testCA
	ca.root = newCert(t, caT(1, "test root"), caT(1, "test root"), &rk.PublicKey, rk)
	it := caT(2, "test intermediate")
	it.ExtKeyUsage = l.interEKU
	ca.inter = newCert(t, it, ca.root, &ik.PublicKey, rk)
	ca.leaf = newCert(t, &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "model signer"},
		NotBefore: l.nb, NotAfter: l.na, KeyUsage: l.ku, ExtKeyUsage: l.eku}, ca.inter, &leafKey.PublicKey, ik)
	return ca
}

// selfSignedLeaf is a self-signed signing certificate such as the OMS
// conformance suite's: CA:TRUE, key usage digitalSignature only (it may not
// sign certificates), code signing.
func selfSignedLeaf(t *testing.T, k *ecdsa.PrivateKey) *x509.Certificate {
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "self-signed signer"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: codeSigning}
	return newCert(t, tmpl, tmpl, &k.PublicKey, k)
}

// TestCertificateChains signs with a leaf and verifies with anchors: the
// code-signing EKU rule (issue 9 item 10), a self-signed leaf as its own
// anchor (item 16a), and a bundle with the leaf alone verified with the root
// and the intermediate as anchors (item 16b).
func TestCertificateChains(t *testing.T) {
	k, _ := GenerateKey("p384")
	now := time.Now()
	valid := leafSpec{nb: now.Add(-time.Hour), na: now.Add(time.Hour), ku: x509.KeyUsageDigitalSignature, eku: codeSigning}
	with := func(f func(*leafSpec)) leafSpec { l := valid; f(&l); return l }
	root := func(c testCA) []*x509.Certificate { return []*x509.Certificate{c.root} }
	bundleInter := func(c testCA) []*x509.Certificate { return []*x509.Certificate{c.inter} }
	cases := []struct {
		name      string
		leaf      leafSpec
		chain     func(testCA) []*x509.Certificate // what the bundle carries besides the leaf
		anchors   func(testCA) []*x509.Certificate
		anyEKU    bool
		wantError string
	}{
		{"code signing", valid, bundleInter, root, false, ""},
		// Like the reference: the chain is checked at the leaf's notBefore, so an expired leaf verifies.
		{"expired leaf", with(func(l *leafSpec) {
			l.nb, l.na = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
		}), bundleInter, root, false, ""},
		{"codeSigning without digitalSignature", with(func(l *leafSpec) { l.ku = x509.KeyUsageKeyEncipherment }), bundleInter, root, false, ""},
		{"no signing usage at all", with(func(l *leafSpec) {
			l.ku, l.eku = x509.KeyUsageKeyEncipherment, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}), bundleInter, root, true, "may not sign"},
		// Item 10: a TLS server certificate of the same CA is no model signer...
		{"TLS server certificate", with(func(l *leafSpec) { l.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), bundleInter, root, false, "lacks the code-signing extended key usage (id-kp-codeSigning; it lists serverAuth)"},
		// ... unless the verifier opts out, as the reference accepts it.
		{"TLS server certificate, any EKU allowed", with(func(l *leafSpec) { l.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), bundleInter, root, true, ""},
		{"no EKU extension", with(func(l *leafSpec) { l.eku = nil }), bundleInter, root, false, "lacks the code-signing extended key usage (id-kp-codeSigning; it lists none)"},
		{"no EKU extension, any EKU allowed", with(func(l *leafSpec) { l.eku = nil }), bundleInter, root, true, ""},
		{"anyExtendedKeyUsage only", with(func(l *leafSpec) { l.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }), bundleInter, root, false, "lacks the code-signing"},
		{"intermediate restricted to TLS", with(func(l *leafSpec) { l.interEKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), bundleInter, root, false, "restricts its extended key usages"},
		{"intermediate allows code signing", with(func(l *leafSpec) {
			l.interEKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageCodeSigning}
		}), bundleInter, root, false, ""},
		{"anchor is the intermediate", valid, bundleInter, bundleInter, false, "not a self-signed root"},
		// Item 16b: the bundle has the leaf alone; root and intermediate are both anchors (in either order).
		{"leaf alone, root and intermediate anchors", valid, nil, func(c testCA) []*x509.Certificate { return []*x509.Certificate{c.root, c.inter} }, false, ""},
		{"leaf alone, intermediate and root anchors", valid, nil, func(c testCA) []*x509.Certificate { return []*x509.Certificate{c.inter, c.root} }, false, ""},
		{"leaf alone, root anchor only", valid, nil, root, false, "does not chain"},
		{"leaf alone, intermediate anchor only", valid, nil, bundleInter, false, "not a self-signed root"},
		{"other root", valid, bundleInter, func(testCA) []*x509.Certificate { return []*x509.Certificate{makeCA(t, k, valid).root} }, false, "does not chain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ca := makeCA(t, k, c.leaf)
			var chain []*x509.Certificate
			if c.chain != nil {
				chain = c.chain(ca)
			}
			m := writeModel(t, tricky)
			if _, err := Sign(context.Background(), m, CertificateSigner{Key: k, Leaf: ca.leaf, Chain: chain}, ModelOptions{}); err != nil {
				t.Fatal(err)
			}
			r, err := Verify(context.Background(), m, CertificateVerifier{Anchors: c.anchors(ca), AnyExtKeyUsageUnsafe: c.anyEKU}, VerifyOptions{})
			if c.wantError == "" {
				if err != nil || !r.OK || r.Signer.Subject != "CN=model signer" {
					t.Fatalf("%v %+v", err, r)
				}
				if expired := c.leaf.na.Before(now); expired != (len(r.Signer.Warnings) == 1) {
					t.Errorf("warnings %q", r.Signer.Warnings)
				}
				return
			}
			if !errors.Is(err, ErrVerification) || !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), c.wantError) {
				t.Fatalf("err = %v, want %q", err, c.wantError)
			}
		})
	}
}

// TestSelfSignedLeafAnchor: item 16a. A self-signed leaf that may not sign
// certificates (key usage digitalSignature only) is its own trust anchor, as
// in OpenSSL and so in the reference; the bundle may carry it once or twice
// (the conformance suite passes it as the chain too).
func TestSelfSignedLeafAnchor(t *testing.T) {
	k, _ := GenerateKey("p256")
	leaf := selfSignedLeaf(t, k)
	other := selfSignedLeaf(t, k) // same key and name, another certificate
	cases := []struct {
		name      string
		chain     []*x509.Certificate
		anchors   []*x509.Certificate
		wantError string
	}{
		{"leaf alone", nil, []*x509.Certificate{leaf}, ""},
		{"leaf twice", []*x509.Certificate{leaf}, []*x509.Certificate{leaf}, ""},
		{"leaf among anchors", nil, []*x509.Certificate{makeCA(t, k, leafSpec{}).root, leaf}, ""},
		{"another self-signed certificate", nil, []*x509.Certificate{other}, "does not chain"},
		{"not an anchor", []*x509.Certificate{leaf}, []*x509.Certificate{makeCA(t, k, leafSpec{}).root}, "does not chain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := writeModel(t, tricky)
			if _, err := Sign(context.Background(), m, CertificateSigner{Key: k, Leaf: leaf, Chain: c.chain}, ModelOptions{}); err != nil {
				t.Fatal(err)
			}
			r, err := Verify(context.Background(), m, CertificateVerifier{Anchors: c.anchors}, VerifyOptions{})
			if c.wantError == "" {
				if err != nil || !r.OK || r.Signer.Subject != "CN=self-signed signer" {
					t.Fatalf("%v %+v", err, r)
				}
				return
			}
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), c.wantError) {
				t.Fatalf("err = %v, want %q", err, c.wantError)
			}
		})
	}
}

func TestCertificateChecks(t *testing.T) {
	k, _ := GenerateKey("p384")
	now := time.Now()
	t.Run("authority key id mismatch", func(t *testing.T) {
		m := writeModel(t, tricky)
		rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		rootT := func() *x509.Certificate {
			return &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "r"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
				IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, SubjectKeyId: []byte{1, 2, 3}}
		}
		root := newCert(t, rootT(), rootT(), &rk.PublicKey, rk)
		// Go copies the parent's subject key id into the AKI; hide it to write a wrong one.
		parent := *root
		parent.SubjectKeyId = nil
		leaf := newCert(t, &x509.Certificate{SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "l"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: codeSigning, AuthorityKeyId: []byte{9, 9, 9}}, &parent, &k.PublicKey, rk)
		if _, err := Sign(context.Background(), m, CertificateSigner{Key: k, Leaf: leaf}, ModelOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(context.Background(), m, CertificateVerifier{Anchors: []*x509.Certificate{root}}, VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "authority key identifier") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("key does not match certificate", func(t *testing.T) {
		other, _ := GenerateKey("p384")
		ca := makeCA(t, other, leafSpec{nb: now, na: now.Add(time.Hour), ku: x509.KeyUsageDigitalSignature, eku: codeSigning})
		if _, err := Sign(context.Background(), writeModel(t, tricky), CertificateSigner{Key: k, Leaf: ca.leaf}, ModelOptions{}); !errors.Is(err, ErrKey) {
			t.Fatalf("err = %v", err)
		}
	})
}
