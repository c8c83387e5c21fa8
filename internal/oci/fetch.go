package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/ttsguard/ttsguard/internal/fetch"
)

// maxReferrers bounds the bundle referrers read for one model.
const maxReferrers = 256

// Resolve returns the digest of the manifest ref names (its tag resolved
// now, once; a digest as given).
func (c *Client) Resolve(ctx context.Context, ref Ref) (string, error) {
	if ref.Digest != "" {
		return ref.Digest, nil
	}
	repo, err := c.repository(ref)
	if err != nil {
		return "", err
	}
	d, err := repo.Resolve(ctx, ref.Tag)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return "", fmt.Errorf("%w: %s: no such tag", ErrNotFound, ref)
		}
		return "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	if d.MediaType != "" && d.MediaType != ocispec.MediaTypeImageManifest {
		return "", fmt.Errorf("%w: %s is a %q, not an OCI image manifest", ErrInvalid, ref, d.MediaType)
	}
	if err := d.Digest.Validate(); err != nil || d.Digest.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("%w: %s: the registry gave digest %q", ErrInvalid, ref, d.Digest)
	}
	return d.Digest.String(), nil
}

// ErrNotFound: the registry has no such tag or manifest.
var ErrNotFound = errors.New("not found in the registry")

// Fetched is a model fetched from a registry.
type Fetched struct {
	Manifest string            // the manifest's digest
	Files    []ModelFile       // in manifest order
	Bytes    int64             // of the files
	Bundles  map[string]string // file -> referrer manifest digest
	// Alternates are the other bundles attached for a file, when referrers
	// carry different ones (a model signed again with a new key, or a
	// bundle someone with push access added): the caller's gate tries each
	// in turn when the one written into the folder fails. At most
	// MaxAlternates a file, in the referrers' digest order.
	Alternates map[string][]Alternate
}

// Alternate is one more bundle attached for a file.
type Alternate struct {
	Referrer string // its referrer manifest's digest
	Data     []byte
}

// MaxAlternates bounds the different bundles kept for one file.
const MaxAlternates = 8

// Fetch downloads the model whose manifest has digest manifest (in ref's
// repository) into dir, which must be an empty folder: each layer to its
// file path, checked against its descriptor's size and digest as it streams,
// and the Sigstore bundles attached as referrers to model.sig and
// provenance.sig. maxFile bounds one file. What is written is left for the
// caller to discard on error.
func (c *Client) Fetch(ctx context.Context, ref Ref, manifest string, dir string, maxFile int64) (*Fetched, error) {
	repo, err := c.repository(ref)
	if err != nil {
		return nil, err
	}
	want, err := digest.Parse(manifest)
	if err != nil || want.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("%w: manifest digest %q", ErrInvalid, manifest)
	}
	mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: want}
	data, err := fetchManifest(ctx, repo, ref, want)
	if err != nil {
		return nil, err
	}
	mdesc.Size = int64(len(data))
	_, files, err := ParseModelManifest(data, maxFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref.At(manifest), err)
	}
	sizes := make([]int64, len(files))
	for i, f := range files {
		sizes[i] = f.Desc.Size
	}
	if err := fetch.CheckSpace(dir, ref.At(manifest).String(), sizes); err != nil {
		return nil, err
	}
	out := &Fetched{Manifest: manifest, Files: files, Bundles: map[string]string{}}
	for _, f := range files {
		if err := fetchBlob(ctx, repo, f.Desc, filepath.Join(dir, filepath.FromSlash(f.Path)), "file "+f.Path); err != nil {
			return nil, fmt.Errorf("%s: %w", ref.At(manifest), err)
		}
		out.Bytes += f.Desc.Size
	}
	if err := c.fetchBundles(ctx, repo, ref.At(manifest), mdesc, dir, out); err != nil {
		return nil, err
	}
	return out, nil
}

// manifestFetcher is what Fetch needs of a repository.
type manifestFetcher interface {
	FetchReference(ctx context.Context, reference string) (ocispec.Descriptor, io.ReadCloser, error)
	Fetch(ctx context.Context, target ocispec.Descriptor) (io.ReadCloser, error)
	Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func(referrers []ocispec.Descriptor) error) error
}

// fetchManifest reads the manifest with digest want, bounded, and checks
// that its bytes hash to want.
func fetchManifest(ctx context.Context, repo manifestFetcher, ref Ref, want digest.Digest) ([]byte, error) {
	_, rc, err := repo.FetchReference(ctx, want.String())
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, ref.At(want.String()))
		}
		return nil, fmt.Errorf("fetch %s: %w", ref.At(want.String()), err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", ref.At(want.String()), err)
	}
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("%w: %s: manifest larger than %d bytes", ErrInvalid, ref.At(want.String()), MaxManifestBytes)
	}
	if got := digest.FromBytes(data); got != want {
		return nil, fmt.Errorf("%w: %s: the manifest the registry sent hashes to %s", ErrMismatch, ref.At(want.String()), got)
	}
	return data, nil
}

