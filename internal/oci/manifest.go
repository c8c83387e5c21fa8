package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ttsguard/ttsguard/internal/store"
)

// The CNCF ModelPack media types and annotation (modelpack/model-spec, v1),
// and the Sigstore bundle media type the signatures are attached under.
const (
	ArtifactTypeModel        = "application/vnd.cncf.model.manifest.v1+json"
	MediaTypeModelConfig     = "application/vnd.cncf.model.config.v1+json"
	MediaTypeWeightRaw       = "application/vnd.cncf.model.weight.v1.raw"
	MediaTypeWeightConfigRaw = "application/vnd.cncf.model.weight.config.v1.raw"
	MediaTypeDocRaw          = "application/vnd.cncf.model.doc.v1.raw"
	MediaTypeCodeRaw         = "application/vnd.cncf.model.code.v1.raw"
	MediaTypeDatasetRaw      = "application/vnd.cncf.model.dataset.v1.raw"
	AnnotationFilepath       = "org.cncf.model.filepath"

	// MediaTypeBundle is the artifact type of a referrer carrying a
	// Sigstore bundle, and the media type of its one layer.
	MediaTypeBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// AnnotationFile names the file of the model folder a bundle referrer
	// carries: SignatureFile or ProvenanceFile.
	AnnotationFile = "dev.ttsguard.file"

	SignatureFile  = "model.sig"
	ProvenanceFile = "provenance.sig"
)

// Bounds on what a registry may send.
const (
	MaxManifestBytes = 4 << 20  // a manifest (thousands of layers fit)
	MaxBundleBytes   = 1 << 20  // a Sigstore bundle
	MaxConfigBytes   = 1 << 20  // the ModelPack config
	MaxLayers        = 100_000  // files in one model
	maxPathLen       = 4096     // bytes in one file path
	maxAnnotations   = 64 << 10 // bytes of annotations in one descriptor
)

// gitPaths are the top-level names OMS signing leaves out of a model: a
// layer with one would be stored but not signed.
var gitPaths = map[string]bool{".git": true, ".github": true, ".gitattributes": true, ".gitignore": true}

// rawTypes are the layer media types a model file may have (one file per
// layer, stored as it is). The archive forms (.tar, +gzip, +zstd) are not
// accepted: ttsguard pushes and pulls files one by one.
var rawTypes = map[string]bool{
	MediaTypeWeightRaw: true, MediaTypeWeightConfigRaw: true, MediaTypeDocRaw: true,
	MediaTypeCodeRaw: true, MediaTypeDatasetRaw: true,
}

// MediaTypeFor is the ModelPack layer media type for a file of a coqui model.
func MediaTypeFor(p string) string {
	base := strings.ToLower(path.Base(p))
	switch ext := path.Ext(base); {
	case ext == ".pth" || ext == ".pt" || ext == ".bin" || ext == ".safetensors" || ext == ".ckpt" ||
		ext == ".npy" || ext == ".npz" || ext == ".onnx" || ext == ".tar" || ext == ".h5":
		return MediaTypeWeightRaw
	case ext == ".md" || ext == ".txt" && strings.HasPrefix(base, "license") || base == "license" || base == "readme" || ext == ".rst":
		return MediaTypeDocRaw
	case ext == ".py":
		return MediaTypeCodeRaw
	default:
		return MediaTypeWeightConfigRaw // config.json, speakers, vocab, stats ...
	}
}

// ModelConfig is the ModelPack config blob ttsguard writes (the subset of
// the specification's fields it fills).
type ModelConfig struct {
	Descriptor struct {
		Name    string `json:"name,omitempty"`
		Version string `json:"version,omitempty"`
	} `json:"descriptor"`
	ModelFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diffIds"`
	} `json:"modelfs"`
	Config struct {
		Format       string `json:"format,omitempty"`
		Capabilities struct {
			InputTypes  []string `json:"inputTypes,omitempty"`
			OutputTypes []string `json:"outputTypes,omitempty"`
		} `json:"capabilities"`
	} `json:"config"`
}

