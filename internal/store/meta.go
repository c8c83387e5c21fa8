package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// MetaFormat is the "format" value of a version's metadata file.
const MetaFormat = "ttsguard.store.version/v1"

// maxMetaSize caps the metadata file a reader accepts.
const maxMetaSize = 64 << 20

// Provenance records where a version's bytes came from. It is stored, as JSON
// with the field names given in the tags, in the version's metadata.
type Provenance struct {
	Name      string         `json:"name"`                // model name in the store
	Requested string         `json:"requested,omitempty"` // what the user asked for: coqui id, URL or path
	Sources   []SourceRecord `json:"sources,omitempty"`   // every file or archive downloaded
	Time      time.Time      `json:"time"`                // when it was fetched
	Root      string         `json:"root"`                // manifest root "sha256:<hex>"
	Signer    string         `json:"signer,omitempty"`    // who signed it (key fingerprint or identity), if signed
	// SignatureFile is the slash-separated path, inside the staged folder, of
	// the OMS signature bundle (e.g. "model.sig"), or "". Commit leaves it out
	// of the manifest (as OMS signing does), stores it in the version folder
	// under the same path, and records its SHA-256 in the metadata.
	SignatureFile string `json:"signature_file,omitempty"`
	// AttestationFile is, likewise, the path of the training provenance
	// bundle (provenance.sig, written by ttsguard train), or "": left out of
	// the manifest, stored under the same path, its SHA-256 recorded.
	AttestationFile string `json:"attestation_file,omitempty"`
	ScanSummary     string `json:"scan_summary,omitempty"`
	TTSGuardVersion string `json:"ttsguard_version,omitempty"`
}

// SourceRecord is one download.
type SourceRecord struct {
	URL        string `json:"url"`                   // as requested
	FinalURL   string `json:"final_url,omitempty"`   // after redirects
	CertSHA256 string `json:"cert_sha256,omitempty"` // hex SHA-256 of the server's leaf certificate (DER)
	SHA256     string `json:"sha256,omitempty"`      // hex SHA-256 of the bytes received
	Size       int64  `json:"size,omitempty"`
}

// Version is one stored version of a model.
type Version struct {
	Name       string
	ID         string // 16 hex digits: the start of Root's hex
	Dir        string // the read-only model folder to hand to tts --model_path
	Root       string // manifest root "sha256:<hex>"
	Files      int
	Bytes      int64
	Provenance Provenance
	Created    time.Time // when it was committed
}

// Meta is the content of models/<escaped name>/<id>.json, written as JSON
// with two-space indentation and the field names of the tags. Files are in
// OMS manifest order; Root is manifest.RootOf over their digests.
type Meta struct {
	Format    string     `json:"format"` // MetaFormat
	Name      string     `json:"name"`
	ID        string     `json:"id"`
	Created   time.Time  `json:"created"`
	Root      string     `json:"root"`
	Files     []MetaFile `json:"files"`
	Bytes     int64      `json:"bytes"`
	Signature *MetaFile  `json:"signature,omitempty"`
	// Attestation is the training provenance bundle (Provenance.AttestationFile).
	Attestation *MetaFile  `json:"attestation,omitempty"`
	Provenance  Provenance `json:"provenance"`
}

// SideFiles are the files of a version that are not part of its manifest:
// the signature and the training provenance bundle, those it has.
func (m *Meta) SideFiles() []MetaFile {
	var out []MetaFile
	for _, f := range []*MetaFile{m.Signature, m.Attestation} {
		if f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// MetaFile is one file of a version: slash-separated path relative to the
// version folder, hex SHA-256 of its content, and size in bytes.
type MetaFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Items returns the manifest items (files mode, SHA-256) the metadata records,
// after checking that their root is Root.
func (m *Meta) Items() ([]manifest.Item, error) {
	items := make([]manifest.Item, len(m.Files))
	for i, f := range m.Files {
		d, err := hex.DecodeString(f.SHA256)
		if err != nil || len(d) != 32 || !cleanRel(f.Path) || f.Size < 0 {
			return nil, fmt.Errorf("version %q of %q: %w: bad file entry %q", m.ID, m.Name, ErrCorrupt, f.Path)
		}
		items[i] = manifest.Item{Name: f.Path, File: f.Path, End: f.Size, Digest: d}
	}
	manifest.Sort(items)
	if got := manifest.RootOf(items).String(); got != m.Root {
		return nil, fmt.Errorf("version %q of %q: %w: files add up to root %s, metadata says %s", m.ID, m.Name, ErrCorrupt, got, m.Root)
	}
	return items, nil
}

func (m *Meta) version(dir string) *Version {
	// The sum of the file sizes: metadata written before knownManifest
	// counted bytes says 0.
	var bytes int64
	for _, f := range m.Files {
		bytes += f.Size
	}
	return &Version{Name: m.Name, ID: m.ID, Dir: dir, Root: m.Root, Files: len(m.Files),
		Bytes: bytes, Provenance: m.Provenance, Created: m.Created}
}

// load reads models/<esc>/<id>.json strictly and checks that its version
// folder exists.
func (s *Store) load(esc, id string) (*Version, *Meta, error) {
	p := filepath.Join(s.modelDir(esc), id+".json")
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("version %q: %w", p, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("version %q: %w", p, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("version %q: %w", p, err)
	}
	if len(data) > maxMetaSize {
		return nil, nil, fmt.Errorf("version %q: %w: metadata over %d bytes", p, ErrCorrupt, maxMetaSize)
	}
	var m Meta
	if err := decodeStrict(data, &m); err != nil {
		return nil, nil, fmt.Errorf("version %q: %w: %w", p, ErrCorrupt, err)
	}
	if m.Format != MetaFormat || m.ID != id || len(m.Root) != len("sha256:")+64 || m.Root[len("sha256:"):][:idLen] != id {
		return nil, nil, fmt.Errorf("version %q: %w: format %q, id %q, root %q", p, ErrCorrupt, m.Format, m.ID, m.Root)
	}
	if e, err := EscapeName(m.Name); err != nil || e != esc {
		return nil, nil, fmt.Errorf("version %q: %w: name %q does not belong here", p, ErrCorrupt, m.Name)
	}
	if _, err := digest.Parse(m.Root); err != nil {
		return nil, nil, fmt.Errorf("version %q: %w: %w", p, ErrCorrupt, err)
	}
	dir := filepath.Join(s.modelDir(esc), id)
	if st, err := os.Lstat(dir); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("version %q: %w: model folder missing", p, ErrCorrupt)
	}
	return m.version(dir), &m, nil
}
