// Package oms reads and writes OpenSSF Model Signing (OMS) v1.0 signatures:
// the in-toto statement that lists a model's resources, wrapped in a DSSE
// envelope inside a Sigstore bundle, signed with an elliptic key, a
// certificate chain or keyless (Sigstore). It is byte-compatible with the
// reference implementation model_signing v1.1.1; docs/formats.md lists the
// places where the reference and the OMS text differ.
package oms

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// Wire constants.
const (
	StatementType       = "https://in-toto.io/Statement/v1"
	PredicateType       = "https://model_signing/signature/v1.0"
	LegacyPredicateType = "https://model_signing/Digests/v0.1" // model_signing v0.2.x; verify only
	PayloadType         = "application/vnd.in-toto+json"
	BundleMediaType     = "application/vnd.dev.sigstore.bundle.v0.3+json"
)

// ErrStatement is wrapped by every error about the signed statement's content.
var ErrStatement = errors.New("invalid statement")

// Statement is the in-toto statement an OMS signature carries, in the field
// order the reference writes.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

// Subject names the model and its root digest.
type Subject struct {
	Name        string            `json:"name"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Predicate is the model_signing/signature/v1.0 predicate.
type Predicate struct {
	Serialization Serialization `json:"serialization"`
	Resources     []Resource    `json:"resources"`
}

// Serialization records how the model was hashed.
type Serialization struct {
	Method        string      `json:"method"`
	HashType      string      `json:"hash_type"`
	AllowSymlinks bool        `json:"allow_symlinks"`
	ShardSize     json.Number `json:"shard_size,omitempty"`
	IgnorePaths   []string    `json:"ignore_paths,omitempty"`
}

// Resource is one signed item.
type Resource struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"`
}

// NewStatement builds the statement for a manifest of the model named name
// (the model folder's or file's base name). ignorePaths are recorded as given
// (sorted, without duplicates).
func NewStatement(name string, m *manifest.Manifest) *Statement {
	o := m.Options
	s := &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: name, Digest: map[string]string{digest.SHA256: m.Root().Hex()}}},
		PredicateType: PredicateType,
		Predicate: Predicate{
			Serialization: Serialization{Method: o.Method, HashType: o.HashType, AllowSymlinks: o.AllowSymlinks},
			Resources:     make([]Resource, 0, len(m.Items)),
		},
	}
	if o.Method == manifest.MethodShards {
		s.Predicate.Serialization.ShardSize = json.Number(fmt.Sprint(o.ShardSize))
	}
	ig := slices.Clone(o.IgnorePaths)
	slices.Sort(ig)
	s.Predicate.Serialization.IgnorePaths = slices.Compact(ig)
	alg := o.Algorithm()
	for _, it := range m.Items {
		s.Predicate.Resources = append(s.Predicate.Resources, Resource{Name: it.Name, Algorithm: alg, Digest: hex.EncodeToString(it.Digest)})
	}
	return s
}

// Marshal encodes the statement as the reference does (two-space indent).
func (s *Statement) Marshal() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return asciiJSON(bytes.TrimRight(b.Bytes(), "\n")), nil
}

// asciiJSON escapes every non-ASCII character as \uXXXX (UTF-16 surrogate
// pairs above U+FFFF), as the reference's JSON writer does.
func asciiJSON(b []byte) []byte {
	if !slices.ContainsFunc(b, func(c byte) bool { return c >= 0x80 }) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for _, r := range string(b) {
		switch {
		case r < 0x80:
			out = append(out, byte(r))
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, "\\u%04x\\u%04x", r1, r2)
		default:
			out = fmt.Appendf(out, "\\u%04x", r)
		}
	}
	return out
}

// Signed is a parsed and validated statement: what the signature covers.
type Signed struct {
	Name    string
	Root    digest.Digest    // subject digest; for legacy statements, zero
	Options manifest.Options // serialization parameters (files mode for legacy)
	Items   []manifest.Item  // in the order of the statement
	Legacy  bool             // model_signing v0.2 statement: one subject per file, no root
	// IgnoreRecorded says the statement records the paths its signer left
	// out (serialization.ignore_paths, model_signing v1.1 on, and every
	// ttsguard); older statements do not.
	IgnoreRecorded bool
}

// ParseStatement decodes and validates a statement payload.
func ParseStatement(payload []byte) (*Signed, error) {
	var s Statement
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStatement, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrStatement)
	}
	if s.Type != StatementType {
		return nil, fmt.Errorf("%w: _type %q, want %q", ErrStatement, s.Type, StatementType)
	}
	switch s.PredicateType {
	case PredicateType:
		return parseV1(&s)
	case LegacyPredicateType:
		return parseLegacy(&s)
	}
	return nil, fmt.Errorf("%w: predicateType %q, want %q", ErrStatement, s.PredicateType, PredicateType)
}

