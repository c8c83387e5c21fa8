package oms

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxBundleSize bounds how much of a signature file is read. Real bundles are
// a few KiB plus one resource line per file or shard.
const MaxBundleSize = 64 << 20

// ErrBundle is wrapped by every error about a malformed signature bundle.
var ErrBundle = errors.New("invalid bundle")

// The bundle as the reference writes it: only known camelCase fields, since
// the reference parser rejects unknown ones.
type wireBundle struct {
	MediaType            string          `json:"mediaType"`
	VerificationMaterial wireMaterial    `json:"verificationMaterial"`
	DSSEEnvelope         *wireEnvelope   `json:"dsseEnvelope,omitempty"`
	MessageSignature     json.RawMessage `json:"messageSignature,omitempty"`
}

type wireMaterial struct {
	PublicKey                 *wirePublicKey    `json:"publicKey,omitempty"`
	X509CertificateChain      *wireChain        `json:"x509CertificateChain,omitempty"`
	Certificate               *wireCert         `json:"certificate,omitempty"`
	TlogEntries               []json.RawMessage `json:"tlogEntries"`
	TimestampVerificationData json.RawMessage   `json:"timestampVerificationData,omitempty"`
}

type wirePublicKey struct {
	Hint       string `json:"hint,omitempty"`
	RawBytes   []byte `json:"rawBytes,omitempty"`
	KeyDetails string `json:"keyDetails,omitempty"`
}

type wireChain struct {
	Certificates []wireCert `json:"certificates"`
}

type wireCert struct {
	RawBytes []byte `json:"rawBytes"`
}

type wireEnvelope struct {
	Payload     []byte          `json:"payload"`
	PayloadType string          `json:"payloadType"`
	Signatures  []wireSignature `json:"signatures"`
}

type wireSignature struct {
	Sig   []byte  `json:"sig"`
	KeyID *string `json:"keyid"`
}

// PAE is DSSE's pre-authentication encoding of payload.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "DSSEv1 %d %s %d ", len(payloadType), payloadType, len(payload))
	b.Write(payload)
	return b.Bytes()
}

func newBundle(payload, sig []byte, m wireMaterial) ([]byte, error) {
	empty := ""
	m.TlogEntries = []json.RawMessage{}
	b := wireBundle{
		MediaType:            BundleMediaType,
		VerificationMaterial: m,
		DSSEEnvelope: &wireEnvelope{
			Payload:     payload,
			PayloadType: PayloadType,
			Signatures:  []wireSignature{{Sig: sig, KeyID: &empty}},
		},
	}
	// Compact, without a trailing newline, as the reference writes it.
	return json.Marshal(b)
}

// ReadBundle reads at most MaxBundleSize bytes of a bundle from r; name is used in errors.
func ReadBundle(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("read signature %q: %w", name, err)
	}
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("%w: %q is larger than %d bytes", ErrBundle, name, MaxBundleSize)
	}
	return data, nil
}

// parsedBundle is what the verifiers need from a bundle after its shape was checked.
type parsedBundle struct {
	raw       wireBundle
	payload   []byte
	signature []byte
	chain     []*x509.Certificate // leaf first, for certificate and keyless bundles
}

// parseBundle checks the shape every OMS bundle must have, naming the first
// problem: media type, one DSSE envelope with the in-toto payload type and
// exactly one signature, and verification material.
func parseBundle(data []byte) (*parsedBundle, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object: %v", ErrBundle, err)
	}
	var b wireBundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBundle, err)
	}
	switch {
	case b.MediaType == "":
		return nil, fmt.Errorf("%w: no mediaType", ErrBundle)
	case b.MediaType != BundleMediaType && b.MediaType != "application/vnd.dev.sigstore.bundle+json;version=0.3":
		return nil, fmt.Errorf("%w: mediaType %q, want %q", ErrBundle, b.MediaType, BundleMediaType)
	case raw["verificationMaterial"] == nil:
		return nil, fmt.Errorf("%w: no verificationMaterial", ErrBundle)
	case b.DSSEEnvelope == nil:
		if b.MessageSignature != nil {
			return nil, fmt.Errorf("%w: a messageSignature bundle signs a blob, not a model: want a dsseEnvelope", ErrBundle)
		}
		return nil, fmt.Errorf("%w: no dsseEnvelope", ErrBundle)
	case b.DSSEEnvelope.PayloadType != PayloadType:
		return nil, fmt.Errorf("%w: payloadType %q, want %q", ErrBundle, b.DSSEEnvelope.PayloadType, PayloadType)
	case len(b.DSSEEnvelope.Signatures) != 1:
		return nil, fmt.Errorf("%w: %d signatures in the envelope, want exactly 1", ErrBundle, len(b.DSSEEnvelope.Signatures))
	case len(b.DSSEEnvelope.Signatures[0].Sig) == 0:
		return nil, fmt.Errorf("%w: empty signature", ErrBundle)
	}
	p := &parsedBundle{raw: b, payload: b.DSSEEnvelope.Payload, signature: b.DSSEEnvelope.Signatures[0].Sig}
	vm := b.VerificationMaterial
	var certs []wireCert
	switch {
	case vm.Certificate != nil:
		certs = []wireCert{*vm.Certificate}
	case vm.X509CertificateChain != nil:
		certs = vm.X509CertificateChain.Certificates
		if len(certs) == 0 {
			return nil, fmt.Errorf("%w: empty x509CertificateChain", ErrBundle)
		}
	case vm.PublicKey == nil:
		return nil, fmt.Errorf("%w: verificationMaterial has no publicKey, certificate or x509CertificateChain", ErrBundle)
	}
	for i, c := range certs {
		cert, err := x509.ParseCertificate(c.RawBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrBundle, i, err)
		}
		p.chain = append(p.chain, cert)
	}
	return p, nil
}

// b64 is a helper for tests and evidence.
