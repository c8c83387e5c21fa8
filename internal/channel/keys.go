// Package channel keeps and follows TUF update channels (over go-tuf v2): a
// publisher signs which version of each model is current (Init, Publish,
// Timestamp, RotateRoot write a static repository folder); a host refreshes
// its trusted view with the TUF client workflow (Refresh) and moves a
// model's pin to the channel's current version (Update).
//
// Repository layout (consistent snapshots, servable by any static HTTPS
// server): N.root.json for every root version and root.json (the newest),
// timestamp.json, N.snapshot.json, N.targets.json, and one target file per
// published model version, targets/models/NAME/HASH.VERSION.json (the
// Descriptor, canonical JSON). docs/fleet.md describes the workflow.
package channel

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// ErrKey is wrapped by errors about a key file.
var ErrKey = errors.New("unusable channel key")

// maxKeyFile caps a key file.
const maxKeyFile = 64 << 10

// Signer is a private key that signs channel metadata.
type Signer struct {
	File string
	signature.Signer
	Key *metadata.Key // its TUF public key
	ID  string        // its TUF key id
}

// LoadSigner reads an unencrypted private key: ECDSA P-256 (what `ttsguard
// keygen` writes) or Ed25519, PKCS#8 or SEC 1 PEM.
func LoadSigner(path string) (*Signer, error) {
	k, err := readKey(path)
	if err != nil {
		return nil, err
	}
	var s signature.Signer
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		s, err = signature.LoadECDSASignerVerifier(k, crypto.SHA256)
	case ed25519.PrivateKey:
		s, err = signature.LoadED25519SignerVerifier(k)
	default:
		return nil, fmt.Errorf("%w: %q is a public key: signing needs the private key", ErrKey, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrKey, path, err)
	}
	pub, err := s.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrKey, path, err)
	}
	tk, id, err := tufKey(path, pub)
	if err != nil {
		return nil, err
	}
	return &Signer{File: path, Signer: s, Key: tk, ID: id}, nil
}

// LoadPublicKey reads the public half of a key file (a public or a private
// key PEM) as a TUF key.
func LoadPublicKey(path string) (*metadata.Key, string, error) {
	k, err := readKey(path)
	if err != nil {
		return nil, "", err
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return tufKey(path, &k.PublicKey)
	case ed25519.PrivateKey:
		return tufKey(path, k.Public())
	}
	return tufKey(path, k)
}

func tufKey(path string, pub crypto.PublicKey) (*metadata.Key, string, error) {
	tk, err := metadata.KeyFromPublicKey(pub)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q: %v", ErrKey, path, err)
	}
	id, err := tk.ID()
	if err != nil {
		return nil, "", fmt.Errorf("%w: %q: %v", ErrKey, path, err)
	}
	return tk, id, nil
}

// readKey parses one PEM key: private (PKCS#8, SEC 1) or public (PKIX).
func readKey(path string) (any, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxKeyFile {
		return nil, fmt.Errorf("%w: %q is not a regular file of at most %d bytes", ErrKey, path, maxKeyFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%w: %q: no PEM block", ErrKey, path)
	}
	var k any
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("%w: %q is encrypted: channel keys are read unencrypted (keep them offline)", ErrKey, path)
	default:
		return nil, fmt.Errorf("%w: %q: PEM type %q is not a key", ErrKey, path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrKey, path, err)
	}
	var curve elliptic.Curve
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		curve = k.Curve
	case *ecdsa.PublicKey:
		curve = k.Curve
	case ed25519.PrivateKey, ed25519.PublicKey:
		return k, nil
	default:
		return nil, fmt.Errorf("%w: %q: %T: want an ECDSA P-256 or Ed25519 key", ErrKey, path, k)
	}
	if curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: %q: ECDSA %s: TUF's ecdsa-sha2-nistp256 scheme needs P-256 (keygen --curve p256)", ErrKey, path, curve.Params().Name)
	}
	return k, nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
