package oms

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// ErrVerification is wrapped by every "the model is not what was signed"
// outcome: bad signature, untrusted signer, statement mismatch, changed files.
var ErrVerification = errors.New("verification failed")

// SignatureVerifier checks a bundle's signature and trust, returning the
// signed payload and who signed it. Implementations: KeyVerifier,
// CertificateVerifier, SigstoreVerifier.
type SignatureVerifier interface {
	verifySignature(raw []byte, b *parsedBundle) (payload []byte, who *Signer, err error)
}

// VerifyOptions add verification-only choices to ModelOptions.
type VerifyOptions struct {
	ModelOptions
	IgnoreUnsignedFiles bool // tolerate local files the signature does not list
	// Known are whole-file SHA-256 digests that the caller itself computed
	// moments ago from the files its walk saw (a pull's staging, a stored
	// model's integrity check: manifest.Pair). For a files-mode SHA-256
	// statement, a listed file is not hashed again when Verify's own walk
	// finds the very same file: same name, size, device, inode,
	// modification and change time, and neither a symbolic link. Never pass
	// digests read from somewhere else: they are trusted as if computed here.
	Known []manifest.Hashed
}

// VerifyBundle checks a bundle's signature and statement without a model
// (for bundles that travel alone, such as the OMS spec vectors).
func VerifyBundle(raw []byte, v SignatureVerifier) (*Signed, *Signer, error) {
	payload, who, err := VerifyPayload(raw, v)
	if err != nil {
		return nil, nil, err
	}
	s, err := ParseStatement(payload)
	if err != nil {
		return nil, who, fmt.Errorf("%w: %w", ErrVerification, err)
	}
	return s, who, nil
}

// VerifyPayload checks a bundle's shape, signature and signer and returns
// the signed payload (an in-toto statement of any predicate, unparsed).
// Errors wrap ErrVerification.
func VerifyPayload(raw []byte, v SignatureVerifier) ([]byte, *Signer, error) {
	b, err := parseBundle(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrVerification, err)
	}
	payload, who, err := v.verifySignature(raw, b)
	if err != nil {
		return nil, who, fmt.Errorf("%w: %w", ErrVerification, err)
	}
	return payload, who, nil
}

