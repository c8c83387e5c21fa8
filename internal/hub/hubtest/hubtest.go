// Package hubtest is a loopback fake of the Hugging Face Hub for tests: the
// model API (revision and paged recursive tree), the resolve endpoint with
// the Hub's headers and redirects (small files to the same-origin resolve
// cache, LFS files to a second "CDN" server with a signed-looking URL),
// gated repositories that need a bearer token, and refs that move between
// commits. Response shapes follow huggingface_hub's documentation and
// source (hf_api.model_info, list_repo_tree, file_download).
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Token is the token gated repositories accept.
const Token = "hf_testtoken0123456789"

// Request is one request a server received.
type Request struct {
	Server     string // "hub" or "cdn"
	Method     string
	Path       string // escaped
	Authorized bool   // an Authorization header was sent
}

// Server is the fake Hub and its CDN.
type Server struct {
	Hub, CDN *httptest.Server
	// PageSize is the tree listing's page size (the Hub uses 1000).
	PageSize int

	mu      sync.Mutex
	repos   map[string]*repo
	blobs   map[string][]byte // sha256 -> bytes served by the CDN
	corrupt map[string][]byte // sha256 -> bytes served instead
	badETag map[string]string // path -> X-Linked-Etag served instead
	log     []Request
	n       int
}

type repo struct {
	gated   bool
	refs    map[string]string            // ref -> commit
	commits map[string]map[string][]byte // commit -> path -> bytes
}

// New starts both servers; they stop when the test ends.
func New(t testing.TB) *Server {
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts both servers on loopback, outside a test (the end-to-end
// script's fake Hub, scripts/fakehub); Close stops them.
func Start() *Server {
	s := &Server{PageSize: 2, repos: map[string]*repo{}, blobs: map[string][]byte{},
		corrupt: map[string][]byte{}, badETag: map[string]string{}}
	s.Hub = httptest.NewTLSServer(http.HandlerFunc(s.serveHub))
	s.CDN = httptest.NewTLSServer(http.HandlerFunc(s.serveCDN))
	return s
}

// Close stops both servers.
func (s *Server) Close() {
	s.Hub.Close()
	s.CDN.Close()
}

// TLS trusts both servers.
func (s *Server) TLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(s.Hub.Certificate())
	pool.AddCert(s.CDN.Certificate())
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// IsLFS says which files the fake keeps in LFS (as a Hub repository's
// .gitattributes does for checkpoints and audio).
func IsLFS(p string) bool {
	switch path.Ext(p) {
	case ".pth", ".pt", ".bin", ".safetensors", ".wav", ".npy":
		return true
	}
	return false
}

// Commit makes a commit of repoID holding exactly files and points ref at
// it; it returns the commit id. The repository is created when needed.
func (s *Server) Commit(repoID, ref string, files map[string][]byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoID]
	if r == nil {
		r = &repo{refs: map[string]string{}, commits: map[string]map[string][]byte{}}
		s.repos[repoID] = r
	}
	s.n++
	sum := sha1.Sum([]byte(fmt.Sprintf("%s@%s#%d", repoID, ref, s.n)))
	commit := hex.EncodeToString(sum[:])
	c := map[string][]byte{}
	for p, b := range files {
		c[p] = b
		if IsLFS(p) {
			s.blobs[sha256Hex(b)] = b
		}
	}
	r.commits[commit] = c
	r.refs[ref] = commit
	return commit
}

// SetGated makes a repository need Token for its files.
func (s *Server) SetGated(repoID string, gated bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[repoID].gated = gated
}

// Corrupt makes the CDN serve other bytes for the LFS blob of content.
func (s *Server) Corrupt(content, served []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.corrupt[sha256Hex(content)] = served
}

// BadETag makes the resolve endpoint announce etag for a file path.
func (s *Server) BadETag(filePath, etag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.badETag[filePath] = etag
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

func (s *Server) record(server string, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Server: server, Method: r.Method, Path: r.URL.EscapedPath(), Authorized: r.Header.Get("Authorization") != ""})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// BlobID is git's id of a blob.
func BlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// lookup finds a repository and the commit a revision names.
func (s *Server) lookup(repoID, rev string) (*repo, string, map[string][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoID]
	if r == nil {
		return nil, "", nil
	}
	commit := r.refs[rev]
	if commit == "" {
		commit = rev
	}
	return r, commit, r.commits[commit]
}

func hubError(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("X-Error-Code", errCode)
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"error\":%q}", msg)
}

func sortedPaths(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// segments splits an escaped path into unescaped segments.
func segments(escaped string) []string {
	parts := strings.Split(strings.Trim(escaped, "/"), "/")
	for i, p := range parts {
		parts[i] = unescape(p)
	}
	return parts
}