// ModelFile is a layer of a model manifest: a file of the model folder.
type ModelFile struct {
	Path string // slash-separated, relative, clean
	Desc ocispec.Descriptor
}

// ParseModelManifest parses a model manifest from a registry and checks
// it: an OCI image manifest (schema 2) whose config is a ModelPack config;
// every layer a raw ModelPack file with a sha256 digest, a size within
// maxFile, and a file path annotation that is relative, clean, inside the
// folder, unique (also ignoring case, as a case-insensitive file system
// would merge them) and not a signature file (those travel as referrers).
func ParseModelManifest(data []byte, maxFile int64) (*ocispec.Manifest, []ModelFile, error) {
	var m ocispec.Manifest
	if err := strictJSON(data, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: model manifest: %v", ErrInvalid, err)
	}
	switch {
	case m.SchemaVersion != 2:
		return nil, nil, fmt.Errorf("%w: model manifest: schemaVersion %d, want 2", ErrInvalid, m.SchemaVersion)
	case m.MediaType != ocispec.MediaTypeImageManifest:
		return nil, nil, fmt.Errorf("%w: model manifest: mediaType %q, want %s", ErrInvalid, m.MediaType, ocispec.MediaTypeImageManifest)
	case m.Config.MediaType != MediaTypeModelConfig:
		return nil, nil, fmt.Errorf("%w: model manifest: config mediaType %q, want %s (a CNCF ModelPack model)", ErrInvalid, m.Config.MediaType, MediaTypeModelConfig)
	case m.ArtifactType != "" && m.ArtifactType != ArtifactTypeModel:
		return nil, nil, fmt.Errorf("%w: model manifest: artifactType %q, want %s", ErrInvalid, m.ArtifactType, ArtifactTypeModel)
	case len(m.Layers) == 0:
		return nil, nil, fmt.Errorf("%w: model manifest: no layers", ErrInvalid)
	case len(m.Layers) > MaxLayers:
		return nil, nil, fmt.Errorf("%w: model manifest: %d layers, more than %d", ErrInvalid, len(m.Layers), MaxLayers)
	}
	if err := checkDesc(m.Config, MaxConfigBytes, "config"); err != nil {
		return nil, nil, err
	}
	files := make([]ModelFile, 0, len(m.Layers))
	seen := map[string]int{}
	for i, l := range m.Layers {
		what := fmt.Sprintf("layer %d", i)
		if !rawTypes[l.MediaType] {
			return nil, nil, fmt.Errorf("%w: model manifest: %s: mediaType %q is not a raw ModelPack file (ttsguard reads one file per layer)", ErrInvalid, what, l.MediaType)
		}
		if err := checkDesc(l, maxFile, what); err != nil {
			return nil, nil, err
		}
		p, ok := l.Annotations[AnnotationFilepath]
		if !ok {
			return nil, nil, fmt.Errorf("%w: model manifest: %s has no %s annotation", ErrInvalid, what, AnnotationFilepath)
		}
		if why := badFilePath(p); why != "" {
			return nil, nil, fmt.Errorf("%w: model manifest: %s: file path %q %s", ErrInvalid, what, p, why)
		}
		if top, _, _ := strings.Cut(p, "/"); gitPaths[strings.ToLower(top)] {
			return nil, nil, fmt.Errorf("%w: model manifest: %s: %q is a git path, never part of a model", ErrInvalid, what, p)
		}
		if strings.EqualFold(p, SignatureFile) || strings.EqualFold(p, ProvenanceFile) {
			return nil, nil, fmt.Errorf("%w: model manifest: %s: %q is a layer; signatures travel as referrers", ErrInvalid, what, p)
		}
		key := strings.ToLower(p)
		if j, dup := seen[key]; dup {
			return nil, nil, fmt.Errorf("%w: model manifest: layers %d and %d both write %q", ErrInvalid, j, i, p)
		}
		seen[key] = i
		files = append(files, ModelFile{Path: p, Desc: l})
	}
	// A file may not also be a folder of another ("a" and "a/b").
	for _, f := range files {
		for dir := path.Dir(f.Path); dir != "."; dir = path.Dir(dir) {
			if j, clash := seen[strings.ToLower(dir)]; clash {
				return nil, nil, fmt.Errorf("%w: model manifest: layer %d's path %q is under the file of layer %d", ErrInvalid, seen[strings.ToLower(f.Path)], f.Path, j)
			}
		}
	}
	return &m, files, nil
}