func parseV1(s *Statement) (*Signed, error) {
	if len(s.Subject) != 1 {
		return nil, fmt.Errorf("%w: %d subjects, want exactly 1", ErrStatement, len(s.Subject))
	}
	root, err := hexDigest(digest.SHA256, s.Subject[0].Digest[digest.SHA256])
	if err != nil {
		return nil, fmt.Errorf("%w: subject digest: %v", ErrStatement, err)
	}
	ser := s.Predicate.Serialization
	o := manifest.Options{Method: ser.Method, HashType: ser.HashType, AllowSymlinks: ser.AllowSymlinks}
	switch ser.Method {
	case manifest.MethodFiles:
	case manifest.MethodShards:
		n, err := integral(ser.ShardSize)
		if err != nil {
			return nil, fmt.Errorf("%w: shard_size: %v", ErrStatement, err)
		}
		o.ShardSize = n
	default:
		return nil, fmt.Errorf("%w: serialization method %q, want files or shards", ErrStatement, ser.Method)
	}
	if _, err := digest.Size(ser.HashType); err != nil {
		return nil, fmt.Errorf("%w: hash_type: %v", ErrStatement, err)
	}
	for _, p := range ser.IgnorePaths {
		if p == "" || strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("%w: ignore path %q is not relative", ErrStatement, p)
		}
	}
	o.IgnorePaths = ser.IgnorePaths
	if len(s.Predicate.Resources) == 0 {
		return nil, fmt.Errorf("%w: no resources: a signed model has at least one file (OMS v1.0 §5.2.1, §6.1)", ErrStatement)
	}
	alg := o.Algorithm()
	seen := make(map[string]bool, len(s.Predicate.Resources))
	items := make([]manifest.Item, 0, len(s.Predicate.Resources))
	for i, r := range s.Predicate.Resources {
		if r.Algorithm != alg {
			return nil, fmt.Errorf("%w: resource %d (%q): algorithm %q, want %q", ErrStatement, i, r.Name, r.Algorithm, alg)
		}
		if r.Name == "" || seen[r.Name] {
			return nil, fmt.Errorf("%w: resource %d: empty or duplicate name %q", ErrStatement, i, r.Name)
		}
		seen[r.Name] = true
		d, err := hexDigest(o.HashType, r.Digest)
		if err != nil {
			return nil, fmt.Errorf("%w: resource %q: %v", ErrStatement, r.Name, err)
		}
		it := manifest.Item{Name: r.Name, File: r.Name, Digest: d.Value}
		if o.Method == manifest.MethodShards {
			f, start, end, err := manifest.ParseShardName(r.Name)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrStatement, err)
			}
			it.File, it.Start, it.End = f, start, end
		}
		items = append(items, it)
	}
	if got := manifest.RootOf(items); !bytes.Equal(got.Value, root.Value) {
		return nil, fmt.Errorf("%w: subject digest %s does not match the resources (they give %s)", ErrStatement, root.Hex(), got.Hex())
	}
	return &Signed{Name: s.Subject[0].Name, Root: root, Options: o, Items: items, IgnoreRecorded: ser.IgnorePaths != nil}, nil
}

// parseLegacy reads a model_signing v0.2 statement: one subject per file,
// digest sha256 of the whole file, no root digest, no ignore list.
func parseLegacy(s *Statement) (*Signed, error) {
	if len(s.Subject) == 0 {
		return nil, fmt.Errorf("%w: legacy statement without subjects", ErrStatement)
	}
	o := manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256}
	seen := map[string]bool{}
	var items []manifest.Item
	for _, sub := range s.Subject {
		if alg, ok := sub.Annotations["actual_hash_algorithm"]; ok && alg != "file-sha256" {
			return nil, fmt.Errorf("%w: subject %q: unsupported legacy hash %q", ErrStatement, sub.Name, alg)
		}
		d, err := hexDigest(digest.SHA256, sub.Digest[digest.SHA256])
		if err != nil {
			return nil, fmt.Errorf("%w: subject %q: %v", ErrStatement, sub.Name, err)
		}
		if sub.Name == "" || seen[sub.Name] {
			return nil, fmt.Errorf("%w: empty or duplicate subject name %q", ErrStatement, sub.Name)
		}
		seen[sub.Name] = true
		items = append(items, manifest.Item{Name: sub.Name, File: sub.Name, Digest: d.Value})
	}
	return &Signed{Options: o, Items: items, Legacy: true}, nil
}

func hexDigest(alg, h string) (digest.Digest, error) {
	n, err := digest.Size(alg)
	if err != nil {
		return digest.Digest{}, err
	}
	v, err := hex.DecodeString(h)
	if err != nil || len(v) != n || strings.ToLower(h) != h {
		return digest.Digest{}, fmt.Errorf("%q is not a lowercase hex %s digest", h, alg)
	}
	return digest.Digest{Algorithm: alg, Value: v}, nil
}

// integral accepts a positive integer written as 8 or 8.0 (the reference writes floats).
func integral(n json.Number) (int64, error) {
	if n == "" {
		return 0, errors.New("missing")
	}
	if i, err := n.Int64(); err == nil {
		if i <= 0 {
			return 0, fmt.Errorf("%d is not positive", i)
		}
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f <= 0 || f > 1<<53 {
		return 0, fmt.Errorf("%q is not a positive integer", n)
	}
	return int64(f), nil
}
