package pull

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ttsguard/ttsguard/internal/fetch"
	"github.com/ttsguard/ttsguard/internal/oci"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// ociSource parses an oci:// source.
func ociSource(a string) (*oci.Ref, error) {
	r, err := oci.ParseRef(a)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return &r, nil
}

// OCIClient is the registry client for ref under the policy: the policy's
// sources must allow the repository, TLS is the policy's (or tc), and plain
// HTTP is used only where an oci+http:// loopback source allows it.
func OCIClient(pol *policy.Policy, tc *fetchTLS, ref oci.Ref, version string) (*oci.Client, error) {
	host, port, err := ref.HostPort()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	plain, err := pol.AllowOCI(host, port, ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrGate, ref, err)
	}
	if tc == nil {
		if tc, err = pol.TLSConfig(); err != nil {
			return nil, err
		}
	}
	ua := "ttsguard"
	if version != "" {
		ua += "/" + version
	}
	return oci.New(oci.Options{TLS: tc, PlainHTTP: plain, UserAgent: ua})
}

// downloadOCI resolves the source's tag once (or takes its digest), checks
// the manifest digest against the lock file's pin for the model, and
// fetches the files and the bundles attached to the manifest into model;
// it returns the other bundles attached for a file (withAlternates).
// A tag that now names another manifest than the pinned one is a pin
// change: refused unless this is a lock update.
func downloadOCI(ctx context.Context, o Options, name string, ref oci.Ref, model string, hashed map[string]known) ([]store.SourceRecord, *store.LockOCI, map[string][]oci.Alternate, error) {
	c, err := OCIClient(o.Policy, o.TLS, ref, o.Version)
	if err != nil {
		return nil, nil, nil, err
	}
	defer c.CloseIdleConnections()
	manifest, err := c.Resolve(ctx, ref)
	if err != nil {
		return nil, nil, nil, ociErr(err)
	}
	if !o.Update {
		lockPath, err := o.Policy.LockPath()
		if err != nil {
			return nil, nil, nil, err
		}
		lf, err := store.LoadLock(lockPath)
		if err != nil {
			return nil, nil, nil, err
		}
		if pin := lf.Entries[name].OCI; pin != nil && pin.Manifest != manifest {
			return nil, nil, nil, fmt.Errorf("%w: %s: pin: %s is manifest %s, the lock file (%s) pins %s (from %s); run `ttsguard lock update %s` to accept it",
				ErrGate, name, ref, manifest, lockPath, pin.Manifest, pin.Ref, name)
		}
	}
	got, err := c.Fetch(ctx, ref, manifest, model, fetch.DefaultMaxBytes)
	if err != nil {
		return nil, nil, nil, ociErr(err)
	}
	var recs []store.SourceRecord
	at := ref.At(manifest)
	for _, f := range got.Files {
		hex := strings.TrimPrefix(f.Desc.Digest.String(), "sha256:")
		hashed[f.Path] = known{hex, f.Desc.Size}
		recs = append(recs, store.SourceRecord{URL: at.String() + "#" + f.Path, SHA256: hex, Size: f.Desc.Size})
	}
	return recs, &store.LockOCI{Ref: ref.String(), Manifest: manifest}, got.Alternates, nil
}

// ociErr sorts registry errors into pull's categories: content that does
// not match its digest fails a gate (exit 1); an unknown tag or manifest,
// or an artifact ttsguard does not accept, is the request's fault (exit 2).
func ociErr(err error) error {
	switch {
	case errors.Is(err, oci.ErrMismatch):
		return fmt.Errorf("%w: %w", ErrGate, err)
	case errors.Is(err, oci.ErrNotFound), errors.Is(err, oci.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return err
}

// ociMoved names the change when the pulled manifest differs from the
// lock file's (a lock update), "" otherwise.
func ociMoved(lf *store.LockFile, name string, got store.LockEntry) string {
	pin := lf.Entries[name].OCI
	if pin == nil || got.OCI == nil || pin.Manifest == got.OCI.Manifest {
		return ""
	}
	return fmt.Sprintf("OCI manifest %s (%s) -> %s (%s)", pin.Manifest, pin.Ref, got.OCI.Manifest, got.OCI.Ref)
}

// ociNote names the manifest of a pull for a passed pin gate's detail.
func ociNote(g Gate, o *store.LockOCI) string {
	if o == nil || !g.OK {
		return ""
	}
	return fmt.Sprintf(" [OCI %s: manifest %s]", o.Ref, o.Manifest)
}

// withAlternates runs gate, which reads model/file; when it fails and the
// registry attached other bundles for file, it writes each over model/file
// in turn and keeps the first with which gate passes. A stale or stray
// bundle beside the right one does not block the pull; none that passes
// fails as the first did.
func withAlternates[T any](model, file string, alts []oci.Alternate, gate func() (Gate, T, error)) (Gate, T, error) {
	g, v, err := gate()
	if err == nil || len(alts) == 0 {
		return g, v, err
	}
	for i, a := range alts {
		if werr := os.WriteFile(filepath.Join(model, file), a.Data, 0o600); werr != nil {
			return g, v, errors.Join(err, werr)
		}
		if g2, v2, err2 := gate(); err2 == nil {
			g2.Detail += fmt.Sprintf(" (the %s of referrer %s; %d other %s attached before it did not pass)", file, a.Referrer, i+1, file)
			return g2, v2, nil
		}
	}
	g.Detail += fmt.Sprintf("; the %d other %s attached to the manifest do not pass either", len(alts), file)
	return g, v, fmt.Errorf("%w (nor the %d other %s attached)", err, len(alts), file)
}
