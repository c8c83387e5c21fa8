package oms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

// ErrSignature is wrapped by errors about a signature that does not verify
// or a signer that is not trusted.
var ErrSignature = errors.New("signature check failed")

// sigstoreBundle loads a bundle for sigstore-go, after the normalisation that
// valid model_signing bundles need (docs/formats.md):
//   - v0.3.1..v1.0.x key bundles carry publicKey {rawBytes, keyDetails}, which
//     the protobuf schema does not have: both are dropped (the key comes from
//     the verifier, never from the bundle);
//   - certificate bundles carry an x509CertificateChain in a v0.3 bundle,
//     accepted with bundle.AllowCertificateChain().
func sigstoreBundle(raw []byte) (*bundle.Bundle, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	var vm map[string]json.RawMessage
	if err := json.Unmarshal(m["verificationMaterial"], &vm); err == nil && vm["publicKey"] != nil {
		var pk map[string]json.RawMessage
		if err := json.Unmarshal(vm["publicKey"], &pk); err == nil && (pk["rawBytes"] != nil || pk["keyDetails"] != nil) {
			delete(pk, "rawBytes")
			delete(pk, "keyDetails")
			vm["publicKey"], _ = json.Marshal(pk)
			m["verificationMaterial"], _ = json.Marshal(vm)
			raw, _ = json.Marshal(m)
		}
	}
	raw = clearKeyIDs(raw)
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(raw, &pb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	b, err := bundle.NewBundle(&pb, bundle.AllowCertificateChain())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	return b, nil
}

// KeyVerifier accepts bundles signed by one ECDSA public key.
type KeyVerifier struct{ Key *ecdsa.PublicKey }

func (k KeyVerifier) verifySignature(raw []byte, p *parsedBundle) ([]byte, *Signer, error) {
	hint, err := KeyHint(k.Key)
	if err != nil {
		return nil, nil, err
	}
	who := &Signer{Method: "key", KeyHint: hint, Curve: k.Key.Curve.Params().Name}
	pk := p.raw.VerificationMaterial.PublicKey
	if pk == nil {
		return nil, who, fmt.Errorf("%w: the bundle is not signed with a key (it carries a certificate): use verify certificate or verify sigstore", ErrSignature)
	}
	if pk.Hint != "" && pk.Hint != hint {
		return nil, who, fmt.Errorf("%w: key mismatch: the bundle names key %s, the given public key is %s", ErrSignature, pk.Hint, hint)
	}
	b, err := sigstoreBundle(raw)
	if err != nil {
		return nil, who, err
	}
	sv, err := signature.LoadDefaultVerifier(k.Key)
	if err != nil {
		return nil, who, fmt.Errorf("%w: %v", ErrKey, err)
	}
	key := root.NewExpiringKey(sv, time.Time{}, time.Time{})
	tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
	v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
	if err != nil {
		return nil, who, err
	}
	if _, err := v.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithKey())); err != nil {
		// model_signing v0.2 signed a different encoding (see paeCompat), with the curve's hash.
		h, _ := hashFor(k.Key)
		if verifyECDSA(k.Key, h, paeCompat(p.payload), p.signature) == nil {
			return p.payload, who, nil
		}
		return nil, who, fmt.Errorf("%w: the envelope signature does not verify with the given key: %v", ErrSignature, err)
	}
	return p.payload, who, nil
}

// CertificateVerifier accepts bundles whose leaf certificate chains, through
// the intermediates in the bundle and the anchors, to a self-signed one of
// Anchors.
//
// sigstore-go cannot do this check for model_signing's certificates: it
// requires a Subject Alternative Name (Fulcio's identity) that private-CA
// leaves need not have. The chain is therefore verified with crypto/x509 and
// the DSSE signature with the leaf's key.
//
// The chain is built as OpenSSL (and so the reference) builds it: an anchor
// that is not self-signed (an intermediate given as trusted) also serves as
// an intermediate on the way to a self-signed anchor, and a self-signed leaf
// that is itself an anchor is trusted as it is, whatever its key usage says
// about signing certificates (docs/formats.md).
//
// Unlike the reference, the leaf must carry the code-signing extended key
// usage (id-kp-codeSigning), and no issuing certificate may restrict its
// extended key usages to ones without code signing: a TLS server certificate
// from the same CA does not sign models. AnyExtKeyUsageUnsafe turns this off
// for interoperability with signers whose certificates lack it; the leaf then
// needs the digitalSignature key usage or the codeSigning extended key usage,
// as the reference requires.
type CertificateVerifier struct {
	Anchors []*x509.Certificate
	// Time is the instant the chain must be valid at; zero means the leaf's notBefore.
	Time time.Time
	// AnyExtKeyUsageUnsafe accepts a leaf without the code-signing extended
	// key usage (a TLS server certificate, for one), as model_signing does.
	AnyExtKeyUsageUnsafe bool
}

