package oms

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// ModelOptions say which files of a model are signed or verified and how.
type ModelOptions struct {
	Signature     string   // signature file; "" means the default (DefaultSignaturePath)
	IgnorePaths   []string // relative to the model root, or absolute inside it
	Method        string   // files (default) or shards
	ShardSize     int64
	AllowSymlinks bool
	Workers       int
	// NoIgnoreGitPaths hashes the top-level git files (.git/, .github/,
	// .gitattributes, .gitignore) that are otherwise always left out, as the
	// reference's --no-ignore-git-paths does. On verification it matters
	// only for statements that do not record their ignore paths (v1.0.x and
	// older): a recorded list says itself whether the git files were signed.
	NoIgnoreGitPaths bool
}

// ProvenanceFile is the training provenance bundle (ttsguard train) at the
// top of a model folder: signed separately and, like model.sig, never
// hashed into the model.
const ProvenanceFile = "provenance.sig"

// ErrEmptyModel is returned when a model has nothing to sign: OMS v1.0 §6.1
// says a model contains at least one file.
var ErrEmptyModel = errors.New("nothing to sign")

// DefaultSignaturePath is MODEL/model.sig for a folder and FILE.sig for a single file.
func DefaultSignaturePath(model string) string {
	if st, err := os.Stat(model); err == nil && !st.IsDir() {
		return model + ".sig"
	}
	return filepath.Join(model, "model.sig")
}

// resolve returns the signature path and the ignore entries that always
// apply to the model: the default git paths (unless NoIgnoreGitPaths), the
// caller's, and the signature if inside it.
func (o ModelOptions) resolve(model string) (sig string, ignore []string, err error) {
	sig, git, rest, err := o.resolveParts(model)
	if err != nil {
		return "", nil, err
	}
	ignore = append(git, rest...)
	slices.Sort(ignore)
	return sig, slices.Compact(ignore), nil
}

// resolveParts is resolve with the default git paths (git) apart from the
// caller's paths and the signature (rest); both are nil for a single file.
func (o ModelOptions) resolveParts(model string) (sig string, git, rest []string, err error) {
	sig = o.Signature
	if sig == "" {
		sig = DefaultSignaturePath(model)
	}
	st, err := os.Stat(model)
	if err != nil {
		return "", nil, nil, fmt.Errorf("model %q: %w", model, err)
	}
	if !st.IsDir() {
		return sig, nil, nil, nil
	}
	if !o.NoIgnoreGitPaths {
		git = slices.Clone(manifest.DefaultIgnorePaths)
	}
	for _, p := range o.IgnorePaths {
		n, err := manifest.NormalizeIgnorePath(model, p)
		if err != nil {
			return "", nil, nil, err
		}
		rest = append(rest, n)
	}
	if n, err := manifest.NormalizeIgnorePath(model, absOrRel(sig)); err == nil {
		rest = append(rest, n)
	}
	// The training provenance bundle sits next to model.sig and, like it,
	// is never part of the model.
	if _, err := os.Lstat(filepath.Join(model, ProvenanceFile)); err == nil && !slices.Contains(rest, ProvenanceFile) {
		rest = append(rest, ProvenanceFile)
	}
	return sig, git, rest, nil
}

// absOrRel makes a signature path comparable with the model root: relative
// signature paths are relative to the working directory, not to the model.
func absOrRel(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// KeySigner signs with an ECDSA private key; the bundle carries the key's hint.
type KeySigner struct{ Key *ecdsa.PrivateKey }

// CertificateSigner signs with a private key whose certificate (and the chain
// up to, not necessarily including, the root) goes into the bundle.
type CertificateSigner struct {
	Key   *ecdsa.PrivateKey
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
}

// SignerMaterial is what a signer contributes to the bundle and the evidence.
type SignerMaterial interface {
	private() *ecdsa.PrivateKey
	material() (wireMaterial, *Signer, error)
}

func (s KeySigner) private() *ecdsa.PrivateKey { return s.Key }
func (s KeySigner) material() (wireMaterial, *Signer, error) {
	hint, err := KeyHint(&s.Key.PublicKey)
	if err != nil {
		return wireMaterial{}, nil, err
	}
	return wireMaterial{PublicKey: &wirePublicKey{Hint: hint}}, &Signer{Method: "key", KeyHint: hint, Curve: s.Key.Curve.Params().Name}, nil
}

func (s CertificateSigner) private() *ecdsa.PrivateKey { return s.Key }
func (s CertificateSigner) material() (wireMaterial, *Signer, error) {
	if pub, ok := s.Leaf.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&s.Key.PublicKey) {
		return wireMaterial{}, nil, fmt.Errorf("%w: the signing certificate's public key does not match the private key", ErrKey)
	}
	chain := &wireChain{Certificates: []wireCert{{RawBytes: s.Leaf.Raw}}}
	for _, c := range s.Chain {
		chain.Certificates = append(chain.Certificates, wireCert{RawBytes: c.Raw})
	}
	return wireMaterial{X509CertificateChain: chain}, &Signer{
		Method: "certificate", Subject: s.Leaf.Subject.String(), Issuer: s.Leaf.Issuer.String(),
		NotAfter: s.Leaf.NotAfter.UTC().Format(time.RFC3339),
	}, nil
}

