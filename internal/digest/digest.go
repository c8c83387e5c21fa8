// Package digest hashes files and byte ranges of files in parallel and names
// the hash algorithms that OpenSSF Model Signing statements use.
//
// Work is split into Tasks (a whole file, or one shard of a file); a bounded
// pool of workers, one per core by default, hashes them. For SHA-256 on CPUs
// with the SHA extensions each worker hashes two tasks at once, interleaved
// (pair.go); one task is still one SHA-256 stream. Every lane reuses one
// buffer, so memory stays bounded by workers × 2 × BufferSize whatever the
// size of the model.
package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/crypto/blake2b"
)

// Hash algorithm names as they appear in OMS statements (predicate.serialization.hash_type).
const (
	SHA256  = "sha256"
	BLAKE2b = "blake2b"
)

// ErrUnsupportedAlgorithm is returned for a hash algorithm this build cannot compute.
var ErrUnsupportedAlgorithm = errors.New("unsupported hash algorithm")

// Digest is a hash value together with the name of the algorithm that made it.
type Digest struct {
	Algorithm string
	Value     []byte
}

// Hex returns the lowercase hexadecimal digest value.
func (d Digest) Hex() string { return hex.EncodeToString(d.Value) }

// String returns "<algorithm>:<hex>", e.g. "sha256:92745110...".
func (d Digest) String() string { return d.Algorithm + ":" + d.Hex() }

// Parse reads "<algorithm>:<hex>".
func Parse(s string) (Digest, error) {
	alg, h, ok := strings.Cut(s, ":")
	if !ok {
		return Digest{}, fmt.Errorf("digest %q: want <algorithm>:<hex>", s)
	}
	v, err := hex.DecodeString(h)
	if err != nil {
		return Digest{}, fmt.Errorf("digest %q: %w", s, err)
	}
	if n, err := Size(alg); err != nil {
		return Digest{}, fmt.Errorf("digest %q: %w", s, err)
	} else if len(v) != n {
		return Digest{}, fmt.Errorf("digest %q: %d bytes, want %d for %s", s, len(v), n, alg)
	}
	return Digest{Algorithm: alg, Value: v}, nil
}

// New returns a fresh hash for the named algorithm.
func New(algorithm string) (hash.Hash, error) {
	switch algorithm {
	case SHA256:
		return sha256.New(), nil
	case BLAKE2b:
		// model_signing's blake2b is Python's hashlib.blake2b(): 64-byte output.
		return blake2b.New512(nil)
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupportedAlgorithm, algorithm)
}

// Size returns the digest length in bytes of the named algorithm.
func Size(algorithm string) (int, error) {
	switch algorithm {
	case SHA256:
		return sha256.Size, nil
	case BLAKE2b:
		return blake2b.Size, nil
	}
	return 0, fmt.Errorf("%w %q", ErrUnsupportedAlgorithm, algorithm)
}

// SHA256Of returns the SHA-256 of the concatenation of parts.
func SHA256Of(parts ...[]byte) Digest {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return Digest{Algorithm: SHA256, Value: h.Sum(nil)}
}