func (c CertificateVerifier) verifySignature(_ []byte, p *parsedBundle) ([]byte, *Signer, error) {
	if len(p.chain) == 0 || p.raw.VerificationMaterial.X509CertificateChain == nil {
		return nil, nil, fmt.Errorf("%w: the bundle carries no x509CertificateChain: use verify key for key bundles, verify sigstore for keyless ones", ErrSignature)
	}
	leaf := p.chain[0]
	who := &Signer{Method: "certificate", Subject: leaf.Subject.String(), Issuer: leaf.Issuer.String(), NotAfter: leaf.NotAfter.UTC().Format(time.RFC3339)}
	if len(c.Anchors) == 0 {
		return nil, who, fmt.Errorf("%w: no trust anchor given", ErrKey)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range c.Anchors {
		roots.AddCert(a)
		if !selfSigned(a) {
			// Also a way up to a self-signed anchor: the bundle may carry the leaf alone.
			inter.AddCert(a)
		}
	}
	for _, ic := range p.chain[1:] {
		inter.AddCert(ic)
	}
	// Like the reference, the chain is checked at the leaf's notBefore: a
	// signature made while the certificate was valid stays valid (docs/formats.md).
	at := c.Time
	if at.IsZero() {
		at = leaf.NotBefore
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return nil, who, fmt.Errorf("%w: certificate %q does not chain to a trusted anchor: %v", ErrSignature, leaf.Subject.String(), err)
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		who.Warnings = append(who.Warnings, fmt.Sprintf("leaf certificate expired on %s; accepted because the chain is checked at the leaf's notBefore, as model_signing does", leaf.NotAfter.UTC().Format(time.RFC3339)))
	}
	chains = slices.DeleteFunc(chains, keyIDsMismatch)
	if len(chains) == 0 {
		return nil, who, fmt.Errorf("%w: certificate %q: an authority key identifier does not match its issuer's subject key identifier", ErrSignature, leaf.Subject.String())
	}
	chains = slices.DeleteFunc(chains, func(ch []*x509.Certificate) bool { return !selfSigned(ch[len(ch)-1]) })
	if len(chains) == 0 {
		return nil, who, fmt.Errorf("%w: certificate %q chains only to an anchor that is not a self-signed root: give the root CA", ErrSignature, leaf.Subject.String())
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) {
		return nil, who, fmt.Errorf("%w: certificate %q may not sign: it has neither the digitalSignature key usage nor the codeSigning extended key usage", ErrSignature, leaf.Subject.String())
	}
	if !c.AnyExtKeyUsageUnsafe {
		if err := codeSigningChain(leaf, chains); err != nil {
			return nil, who, err
		}
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, who, fmt.Errorf("%w: leaf certificate key is %T, want ECDSA", ErrSignature, leaf.PublicKey)
	}
	if err := verifyDSSE(pub, p); err != nil {
		// model_signing v0.2's encoding, always hashed with SHA-256 (see paeCompat).
		if verifyECDSA(pub, crypto.SHA256, paeCompat(p.payload), p.signature) == nil {
			return p.payload, who, nil
		}
		return nil, who, err
	}
	return p.payload, who, nil
}

// codeSigningChain requires the code-signing extended key usage on the leaf
// (listed explicitly: no extension, or anyExtendedKeyUsage alone, is not
// enough) and, on one of the trusted chains, no issuer whose extended key
// usages exclude code signing.
func codeSigningChain(leaf *x509.Certificate, chains [][]*x509.Certificate) error {
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) {
		return fmt.Errorf("%w: certificate %q lacks the code-signing extended key usage (id-kp-codeSigning; it lists %s): it is not meant to sign code or models (verify certificate --allow-any-eku, or allow_any_eku in a policy's signer, accepts it, as model_signing does)",
			ErrSignature, leaf.Subject.String(), ekuNames(leaf))
	}
	for _, ch := range chains {
		if !slices.ContainsFunc(ch[1:], func(c *x509.Certificate) bool { return !allowsCodeSigning(c) }) {
			return nil
		}
	}
	return fmt.Errorf("%w: certificate %q: an issuing certificate restricts its extended key usages to ones without code signing", ErrSignature, leaf.Subject.String())
}

