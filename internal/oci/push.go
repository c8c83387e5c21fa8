package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PushFile is a file of the model to publish.
type PushFile struct {
	Path   string // slash-separated, relative to the model folder
	SHA256 string // hex, as the store recorded it
	Size   int64
	Open   func() (io.ReadCloser, error)
}

// PushRequest is a model to publish.
type PushRequest struct {
	Name, Version string
	Format        string // ModelPack config.format, e.g. "pytorch"
	Files         []PushFile
	// Bundles are attached as referrers, by file name (SignatureFile,
	// ProvenanceFile).
	Bundles map[string][]byte
}

// PushResult is what was published.
type PushResult struct {
	Ref       string            `json:"reference"`
	Manifest  string            `json:"manifest_digest"`
	Layers    int               `json:"layers"`
	Uploaded  int               `json:"uploaded"` // blobs the registry did not have yet
	Bytes     int64             `json:"bytes"`
	Referrers map[string]string `json:"referrers,omitempty"` // file -> referrer manifest digest
}

// Push publishes the model under ref's tag: its files as layers of a
// ModelPack manifest, then each bundle as a referrer of that manifest (the
// registry's referrers API, or the referrers tag scheme where it has none).
func (c *Client) Push(ctx context.Context, ref Ref, req PushRequest) (*PushResult, error) {
	if ref.Tag == "" {
		return nil, fmt.Errorf("%w: %s: push needs a tag (oci://HOST/REPO:TAG)", ErrInvalid, ref)
	}
	repo, err := c.repository(ref)
	if err != nil {
		return nil, err
	}
	files := append([]PushFile(nil), req.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	res := &PushResult{Ref: ref.String(), Layers: len(files), Referrers: map[string]string{}}
	var cfg ModelConfig
	cfg.Descriptor.Name, cfg.Descriptor.Version = req.Name, req.Version
	cfg.ModelFS.Type = "layers"
	cfg.Config.Format = req.Format
	cfg.Config.Capabilities.InputTypes, cfg.Config.Capabilities.OutputTypes = []string{"text"}, []string{"audio"}
	layers := make([]ocispec.Descriptor, 0, len(files))
	for _, f := range files {
		if why := badFilePath(f.Path); why != "" {
			return nil, fmt.Errorf("%w: file path %q %s", ErrInvalid, f.Path, why)
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, f.SHA256)
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: digest %q: %v", ErrInvalid, f.Path, f.SHA256, err)
		}
		desc := ocispec.Descriptor{MediaType: MediaTypeFor(f.Path), Digest: d, Size: f.Size,
			Annotations: map[string]string{AnnotationFilepath: f.Path}}
		up, err := pushBlob(ctx, repo, desc, f.Open)
		if err != nil {
			return nil, fmt.Errorf("push %s: file %s: %w", ref, f.Path, err)
		}
		if up {
			res.Uploaded++
		}
		res.Bytes += f.Size
		layers = append(layers, desc)
		cfg.ModelFS.DiffIDs = append(cfg.ModelFS.DiffIDs, d.String())
	}
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgDesc, err := pushBytes(ctx, repo, MediaTypeModelConfig, cfgBytes)
	if err != nil {
		return nil, fmt.Errorf("push %s: config: %w", ref, err)
	}
	man := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeModel, Config: cfgDesc, Layers: layers}
	if req.Name != "" {
		man.Annotations = map[string]string{ocispec.AnnotationTitle: req.Name}
	}
	manBytes, err := json.Marshal(man)
	if err != nil {
		return nil, err
	}
	manDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: ArtifactTypeModel,
		Digest: digest.FromBytes(manBytes), Size: int64(len(manBytes))}
	if err := repo.PushReference(ctx, manDesc, bytes.NewReader(manBytes), ref.Tag); err != nil {
		return nil, fmt.Errorf("push %s: manifest: %w", ref, err)
	}
	res.Manifest = manDesc.Digest.String()
	names := make([]string, 0, len(req.Bundles))
	for n := range req.Bundles {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		if _, err := pushBytes(ctx, repo, ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data); err != nil {
			return nil, fmt.Errorf("push %s: empty config: %w", ref, err)
		}
	}
	for _, n := range names {
		if n != SignatureFile && n != ProvenanceFile {
			return nil, fmt.Errorf("%w: bundle %q: want %s or %s", ErrInvalid, n, SignatureFile, ProvenanceFile)
		}
		d, err := c.attach(ctx, repo, manDesc, n, req.Bundles[n])
		if err != nil {
			return nil, fmt.Errorf("push %s: %s: %w", ref, n, err)
		}
		res.Referrers[n] = d
	}
	return res, nil
}

// attach pushes bundle as a referrer of subject.
func (c *Client) attach(ctx context.Context, repo pusher, subject ocispec.Descriptor, file string, bundle []byte) (string, error) {
	if len(bundle) > MaxBundleBytes {
		return "", fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, len(bundle), MaxBundleBytes)
	}
	layer, err := pushBytes(ctx, repo, MediaTypeBundle, bundle)
	if err != nil {
		return "", err
	}
	sub := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: MediaTypeBundle, Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{layer},
		Subject: &sub, Annotations: map[string]string{AnnotationFile: file}}
	m.Config.Data = nil
	b, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: MediaTypeBundle,
		Digest: digest.FromBytes(b), Size: int64(len(b)), Annotations: m.Annotations}
	if err := repo.Push(ctx, desc, bytes.NewReader(b)); err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}

type pusher interface {
	Exists(ctx context.Context, target ocispec.Descriptor) (bool, error)
	Push(ctx context.Context, expected ocispec.Descriptor, content io.Reader) error
}

// pushBlob uploads a blob unless the registry has it; true when uploaded.
func pushBlob(ctx context.Context, repo pusher, desc ocispec.Descriptor, open func() (io.ReadCloser, error)) (bool, error) {
	ok, err := repo.Exists(ctx, desc)
	if err != nil {
		return false, err
	}
	if ok {
		return false, nil
	}
	rc, err := open()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	// The registry checks the digest of what it receives; a store file
	// that changed since it was hashed fails the upload.
	return true, repo.Push(ctx, desc, rc)
}

// pushBytes uploads a small blob.
func pushBytes(ctx context.Context, repo pusher, mediaType string, b []byte) (ocispec.Descriptor, error) {
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	_, err := pushBlob(ctx, repo, desc, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	return desc, err
}
