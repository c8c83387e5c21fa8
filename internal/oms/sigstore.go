package oms

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// publicGoodRoot is the Sigstore public-good instance's trusted_root.json as
// distributed through its TUF repository (copied 2026-11; see docs/formats.md).
// It is used when no --trust-root is given; verification never goes online.
//
//go:embed trustroot/public-good.json
var publicGoodRoot []byte

// SigstoreVerifier accepts keyless bundles whose Fulcio certificate names
// Identity (SAN) and Issuer (OIDC provider), with a Rekor entry and SCT that
// verify offline against the trusted root.
type SigstoreVerifier struct {
	Identity, Issuer string
	root             root.TrustedMaterial
	rootName         string
}

// NewSigstoreVerifier loads a trusted root (a trusted_root.json file; "" for
// the embedded public-good root) and the identity policy.
func NewSigstoreVerifier(trustRoot, identity, issuer string) (*SigstoreVerifier, error) {
	if identity == "" || issuer == "" {
		return nil, fmt.Errorf("%w: keyless verification needs an identity and an identity provider", ErrKey)
	}
	v := &SigstoreVerifier{Identity: identity, Issuer: issuer, rootName: trustRoot}
	var err error
	if trustRoot == "" {
		v.rootName = "embedded public-good root"
		v.root, err = root.NewTrustedRootFromJSON(publicGoodRoot)
	} else {
		v.root, err = root.NewTrustedRootFromPath(trustRoot)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: trusted root %q: %v", ErrKey, v.rootName, err)
	}
	return v, nil
}

func (s *SigstoreVerifier) verifySignature(raw []byte, p *parsedBundle) ([]byte, *Signer, error) {
	who := &Signer{Method: "sigstore", Identity: s.Identity, OIDC: s.Issuer}
	if len(p.chain) == 0 {
		return nil, who, fmt.Errorf("%w: the bundle carries no certificate (it is signed with a key): use verify key", ErrSignature)
	}
	who.NotAfter = p.chain[0].NotAfter.UTC().Format(time.RFC3339)
	b, err := sigstoreBundle(raw)
	if err != nil {
		return nil, who, err
	}
	v, err := verify.NewVerifier(s.root,
		verify.WithSignedCertificateTimestamps(1), // the Fulcio certificate's SCT
		verify.WithTransparencyLog(1),             // a Rekor entry, inclusion checked offline
		verify.WithObserverTimestamps(1),          // signing time inside the certificate's validity
	)
	if err != nil {
		return nil, who, err
	}
	id, err := verify.NewShortCertificateIdentity(s.Issuer, "", s.Identity, "")
	if err != nil {
		return nil, who, fmt.Errorf("%w: %v", ErrKey, err)
	}
	res, err := v.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithCertificateIdentity(id)))
	if err != nil {
		return nil, who, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if res.Signature != nil && res.Signature.Certificate != nil {
		who.Subject = res.Signature.Certificate.SubjectAlternativeName
		who.Issuer = res.Signature.Certificate.Issuer
	}
	return p.payload, who, nil
}
