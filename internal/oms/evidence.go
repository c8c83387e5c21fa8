package oms

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ttsguard/ttsguard/internal/manifest"
)

// Signer describes who signed (or must have signed) a model.
type Signer struct {
	Method string `json:"method"` // "key", "certificate" or "sigstore"
	// key
	KeyHint string `json:"key_hint,omitempty"`
	Curve   string `json:"curve,omitempty"`
	// certificate and sigstore
	Subject  string `json:"subject,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	Identity string `json:"identity,omitempty"`
	OIDC     string `json:"identity_provider,omitempty"`
	NotAfter string `json:"not_after,omitempty"`
	// Warnings about the signer that did not fail verification (an expired leaf, for one).
	Warnings []string `json:"warnings,omitempty"`
}

// String names the signer for people: "key HINT (CURVE)", "SUBJECT, issued
// by ISSUER" or "IDENTITY via PROVIDER" (the method alone for another).
func (s *Signer) String() string {
	switch s.Method {
	case "key":
		return fmt.Sprintf("key %s (%s)", s.KeyHint, s.Curve)
	case "certificate":
		return fmt.Sprintf("%s, issued by %s", s.Subject, s.Issuer)
	case "sigstore":
		return fmt.Sprintf("%s via %s", s.Identity, s.OIDC)
	}
	return s.Method
}

// SerializationInfo is the serialization a signature records.
type SerializationInfo struct {
	Method        string   `json:"method"`
	HashType      string   `json:"hash_type"`
	ShardSize     int64    `json:"shard_size,omitempty"`
	AllowSymlinks bool     `json:"allow_symlinks"`
	IgnorePaths   []string `json:"ignore_paths,omitempty"`
}

func infoOf(o manifest.Options) SerializationInfo {
	return SerializationInfo{Method: o.Method, HashType: o.HashType, ShardSize: o.ShardSize, AllowSymlinks: o.AllowSymlinks, IgnorePaths: o.IgnorePaths}
}

// Result is the evidence of a sign, verify or digest run.
type Result struct {
	Operation     string            `json:"operation"` // sign, verify, digest
	Model         string            `json:"model"`
	Signature     string            `json:"signature,omitempty"`
	OK            bool              `json:"ok"`
	Signer        *Signer           `json:"signer,omitempty"`
	Root          string            `json:"root_digest,omitempty"`
	Serialization SerializationInfo `json:"serialization"`
	Legacy        bool              `json:"legacy_format,omitempty"`
	Items         int               `json:"items"`
	Files         int               `json:"files"`
	Bytes         int64             `json:"bytes_hashed"`
	ElapsedMS     float64           `json:"elapsed_ms"`
	Missing       []string          `json:"missing,omitempty"`
	Extra         []string          `json:"extra,omitempty"`
	Changed       []string          `json:"changed,omitempty"`
	Warnings      []string          `json:"warnings,omitempty"`
	Failure       string            `json:"failure,omitempty"`
}

func (r *Result) fill(m *manifest.Manifest, elapsed time.Duration) {
	r.Items, r.Files, r.Bytes = len(m.Items), m.Files, m.Bytes
	r.ElapsedMS = float64(elapsed.Microseconds()) / 1000
}

// Text prints the evidence for a person.
func (r *Result) Text(w io.Writer) error {
	var b strings.Builder
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "%s %s: %s\n", r.Operation, verdict, r.Model)
	if r.Signature != "" {
		fmt.Fprintf(&b, "  signature:      %s\n", r.Signature)
	}
	if s := r.Signer; s != nil {
		fmt.Fprintf(&b, "  method:         %s\n", s.Method)
		if who := s.String(); who != s.Method {
			fmt.Fprintf(&b, "  signer:         %s\n", who)
		}
	}
	if r.Root != "" {
		fmt.Fprintf(&b, "  root digest:    %s\n", r.Root)
	}
	ser := r.Serialization
	if ser.Method != "" {
		fmt.Fprintf(&b, "  serialization:  %s, %s", ser.Method, ser.HashType)
		if ser.ShardSize > 0 {
			fmt.Fprintf(&b, ", shard size %d", ser.ShardSize)
		}
		if ser.AllowSymlinks {
			b.WriteString(", symlinks allowed")
		}
		b.WriteString("\n")
	}
	if r.Legacy {
		b.WriteString("  format:         legacy model_signing v0.2 (per-file subjects)\n")
	}
	fmt.Fprintf(&b, "  hashed:         %d items, %d files, %d bytes in %.1f ms\n", r.Items, r.Files, r.Bytes, r.ElapsedMS)
	for _, l := range []struct {
		what  string
		names []string
	}{{"missing", r.Missing}, {"extra", r.Extra}, {"changed", r.Changed}} {
		for _, n := range l.names {
			fmt.Fprintf(&b, "  %-8s        %s\n", l.what+":", n)
		}
	}
	var warnings []string
	if r.Signer != nil {
		warnings = r.Signer.Warnings
	}
	for _, w := range append(warnings, r.Warnings...) {
		fmt.Fprintf(&b, "  warning:        %s\n", w)
	}
	if r.Failure != "" {
		fmt.Fprintf(&b, "  failure:        %s\n", r.Failure)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
