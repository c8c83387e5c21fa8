// Package ocitest runs an in-process OCI registry over TLS for tests
// (go-containerregistry's registry, with blob storage a test can change
// behind the registry's back, as someone with access to its storage could).
package ocitest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Registry is a running registry.
type Registry struct {
	Host string      // 127.0.0.1:PORT
	TLS  *tls.Config // trusts the registry's certificate
	srv  *httptest.Server
	mu   sync.Mutex
	m    map[string][]byte
}

// New starts a registry for the test; referrers says whether it offers the
// OCI 1.1 referrers API (without it clients use the referrers tag scheme).
func New(t testing.TB, referrers bool) *Registry {
	t.Helper()
	r := Start(referrers)
	t.Cleanup(r.srv.Close)
	return r
}

// Start starts a registry the caller must Close.
func Start(referrers bool) *Registry {
	r := &Registry{m: map[string][]byte{}}
	r.srv = httptest.NewTLSServer(registry.New(registry.WithReferrersSupport(referrers), registry.WithBlobHandler(r),
		registry.Logger(log.New(io.Discard, "", 0))))
	r.Host = strings.TrimPrefix(r.srv.URL, "https://")
	r.TLS = r.srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	return r
}

// CertPEM is the registry's certificate, for a policy's ca_bundle.
func (r *Registry) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw})
}

// Close stops the registry (a registry gone mid-pull).
func (r *Registry) Close() { r.srv.CloseClientConnections(); r.srv.Close() }

// SetBlob replaces the stored bytes of the blob with digest d.
func (r *Registry) SetBlob(d string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[d] = data
}

// Blob returns the stored bytes of the blob with digest d.
func (r *Registry) Blob(d string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.m[d]
	return b, ok
}

// Get implements registry.BlobHandler.
func (r *Registry) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	d, ok := r.Blob(h.String())
	if !ok {
		return nil, registry.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

// Stat implements registry.BlobStatHandler (the stored size, unchecked).
func (r *Registry) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	d, ok := r.Blob(h.String())
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(d)), nil
}

// Put implements registry.BlobPutHandler.
func (r *Registry) Put(_ context.Context, _ string, h v1.Hash, rc io.ReadCloser) error {
	d, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	r.SetBlob(h.String(), d)
	return nil
}

// CorruptLargest flips a byte in the middle of the largest stored blob.
func (r *Registry) CorruptLargest() {
	r.mu.Lock()
	defer r.mu.Unlock()
	var key string
	for k, b := range r.m {
		if key == "" || len(b) > len(r.m[key]) {
			key = k
		}
	}
	if key == "" {
		return
	}
	b := append([]byte{}, r.m[key]...)
	b[len(b)/2] ^= 0x40
	r.m[key] = b
}