// Sign hashes the model, signs the statement and writes the bundle
// atomically to the signature path.
func Sign(ctx context.Context, model string, s SignerMaterial, o ModelOptions) (*Result, error) {
	t0 := time.Now()
	sigPath, ignore, err := o.resolve(model)
	if err != nil {
		return nil, err
	}
	mo := manifest.Options{Method: o.Method, ShardSize: o.ShardSize, HashType: digest.SHA256, AllowSymlinks: o.AllowSymlinks, IgnorePaths: ignore, Workers: o.Workers}
	m, err := manifest.Build(ctx, model, mo)
	if err != nil {
		return nil, err
	}
	if err := nonEmpty(model, m); err != nil {
		return nil, err
	}
	payload, err := NewStatement(filepath.Base(filepath.Clean(model)), m).Marshal()
	if err != nil {
		return nil, err
	}
	bundle, signer, err := SignPayload(payload, s)
	if err != nil {
		return nil, err
	}
	if err := WriteFileAtomic(sigPath, bundle, 0o644); err != nil {
		return nil, err
	}
	r := &Result{Operation: "sign", Model: model, Signature: sigPath, OK: true, Signer: signer, Root: m.Root().String(), Serialization: infoOf(m.Options)}
	r.fill(m, time.Since(t0))
	return r, nil
}

// SignPayload signs an in-toto statement (payload type PayloadType) into a
// Sigstore bundle as Sign does a model's statement: DSSE over the payload,
// the signer's key hint or certificate chain as verification material.
func SignPayload(payload []byte, s SignerMaterial) ([]byte, *Signer, error) {
	vm, signer, err := s.material()
	if err != nil {
		return nil, nil, err
	}
	key := s.private()
	h, err := hashFor(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	hh := h.New()
	hh.Write(PAE(PayloadType, payload))
	sig, err := ecdsa.SignASN1(rand.Reader, key, hh.Sum(nil))
	if err != nil {
		return nil, nil, fmt.Errorf("sign: %w", err)
	}
	bundle, err := newBundle(payload, sig, vm)
	if err != nil {
		return nil, nil, err
	}
	return bundle, signer, nil
}

// nonEmpty refuses a manifest without items: a model with no file left after
// the ignore paths, or, in shards mode, only empty files (which have no shards).
func nonEmpty(model string, m *manifest.Manifest) error {
	switch {
	case len(m.Items) > 0:
		return nil
	case m.Files == 0:
		return fmt.Errorf("model %q: %w: no file left after the ignore paths (a model has at least one file)", model, ErrEmptyModel)
	}
	return fmt.Errorf("model %q: %w: its %d files are all empty, and shards mode lists no empty file (sign in files mode)", model, ErrEmptyModel, m.Files)
}

// Digest computes the root digest of a model as Sign would, without signing.
func Digest(ctx context.Context, model string, o ModelOptions) (*Result, error) {
	t0 := time.Now()
	_, ignore, err := o.resolve(model)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Build(ctx, model, manifest.Options{Method: o.Method, ShardSize: o.ShardSize, HashType: digest.SHA256, AllowSymlinks: o.AllowSymlinks, IgnorePaths: ignore, Workers: o.Workers})
	if err != nil {
		return nil, err
	}
	r := &Result{Operation: "digest", Model: model, OK: true, Root: m.Root().String(), Serialization: infoOf(m.Options)}
	r.fill(m, time.Since(t0))
	return r, nil
}

// ListFiles lists the files of a model as Digest hashes them (the same walk,
// ignore paths and link rules) with the manifest options Digest uses, so a
// caller can hash some of them and build the root from the pieces
// (manifest.RootOf over the sorted items).
func ListFiles(model string, o ModelOptions) ([]manifest.File, manifest.Options, error) {
	_, ignore, err := o.resolve(model)
	if err != nil {
		return nil, manifest.Options{}, err
	}
	mo := manifest.Options{Method: o.Method, ShardSize: o.ShardSize, HashType: digest.SHA256, AllowSymlinks: o.AllowSymlinks, IgnorePaths: ignore, Workers: o.Workers}
	if err := mo.Validate(); err != nil {
		return nil, mo, err
	}
	files, err := manifest.Walk(model, manifest.WalkOptions{AllowSymlinks: mo.AllowSymlinks, IgnorePaths: mo.IgnorePaths})
	return files, mo, err
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it into place, so a reader sees the old file or the new one, never part.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
