package oms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/youmark/pkcs8"
)

// ErrKey is wrapped by errors about key material (unreadable, wrong type, wrong curve).
var ErrKey = errors.New("bad key")

// Curves keygen can make, by name.
var Curves = map[string]elliptic.Curve{"p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521()}

// hashFor returns the hash OMS pairs with an ECDSA curve (P-256/SHA-256,
// P-384/SHA-384, P-521/SHA-512).
func hashFor(pub *ecdsa.PublicKey) (crypto.Hash, error) {
	switch pub.Curve {
	case elliptic.P256():
		return crypto.SHA256, nil
	case elliptic.P384():
		return crypto.SHA384, nil
	case elliptic.P521():
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("%w: unsupported curve %s", ErrKey, pub.Curve.Params().Name)
}

// GenerateKey makes an ECDSA key on the named curve.
func GenerateKey(curve string) (*ecdsa.PrivateKey, error) {
	c, ok := Curves[curve]
	if !ok {
		return nil, fmt.Errorf("%w: unknown curve %q (want p256, p384 or p521)", ErrKey, curve)
	}
	return ecdsa.GenerateKey(c, rand.Reader)
}

// MarshalPrivateKey encodes a key as PKCS#8 PEM, encrypted (PBES2, scrypt,
// AES-256-CBC) when password is not empty, which the reference's
// cryptography-based loader reads.
func MarshalPrivateKey(k *ecdsa.PrivateKey, password []byte) ([]byte, error) {
	if len(password) == 0 {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	der, err := pkcs8.MarshalPrivateKey(k, password, &pkcs8.Opts{
		Cipher:  pkcs8.AES256CBC,
		KDFOpts: pkcs8.PBKDF2Opts{SaltSize: 16, IterationCount: 600000, HMACHash: crypto.SHA256},
	})
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey encodes a public key as PKIX ("PUBLIC KEY") PEM.
func MarshalPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKey reads an ECDSA private key from PEM: PKCS#8 (plain or
// encrypted) or SEC 1 ("EC PRIVATE KEY"). name is used in errors.
func ParsePrivateKey(name string, data, password []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%w: %q: no PEM block", ErrKey, name)
	}
	var (
		k   any
		err error
	)
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		if len(password) == 0 {
			return nil, fmt.Errorf("%w: %q is encrypted: give --password-file", ErrKey, name)
		}
		k, err = pkcs8.ParsePKCS8PrivateKey(b.Bytes, password)
	default:
		return nil, fmt.Errorf("%w: %q: PEM type %q is not a private key", ErrKey, name, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrKey, name, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: %q: %T is not an ECDSA key", ErrKey, name, k)
	}
	if _, err := hashFor(&ek.PublicKey); err != nil {
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	return ek, nil
}

// ParsePublicKey reads an ECDSA public key from PKIX PEM (or takes the key of
// a PEM certificate).
func ParsePublicKey(name string, data []byte) (*ecdsa.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%w: %q: no PEM block", ErrKey, name)
	}
	var k any
	var err error
	switch b.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(b.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(b.Bytes); err == nil {
			k = c.PublicKey
		}
	default:
		return nil, fmt.Errorf("%w: %q: PEM type %q is not a public key", ErrKey, name, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrKey, name, err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %q: %T is not an ECDSA key", ErrKey, name, k)
	}
	if _, err := hashFor(ek); err != nil {
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	return ek, nil
}

// KeyHint is the reference's publicKey.hint: lowercase hex SHA-256 of the
// public key's PKIX PEM encoding (header lines and trailing newline included).
func KeyHint(pub *ecdsa.PublicKey) (string, error) {
	p, err := MarshalPublicKey(pub)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(p)
	return hex.EncodeToString(s[:]), nil
}

// ParseCertificatesPEM reads every CERTIFICATE block of PEM data (at least one).
func ParseCertificatesPEM(name string, data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %q: %v", ErrKey, name, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q: no PEM CERTIFICATE block", ErrKey, name)
	}
	return out, nil
}