// fetchBlob streams the blob desc into a new file at dst (creating its
// folders), checking size and digest as it goes.
func fetchBlob(ctx context.Context, repo manifestFetcher, desc ocispec.Descriptor, dst, what string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	if err := copyBlob(ctx, repo, desc, f, what); err != nil {
		return err
	}
	return f.Close()
}

// copyBlob streams the blob desc into w, checking size and digest.
func copyBlob(ctx context.Context, repo manifestFetcher, desc ocispec.Descriptor, w io.Writer, what string) error {
	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return fmt.Errorf("%w: %s: blob %s", ErrNotFound, what, desc.Digest)
		}
		return fmt.Errorf("%s: blob %s: %w", what, desc.Digest, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(rc, desc.Size+1))
	if err != nil {
		return fmt.Errorf("%s: blob %s: %w", what, desc.Digest, err)
	}
	if n != desc.Size {
		return fmt.Errorf("%w: %s: blob %s: %d bytes received, the manifest says %d", ErrMismatch, what, desc.Digest, n, desc.Size)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != desc.Digest.String() {
		return fmt.Errorf("%w: %s: blob %s: the bytes received hash to %s", ErrMismatch, what, desc.Digest, got)
	}
	return nil
}

// fetchBundles writes the Sigstore bundles attached to mdesc into dir.
func (c *Client) fetchBundles(ctx context.Context, repo manifestFetcher, ref Ref, mdesc ocispec.Descriptor, dir string, out *Fetched) error {
	var refs []ocispec.Descriptor
	// Every referrer is listed and its own manifest decides: registries
	// differ in what they report as a referrer's artifactType (the
	// manifest's, or its config's media type under the older draft).
	err := repo.Referrers(ctx, mdesc, "", func(page []ocispec.Descriptor) error {
		refs = append(refs, page...)
		if len(refs) > maxReferrers {
			return fmt.Errorf("%w: more than %d signature referrers", ErrInvalid, maxReferrers)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: listing referrers: %w", ref, err)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Digest < refs[j].Digest })
	chosen := map[string][]string{} // file -> the different blobs attached
	for _, rd := range refs {
		if rd.MediaType != ocispec.MediaTypeImageManifest || rd.ArtifactType != "" && rd.ArtifactType != MediaTypeBundle && rd.ArtifactType != ocispec.MediaTypeEmptyJSON {
			continue // another kind of attachment (an SBOM, a cosign signature ...)
		}
		data, err := fetchManifest(ctx, repo, ref, rd.Digest)
		if err != nil {
			return err
		}
		if !isBundleReferrer(data) {
			continue
		}
		file, layer, err := ParseBundleManifest(data, mdesc)
		if err != nil {
			return fmt.Errorf("%s: referrer %s: %w", ref, rd.Digest, err)
		}
		if blobs, ok := chosen[file]; ok {
			if slices.Contains(blobs, layer.Digest.String()) {
				continue
			}
			if len(blobs) > MaxAlternates {
				return fmt.Errorf("%w: %s: more than %d referrers carry different %s; remove the stale ones from the registry", ErrInvalid, ref, MaxAlternates+1, file)
			}
			var b bytes.Buffer
			if err := copyBlob(ctx, repo, layer, &b, file); err != nil {
				return fmt.Errorf("%s: %w", ref, err)
			}
			chosen[file] = append(blobs, layer.Digest.String())
			if out.Alternates == nil {
				out.Alternates = map[string][]Alternate{}
			}
			out.Alternates[file] = append(out.Alternates[file], Alternate{Referrer: rd.Digest.String(), Data: b.Bytes()})
			continue
		}
		if err := fetchBlob(ctx, repo, layer, filepath.Join(dir, file), file); err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		chosen[file] = []string{layer.Digest.String()}
		out.Bundles[file] = rd.Digest.String()
	}
	return nil
}

// String of a Fetched for messages.
func (f *Fetched) String() string {
	var b []string
	for k := range f.Bundles {
		b = append(b, k)
	}
	sort.Strings(b)
	return fmt.Sprintf("manifest %s, %d files, %d bytes, attached: %s", f.Manifest, len(f.Files), f.Bytes, strings.Join(b, ", "))
}

// isBundleReferrer reports whether a referrer manifest says it carries a
// Sigstore bundle (then ParseBundleManifest must accept it).
func isBundleReferrer(data []byte) bool {
	var m struct {
		ArtifactType string `json:"artifactType"`
	}
	return json.Unmarshal(data, &m) == nil && m.ArtifactType == MediaTypeBundle
}
