package oci

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzParseModelManifest: registry bytes never crash the parser, and what
// it accepts has only safe, unique file paths.
func FuzzParseModelManifest(f *testing.F) {
	good := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.cncf.model.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.cncf.model.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},` +
		`"layers":[{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"annotations":{"org.cncf.model.filepath":"a/model.pth"}}]}`
	f.Add([]byte(good))
	f.Add([]byte(`{"schemaVersion":2,"schemaVersion":2}`))
	f.Add([]byte(`{"layers":[{"annotations":{"org.cncf.model.filepath":"../x"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, files, err := ParseModelManifest(data, 1<<40)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, fl := range files {
			if badFilePath(fl.Path) != "" || seen[fl.Path] || fl.Path == SignatureFile {
				t.Fatalf("accepted path %q", fl.Path)
			}
			seen[fl.Path] = true
		}
	})
}

// FuzzParseBundleManifest: a referrer is accepted only for its subject and
// for one of the two bundle files.
func FuzzParseBundleManifest(f *testing.F) {
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("m"), Size: 1}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: MediaTypeBundle, Config: ocispec.DescriptorEmptyJSON,
		Layers: []ocispec.Descriptor{{MediaType: MediaTypeBundle, Digest: digest.FromString("b"), Size: 1}}, Subject: &subject,
		Annotations: map[string]string{AnnotationFile: SignatureFile}}
	m.SchemaVersion = 2
	b, _ := json.Marshal(m)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, _, err := ParseBundleManifest(data, subject)
		if err == nil && file != SignatureFile && file != ProvenanceFile {
			t.Fatalf("accepted file %q", file)
		}
	})
}

// FuzzParseRef: a parsed reference prints back as one that parses to itself.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"oci://reg.example:5000/a/b:v1", "oci://r/a@sha256:" + digest.FromString("x").Encoded(), "oci://[::1]:5000/a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		r2, err := ParseRef(r.String())
		if err != nil || r2 != r {
			t.Fatalf("%q -> %+v -> %q -> %+v %v", s, r, r.String(), r2, err)
		}
	})
}
