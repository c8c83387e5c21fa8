// Package ocitest runs an in-process OCI registry over TLS for tests
// (go-containerregistry's registry, with blob storage a test can change
// behind the registry's back, as someone with access to its storage could).
package ocitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
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
	TLS  *tls.Config // trusts the registry's certificate; nil for plain HTTP
	srv  *httptest.Server
	h    http.Handler
	o    Options
	mu   sync.Mutex
	m    map[string][]byte

	stalls map[string]stall // blob digest -> a download to cut (StallBlob)

	// Token is the bearer token the registry issues (Options.Token), for
	// tests that check it is shown nowhere.
	Token string
}

// Options configure a registry started by NewWith or StartWith.
type Options struct {
	// Referrers: offer the OCI 1.1 referrers API (without it clients use
	// the referrers tag scheme).
	Referrers bool
	// PlainHTTP serves http:// instead of https://.
	PlainHTTP bool
	// User and Password, when User is set, are required of every request
	// (HTTP basic authentication, as distribution's htpasswd does).
	User, Password string
	// Token: with User set, the registry takes bearer tokens instead, which
	// its /token endpoint issues for User and Password (the Docker token
	// flow of distribution's token auth, Harbor, GHCR).
	Token bool
}

// New starts a registry for the test; referrers says whether it offers the
// OCI 1.1 referrers API (without it clients use the referrers tag scheme).
func New(t testing.TB, referrers bool) *Registry {
	return NewWith(t, Options{Referrers: referrers})
}

// NewWith starts a registry for the test, stopped when it ends.
func NewWith(t testing.TB, o Options) *Registry {
	t.Helper()
	r := StartWith(o)
	t.Cleanup(r.Close)
	return r
}

// Start starts a registry the caller must Close.
func Start(referrers bool) *Registry { return StartWith(Options{Referrers: referrers}) }

// StartWith starts a registry the caller must Close.
func StartWith(o Options) *Registry {
	r := &Registry{m: map[string][]byte{}, o: o, stalls: map[string]stall{}}
	r.h = registry.New(registry.WithReferrersSupport(o.Referrers), registry.WithBlobHandler(r),
		registry.Logger(log.New(io.Discard, "", 0)))
	switch {
	case o.User != "" && o.Token:
		b := make([]byte, 16)
		rand.Read(b)
		r.Token = hex.EncodeToString(b)
		r.h = tokenAuth(r.h, o.User, o.Password, r.Token)
	case o.User != "":
		r.h = basicAuth(r.h, o.User, o.Password)
	}
	r.serve(httptest.NewUnstartedServer(r.h))
	return r
}

// serve starts srv as the registry's server (TLS unless PlainHTTP).
func (r *Registry) serve(srv *httptest.Server) {
	if r.o.PlainHTTP {
		srv.Start()
		r.Host = strings.TrimPrefix(srv.URL, "http://")
	} else {
		srv.StartTLS()
		r.Host = strings.TrimPrefix(srv.URL, "https://")
		r.TLS = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
}

// Restart serves the registry again, with the same content, on the same
// address (and, for TLS, the same certificate) after Close: a registry back
// from an outage.
func (r *Registry) Restart() error {
	ln, err := net.Listen("tcp", r.Host)
	if err != nil {
		return err
	}
	srv := httptest.NewUnstartedServer(r.h)
	srv.Listener.Close()
	srv.Listener = ln
	r.serve(srv)
	return nil
}

// basicAuth requires user and password of every request.
func basicAuth(h http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !loggedIn(req, user, password) {
			unauthorized(w, `Basic realm="ocitest"`)
			return
		}
		h.ServeHTTP(w, req)
	})
}

func loggedIn(req *http.Request, user, password string) bool {
	u, p, ok := req.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1 && subtle.ConstantTimeCompare([]byte(p), []byte(password)) == 1
}

func unauthorized(w http.ResponseWriter, challenge string) {
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
}

// tokenAuth requires a bearer token of every registry request, and issues
// one at /token to a request logged in as user (the Docker token flow).
func tokenAuth(h http.Handler, user, password, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		scheme := "http"
		if req.TLS != nil {
			scheme = "https"
		}
		if req.URL.Path == "/token" {
			if !loggedIn(req, user, password) {
				unauthorized(w, `Basic realm="ocitest token"`)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"token":%q,"access_token":%q,"expires_in":300}`, token, token)
			return
		}
		if subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), []byte("Bearer "+token)) != 1 {
			challenge := fmt.Sprintf(`Bearer realm="%s://%s/token",service="ocitest"`, scheme, req.Host)
			if repo := repoOf(req.URL.Path); repo != "" {
				challenge += fmt.Sprintf(`,scope="repository:%s:pull,push"`, repo)
			}
			unauthorized(w, challenge)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// repoOf is the repository of a /v2/REPO/{manifests,blobs,referrers,tags}/... path.
func repoOf(p string) string {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return ""
	}
	for _, kind := range []string{"/manifests/", "/blobs/", "/referrers/", "/tags/"} {
		if i := strings.LastIndex(rest, kind); i > 0 {
			return rest[:i]
		}
	}
	return ""
}

// stall is a download of a blob to cut after n bytes.
type stall struct {
	n       int64
	reached chan struct{}
}

// StallBlob makes the next download of blob d send its first n bytes and
// then hang until the client's connection is closed (Close does that): a
// registry that dies while the blob streams. The channel is closed once
// the n bytes are handed to the connection.
func (r *Registry) StallBlob(d string, n int64) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan struct{})
	r.stalls[d] = stall{n, ch}
	return ch
}

// hang blocks until ctx ends, after closing reached.
type hang struct {
	ctx     context.Context
	reached chan struct{}
	once    sync.Once
}

func (h *hang) Read([]byte) (int, error) {
	h.once.Do(func() { close(h.reached) })
	<-h.ctx.Done()
	return 0, h.ctx.Err()
}

// CertPEM is the registry's certificate, for a policy's ca_bundle.
func (r *Registry) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw})
}

// Close stops the registry (a registry gone mid-pull).
func (r *Registry) Close() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	srv.CloseClientConnections()
	srv.Close()
}

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
func (r *Registry) Get(ctx context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	d, ok := r.Blob(h.String())
	if !ok {
		return nil, registry.ErrNotFound
	}
	r.mu.Lock()
	st, stalled := r.stalls[h.String()]
	delete(r.stalls, h.String())
	r.mu.Unlock()
	if stalled && st.n < int64(len(d)) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(d[:st.n]), &hang{ctx: ctx, reached: st.reached})), nil
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