// allowsCodeSigning reports whether an issuer's extended key usages (if it
// has any) allow code signing.
func allowsCodeSigning(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

// ekuNames lists a certificate's extended key usages for an error message.
func ekuNames(c *x509.Certificate) string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny: "anyExtendedKeyUsage", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
		x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection", x509.ExtKeyUsageTimeStamping: "timeStamping",
		x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
	}
	var out []string
	for _, u := range c.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("usage %d", u))
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// keyIDsMismatch reports a chain in which a certificate names, by its
// authority key identifier, another key than its issuer's subject key
// identifier. OpenSSL (and so the reference) refuses such chains; Go's chain
// builder only uses the identifiers as hints.
func keyIDsMismatch(chain []*x509.Certificate) bool {
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		if len(c.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(c.AuthorityKeyId, issuer.SubjectKeyId) {
			return true
		}
	}
	return false
}

// selfSigned reports a certificate whose issuer is its subject and whose
// signature verifies with its own key. Unlike CheckSignatureFrom it does not
// ask the certificate to be a CA allowed to sign certificates: as in OpenSSL,
// a trust anchor's own signature is what makes it self-signed, and a
// self-signed leaf may be its own anchor.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// verifyDSSE checks the envelope's one signature over the DSSE PAE, hashed
// as OMS pairs hashes with curves.
func verifyDSSE(pub *ecdsa.PublicKey, p *parsedBundle) error {
	h, err := hashFor(pub)
	if err != nil {
		return err
	}
	return verifyECDSA(pub, h, PAE(PayloadType, p.payload), p.signature)
}

func verifyECDSA(pub *ecdsa.PublicKey, h crypto.Hash, msg, sig []byte) error {
	hh := h.New()
	hh.Write(msg)
	if !ecdsa.VerifyASN1(pub, hh.Sum(nil), sig) {
		return fmt.Errorf("%w: the envelope signature does not verify with the signer's key", ErrSignature)
	}
	return nil
}

// paeCompat is the encoding model_signing v0.2 signed by mistake, which the
// reference still accepts as a fallback: "DSSEV1" (capital V), the payload
// type and the payload length as in DSSE, then the payload written as
// Python's repr() of a bytes object (b'...').
func paeCompat(payload []byte) []byte {
	out := fmt.Appendf(nil, "DSSEV1 %d %s %d ", len(PayloadType), PayloadType, len(payload))
	return append(out, pyBytesRepr(payload)...)
}

// pyBytesRepr reproduces CPython's bytes.__repr__.
func pyBytesRepr(b []byte) []byte {
	quote := byte('\'')
	if bytes.IndexByte(b, '\'') >= 0 && bytes.IndexByte(b, '"') < 0 {
		quote = '"'
	}
	out := []byte{'b', quote}
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			out = append(out, '\\', c)
		case c == '\t':
			out = append(out, '\\', 't')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c < 0x20 || c >= 0x7f:
			out = fmt.Appendf(out, "\\x%02x", c)
		default:
			out = append(out, c)
		}
	}
	return append(out, quote)
}

// clearKeyIDs blanks the DSSE signatures' keyid hints, which the reference
// ignores but sigstore-go would try to match against the trusted key.
func clearKeyIDs(raw []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m["dsseEnvelope"] == nil {
		return raw
	}
	var env map[string]json.RawMessage
	if json.Unmarshal(m["dsseEnvelope"], &env) != nil {
		return raw
	}
	var sigs []map[string]json.RawMessage
	if json.Unmarshal(env["signatures"], &sigs) != nil {
		return raw
	}
	changed := false
	for _, s := range sigs {
		if k, ok := s["keyid"]; ok && string(k) != `""` && string(k) != "null" {
			s["keyid"] = json.RawMessage(`""`)
			changed = true
		}
	}
	if !changed {
		return raw
	}
	env["signatures"], _ = json.Marshal(sigs)
	m["dsseEnvelope"], _ = json.Marshal(env)
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}
