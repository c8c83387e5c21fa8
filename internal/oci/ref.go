// Package oci publishes stored models to OCI registries and fetches them back,
// in the CNCF ModelPack layout, with their Sigstore bundles attached as OCI
// 1.1 referrers (docs/fleet.md). The registry client is oras-go v2.
//
// Everything read from a registry is untrusted: manifests are parsed and
// checked here (ParseModelManifest, ParseBundleManifest) before any blob is
// requested, every blob is checked against its descriptor's digest and size
// while it streams, and file paths from annotations are confined to the
// model folder.
package oci

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// Scheme starts every OCI source: oci://HOST[:PORT]/REPO:TAG or
// oci://HOST[:PORT]/REPO@sha256:HEX.
const Scheme = "oci://"

// ErrInvalid: a reference, manifest or annotation that is not what ttsguard
// accepts (the caller's or the registry's fault; the message says which).
var ErrInvalid = errors.New("invalid OCI artifact")

// ErrMismatch: bytes from the registry that differ from their descriptor (a
// changed blob, a manifest that is not the pinned one).
var ErrMismatch = errors.New("registry content does not match its digest")

// IsSource reports whether s is written as an OCI source.
func IsSource(s string) bool { return strings.HasPrefix(s, Scheme) }

// Ref is a parsed OCI source.
type Ref struct {
	Host       string // host[:port] as written (lowercase)
	Repository string // path in the registry
	Tag        string // "" when Digest was given
	Digest     string // "sha256:<64 hex>" when given
}

// ParseRef parses "oci://HOST[:PORT]/REPO:TAG" or "oci://HOST[:PORT]/REPO@sha256:HEX".
// A reference needs a registry host, a repository, and a tag or a digest
// (no implied "latest"); a digest must be sha256.
func ParseRef(s string) (Ref, error) {
	rest, ok := strings.CutPrefix(s, Scheme)
	if !ok {
		return Ref{}, fmt.Errorf("%w: %q is not an oci:// reference", ErrInvalid, s)
	}
	if strings.ContainsAny(rest, "?#\\ ") || strings.ContainsFunc(rest, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return Ref{}, fmt.Errorf("%w: %q: a query, fragment, space, backslash or control character is not allowed", ErrInvalid, s)
	}
	if i := strings.IndexByte(rest, '/'); i < 0 || strings.Contains(rest[:i], "@") {
		return Ref{}, fmt.Errorf("%w: %q: want oci://HOST[:PORT]/REPOSITORY:TAG or @sha256:DIGEST (no user information)", ErrInvalid, s)
	}
	r, err := registry.ParseReference(rest)
	if err != nil {
		return Ref{}, fmt.Errorf("%w: %q: %v", ErrInvalid, s, err)
	}
	out := Ref{Host: strings.ToLower(r.Registry), Repository: r.Repository}
	switch {
	case r.Reference == "":
		return Ref{}, fmt.Errorf("%w: %q names no tag or digest (write :TAG or @sha256:DIGEST; there is no implied latest)", ErrInvalid, s)
	case strings.Contains(rest, "@"):
		if strings.Contains(rest[strings.IndexByte(rest, '/'):strings.IndexByte(rest, '@')], ":") {
			return Ref{}, fmt.Errorf("%w: %q: give a tag or a digest, not both", ErrInvalid, s)
		}
		d, err := digest.Parse(r.Reference)
		if err != nil || d.Algorithm() != digest.SHA256 {
			return Ref{}, fmt.Errorf("%w: %q: the digest must be sha256:<64 lowercase hex>", ErrInvalid, s)
		}
		out.Digest = d.String()
	default:
		out.Tag = r.Reference
	}
	if _, _, err := out.HostPort(); err != nil {
		return Ref{}, fmt.Errorf("%w: %q: %v", ErrInvalid, s, err)
	}
	return out, nil
}

// HostPort splits Host; an absent port is 443.
func (r Ref) HostPort() (host, port string, err error) {
	h, p, err := net.SplitHostPort(r.Host)
	if err != nil {
		if strings.Contains(r.Host, ":") && !strings.HasPrefix(r.Host, "[") {
			return "", "", fmt.Errorf("bad registry host %q", r.Host)
		}
		h, p = strings.Trim(r.Host, "[]"), "443"
	}
	if n, err := strconv.Atoi(p); h == "" || err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("bad registry host %q", r.Host)
	}
	return strings.ToLower(h), p, nil
}

// Reference is the reference within the repository: the digest if given,
// else the tag.
func (r Ref) Reference() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// String is the source as ttsguard writes it.
func (r Ref) String() string {
	if r.Digest != "" {
		return Scheme + r.Host + "/" + r.Repository + "@" + r.Digest
	}
	return Scheme + r.Host + "/" + r.Repository + ":" + r.Tag
}

// Repo is the repository without tag or digest: oci://HOST/REPO.
func (r Ref) Repo() string { return Scheme + r.Host + "/" + r.Repository }

// At is r pinned to a manifest digest.
func (r Ref) At(d string) Ref { r.Digest, r.Tag = d, ""; return r }