// ParseBundleManifest parses a referrer that carries a Sigstore bundle and
// checks that it refers to subject and names the file it carries.
func ParseBundleManifest(data []byte, subject ocispec.Descriptor) (file string, layer ocispec.Descriptor, err error) {
	var m ocispec.Manifest
	if err := strictJSON(data, &m); err != nil {
		return "", layer, fmt.Errorf("%w: signature referrer: %v", ErrInvalid, err)
	}
	switch {
	case m.SchemaVersion != 2 || m.MediaType != ocispec.MediaTypeImageManifest:
		return "", layer, fmt.Errorf("%w: signature referrer: not an OCI image manifest", ErrInvalid)
	case m.ArtifactType != MediaTypeBundle:
		return "", layer, fmt.Errorf("%w: signature referrer: artifactType %q, want %s", ErrInvalid, m.ArtifactType, MediaTypeBundle)
	case m.Subject == nil || m.Subject.Digest != subject.Digest:
		return "", layer, fmt.Errorf("%w: signature referrer: its subject is not the model manifest %s", ErrInvalid, subject.Digest)
	case len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeBundle:
		return "", layer, fmt.Errorf("%w: signature referrer: want exactly one layer of type %s", ErrInvalid, MediaTypeBundle)
	}
	file = m.Annotations[AnnotationFile]
	if file != SignatureFile && file != ProvenanceFile {
		return "", layer, fmt.Errorf("%w: signature referrer: annotation %s is %q, want %s or %s", ErrInvalid, AnnotationFile, file, SignatureFile, ProvenanceFile)
	}
	if err := checkDesc(m.Layers[0], MaxBundleBytes, "signature layer"); err != nil {
		return "", layer, err
	}
	return file, m.Layers[0], nil
}

// checkDesc checks a descriptor's digest (sha256), size and annotations.
func checkDesc(d ocispec.Descriptor, max int64, what string) error {
	if err := d.Digest.Validate(); err != nil || d.Digest.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%w: %s: digest %q is not sha256:<64 lowercase hex>", ErrInvalid, what, d.Digest)
	}
	if d.Size < 0 || d.Size > max {
		return fmt.Errorf("%w: %s: size %d outside 0..%d", ErrInvalid, what, d.Size, max)
	}
	n := 0
	for k, v := range d.Annotations {
		n += len(k) + len(v)
	}
	if n > maxAnnotations {
		return fmt.Errorf("%w: %s: %d bytes of annotations", ErrInvalid, what, n)
	}
	return nil
}

// badFilePath says why p cannot be a file of the model folder; "" if it can.
func badFilePath(p string) string {
	switch {
	case p == "" || len(p) > maxPathLen:
		return "is empty or too long"
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || r == 0xfffd }):
		return "has a control character, a backslash or invalid UTF-8"
	case strings.HasPrefix(p, "/") || !filepath.IsLocal(p):
		return "is absolute or leaves the model folder"
	case path.Clean(p) != p:
		return "is not clean (., .., // or a trailing /)"
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." || seg == "" {
			return "has a dot or empty segment"
		}
	}
	return ""
}

// strictJSON decodes one JSON value with no trailing data and no key twice
// in one object, also ignoring case (two readers could pick different ones).
func strictJSON(data []byte, v any) error {
	if len(data) > MaxManifestBytes {
		return fmt.Errorf("%d bytes, more than %d", len(data), MaxManifestBytes)
	}
	if err := store.CheckDuplicateKeysFold(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