// Verify checks the signature of model: the bundle's signature and signer,
// its statement, and that the local files are exactly the signed ones. A
// failed check returns a Result with OK false and an error wrapping
// ErrVerification; an error without a Result means the check could not be made.
func Verify(ctx context.Context, model string, v SignatureVerifier, o VerifyOptions) (*Result, error) {
	t0 := time.Now()
	sigPath, git, ignore, err := o.resolveParts(model)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(sigPath)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	raw, err := ReadBundle(sigPath, f)
	f.Close()
	r := &Result{Operation: "verify", Model: model, Signature: sigPath}
	fail := func(err error) (*Result, error) {
		r.Failure = err.Error()
		r.ElapsedMS = float64(time.Since(t0).Microseconds()) / 1000
		return r, err
	}
	if errors.Is(err, ErrBundle) {
		return fail(fmt.Errorf("%w: %w", ErrVerification, err))
	} else if err != nil {
		return nil, err
	}
	signed, who, err := VerifyBundle(raw, v)
	r.Signer = who
	if err != nil {
		return fail(fmt.Errorf("%q: %w", sigPath, err))
	}
	r.Legacy = signed.Legacy
	if !signed.Legacy {
		r.Root = signed.Root.String()
	}
	mo := signed.Options
	mo.Workers = o.Workers
	// Leave out: the default git paths that the signer left out too, the
	// caller's, the signature, the provenance bundle (unless signed: a
	// model that has a file of that name of its own), and what the signer
	// left out.
	ignore = append(ignore, gitPathsLeftOut(git, signed)...)
	if slices.ContainsFunc(signed.Items, func(it manifest.Item) bool { return it.File == ProvenanceFile }) {
		ignore = slices.DeleteFunc(ignore, func(p string) bool { return p == ProvenanceFile })
	}
	mo.IgnorePaths = slices.Compact(slices.Sorted(slices.Values(append(ignore, signed.Options.IgnorePaths...))))
	r.Serialization = infoOf(signed.Options)
	files, err := manifest.Walk(model, manifest.WalkOptions{AllowSymlinks: mo.AllowSymlinks, IgnorePaths: mo.IgnorePaths})
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrVerification, err))
	}
	// Files the signature does not name are extra; they need no hashing.
	want := map[string]bool{}
	for _, it := range signed.Items {
		want[it.File] = true
	}
	var listed []manifest.File
	var extra []string
	for _, fl := range files {
		switch {
		case want[fl.Name]:
			listed = append(listed, fl)
		case mo.Method == manifest.MethodShards && fl.Size == 0:
			// An empty file has no shards, so a shards-mode signature cannot
			// list it: like the reference, it is not an extra file. Say so.
			r.Warnings = append(r.Warnings, fmt.Sprintf("empty file %q is not covered by a shards-mode signature", fl.Name))
		default:
			extra = append(extra, fl.Name)
		}
	}
	m, err := hashReusing(ctx, listed, mo, o.Known)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", ErrVerification, err))
	}
	r.fill(m, time.Since(t0))
	d := manifest.Compare(signed.Items, m.Items)
	r.Missing, r.Changed = d.Missing, d.Changed
	if !o.IgnoreUnsignedFiles {
		slices.Sort(extra)
		r.Extra = extra
	}
	if n := len(r.Missing) + len(r.Extra) + len(r.Changed); n > 0 {
		return fail(fmt.Errorf("%w: %q does not match its signature: %d missing, %d extra, %d changed", ErrVerification, model, len(r.Missing), len(r.Extra), len(r.Changed)))
	}
	r.OK = true
	return r, nil
}

// gitPathsLeftOut returns the default git paths (git; none with
// NoIgnoreGitPaths) that verification leaves out for a statement: none when
// the statement records its ignore paths (the record then says which ones the
// signer left out, and they are left out as signed ignore paths), and never
// one under which the statement lists a signed file (a model signed with the
// reference's --no-ignore-git-paths).
func gitPathsLeftOut(git []string, signed *Signed) []string {
	if signed.IgnoreRecorded {
		return nil
	}
	return slices.DeleteFunc(slices.Clone(git), func(p string) bool {
		return slices.ContainsFunc(signed.Items, func(it manifest.Item) bool {
			return it.File == p || strings.HasPrefix(it.File, p+"/")
		})
	})
}

// hashReusing hashes the listed files per mo, taking the digest of a file
// from known instead when the statement is files-mode SHA-256 and known
// holds the very same file (VerifyOptions.Known).
func hashReusing(ctx context.Context, listed []manifest.File, mo manifest.Options, known []manifest.Hashed) (*manifest.Manifest, error) {
	if len(known) == 0 || mo.Method != manifest.MethodFiles || mo.HashType != digest.SHA256 {
		return manifest.Hash(ctx, listed, mo)
	}
	byName := make(map[string]manifest.Hashed, len(known))
	for _, h := range known {
		if len(h.Digest) == 32 && !h.File.Link && h.File.ID != (manifest.FileID{}) {
			byName[h.File.Name] = h
		}
	}
	var reused []manifest.Item
	var rest []manifest.File
	var bytes int64
	for _, f := range listed {
		if h, ok := byName[f.Name]; ok && !f.Link && h.File.Size == f.Size && h.File.ID == f.ID {
			reused = append(reused, manifest.Item{Name: f.Name, File: f.Name, End: f.Size, Digest: h.Digest})
			bytes += f.Size
			continue
		}
		rest = append(rest, f)
	}
	m, err := manifest.Hash(ctx, rest, mo)
	if err != nil {
		return nil, err
	}
	m.Items = append(m.Items, reused...)
	manifest.Sort(m.Items)
	m.Files += len(reused)
	m.Bytes += bytes
	return m, nil
}
