package hub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ttsguard/ttsguard/internal/hub/hubtest"
)

// prefixes allows URLs that start with one of its entries.
type prefixes []string

var errRefused = errors.New("refused by the test policy")

func (p prefixes) AllowURL(u *url.URL) error {
	for _, s := range p {
		if strings.HasPrefix(u.String(), s) {
			return nil
		}
	}
	return fmt.Errorf("%q: %w", u.Redacted(), errRefused)
}

var xttsFiles = map[string][]byte{
	".gitattributes":        []byte("*.pth filter=lfs diff=lfs merge=lfs -text\n"),
	"config.json":           []byte(`{"model": "xtts"}`),
	"model.pth":             []byte("PK\x03\x04 checkpoint bytes"),
	"dvae.pth":              []byte("PK\x03\x04 dvae"),
	"samples/en_sample.wav": []byte("RIFF....WAVE"),
	"vocab.json":            []byte(`{"vocab": []}`),
}

func newClient(t *testing.T, s *hubtest.Server, tok Token, check URLChecker) *Client {
	if check == nil {
		check = prefixes{s.Hub.URL + "/", s.CDN.URL + "/"}
	}
	c, err := New(Options{Endpoint: s.Hub.URL, Token: tok, TLS: s.TLS(), Check: check})
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = func(int) time.Duration { return time.Millisecond }
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestResolveListsEveryPage(t *testing.T) {
	s := hubtest.New(t)
	commit := s.Commit("tts-hub/XTTS-v2", "main", xttsFiles)
	c := newClient(t, s, Token{}, nil)
	for _, rev := range []string{"main", commit} {
		snap, err := c.Resolve(context.Background(), "tts-hub/XTTS-v2", rev)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Commit != commit || len(snap.Files) != len(xttsFiles) {
			t.Fatalf("%s: commit %s, %d files: %+v", rev, snap.Commit, len(snap.Files), snap.Files)
		}
		if (snap.Info == nil) != (rev == commit) {
			t.Errorf("%s: info %+v", rev, snap.Info)
		}
		for _, f := range snap.Files {
			if f.Size != int64(len(xttsFiles[f.Path])) || f.BlobID != hubtest.BlobID(xttsFiles[f.Path]) || (f.LFS != nil) != hubtest.IsLFS(f.Path) {
				t.Errorf("%+v", f)
			}
		}
	}
	pages := 0
	for _, r := range s.Requests() {
		if strings.Contains(r.Path, "/tree/") {
			pages++
		}
	}
	if pages < 8 { // 7 entries (6 files, 1 folder) in pages of 2, twice
		t.Errorf("%d tree requests: the pages were not followed", pages)
	}
}

func TestResolveErrors(t *testing.T) {
	s := hubtest.New(t)
	s.Commit("o/r", "main", map[string][]byte{"config.json": []byte("{}")})
	tests := []struct {
		name, repo, rev string
		check           URLChecker
		is              error
		msg             string
	}{
		{"unknown repository", "o/missing", "main", nil, ErrNotFound, `repository "o/missing" revision "main": not found on the Hub (or private: set HF_TOKEN`},
		{"unknown revision", "o/r", "v9", nil, ErrNotFound, "RevisionNotFound"},
		{"unknown commit", "o/r", strings.Repeat("a", 40), nil, ErrNotFound, "file list"},
		{"the policy refuses the API", "o/r", "main", prefixes{"https://elsewhere/"}, errRefused, "/api/models/o/r/revision/main"},
		{"bad repo id", "o/r/x", "main", nil, ErrInvalid, "want OWNER/NAME"},
		{"bad revision", "o/r", "..", nil, ErrInvalid, `revision ".."`},
	}
	for _, tt := range tests {
		c := newClient(t, s, Token{}, tt.check)
		_, err := c.Resolve(context.Background(), tt.repo, tt.rev)
		if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: got %v, want %v with %q", tt.name, err, tt.is, tt.msg)
		}
	}
}

// fakeAPI serves fixed answers for the API, to test what the fake Hub never sends.
func fakeAPI(t *testing.T, h http.HandlerFunc) (*Client, *httptest.Server) {
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c, err := New(Options{Endpoint: srv.URL, TLS: &tls.Config{RootCAs: pool}, Check: prefixes{srv.URL}})
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = func(int) time.Duration { return time.Millisecond }
	return c, srv
}

func TestAPIResponsesRefused(t *testing.T) {
	info := `{"sha":"` + commitA + `"}`
	tests := []struct {
		name string
		h    http.HandlerFunc
		msg  string
	}{
		{"HTML instead of JSON", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		}, `Content-Type "text/html"`},
		{"oversized", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", fmt.Sprint(MaxResponseBytes+1))
		}, "declares 16777217 bytes"},
		{"next page on another host", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if strings.Contains(r.URL.Path, "/tree/") {
				w.Header().Set("Link", `<https://evil.example/api/models/o/r/tree/x?cursor=1>; rel="next"`)
				w.Write([]byte("[]"))
				return
			}
			w.Write([]byte(info))
		}, `next page "https://evil.example/api/models/o/r/tree/x?…" is not on the endpoint`},
		{"redirect to another host", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://evil.example/x", http.StatusFound)
		}, "HTTP status 302"},
		{"always busy", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}, "rate limited, retry after 1 s"},
	}
	for _, tt := range tests {
		c, _ := fakeAPI(t, tt.h)
		_, err := c.Resolve(context.Background(), "o/r", "main")
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: got %v, want %q", tt.name, err, tt.msg)
		}
	}
}

func TestRetriesBusyAnswers(t *testing.T) {
	calls := 0
	c, _ := fakeAPI(t, func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "/tree/") {
			w.Write([]byte(`[{"type":"file","oid":"` + oidA + `","size":1,"path":"a"}]`))
			return
		}
		w.Write([]byte(`{"sha":"` + commitA + `"}`))
	})
	snap, err := c.Resolve(context.Background(), "o/r", "main")
	if err != nil || snap.Commit != commitA || len(snap.Files) != 1 || calls != 4 {
		t.Fatalf("%v %+v after %d calls", err, snap, calls)
	}
}

func TestLocateAndVerify(t *testing.T) {
	s := hubtest.New(t)
	commit := s.Commit("tts-hub/XTTS-v2", "main", xttsFiles)
	c := newClient(t, s, Token{}, nil)
	snap, err := c.Resolve(context.Background(), "tts-hub/XTTS-v2", "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range snap.Files {
		loc, err := c.Locate(context.Background(), snap.Repo, snap.Commit, f)
		if err != nil {
			t.Fatal(err)
		}
		if loc.Commit != commit || loc.Authorized {
			t.Errorf("%s: %+v", f.Path, loc)
		}
		switch {
		case f.LFS != nil && (!strings.HasPrefix(loc.URL, s.CDN.URL+"/xet-bridge-us/"+f.LFS.SHA256+"?") || loc.ETag != f.LFS.SHA256 || loc.Size != f.Size):
			t.Errorf("LFS %s: %+v", f.Path, loc)
		case f.LFS == nil && (!strings.HasPrefix(loc.URL, s.Hub.URL+"/api/resolve-cache/models/tts-hub/XTTS-v2/"+commit+"/") || loc.ETag != f.BlobID):
			t.Errorf("small %s: %+v", f.Path, loc)
		}
	}
	// Verify: the listing decides.
	dir := t.TempDir()
	p := dir + "/f"
	os.WriteFile(p, xttsFiles["config.json"], 0o600)
	small := File{Path: "config.json", Size: int64(len(xttsFiles["config.json"])), BlobID: hubtest.BlobID(xttsFiles["config.json"])}
	if err := Verify(small, p, "", small.Size); err != nil {
		t.Fatal(err)
	}
	small.BlobID = oidA
	if err := Verify(small, p, "", small.Size); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong blob id: %v", err)
	}
	lfs := File{Path: "model.pth", Size: 3, LFS: &LFS{SHA256: sumA, Size: 3}}
	if err := Verify(lfs, p, strings.Repeat("0", 64), 3); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong sha256: %v", err)
	}
	if err := Verify(lfs, p, sumA, 4); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong size: %v", err)
	}
}

func TestLocateRefusesAnotherETag(t *testing.T) {
	for _, file := range []string{"model.pth", "config.json"} {
		s := hubtest.New(t)
		s.Commit("o/r", "main", xttsFiles)
		s.BadETag(file, sumA[:40])
		c := newClient(t, s, Token{}, nil)
		snap, err := c.Resolve(context.Background(), "o/r", "main")
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range snap.Files {
			_, err := c.Locate(context.Background(), "o/r", snap.Commit, f)
			if (f.Path == file) != errors.Is(err, ErrMismatch) {
				t.Errorf("%s (bad etag on %s): %v", f.Path, file, err)
			}
		}
	}
}

func TestGatedTokenStaysOnTheEndpoint(t *testing.T) {
	s := hubtest.New(t)
	s.Commit("coqui/XTTS-v2", "main", xttsFiles)
	s.SetGated("coqui/XTTS-v2", true)
	ctx := context.Background()

	anon := newClient(t, s, Token{}, nil)
	snap, err := anon.Resolve(ctx, "coqui/XTTS-v2", "main")
	if err != nil || snap.Info.Gated != "manual" {
		t.Fatalf("the listing of a gated repository is public: %v %+v", err, snap)
	}
	if _, err := anon.Locate(ctx, snap.Repo, snap.Commit, snap.Files[0]); !errors.Is(err, ErrGated) || !strings.Contains(err.Error(), "set HF_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
	wrong, _ := NewToken("hf_wrong", "HF_TOKEN")
	if _, err := newClient(t, s, wrong, nil).Locate(ctx, snap.Repo, snap.Commit, snap.Files[0]); !errors.Is(err, ErrGated) || !strings.Contains(err.Error(), "token from HF_TOKEN may not read it") {
		t.Fatalf("wrong token: %v", err)
	}

	tok, _ := NewToken(hubtest.Token, "HF_TOKEN")
	c := newClient(t, s, tok, nil)
	dir := t.TempDir()
	for _, f := range snap.Files {
		loc, err := c.Locate(ctx, snap.Repo, snap.Commit, f)
		if err != nil {
			t.Fatal(err)
		}
		if loc.Authorized != (f.LFS == nil) {
			t.Errorf("%s: authorized %v", f.Path, loc.Authorized)
		}
		if !loc.Authorized {
			continue
		}
		d, err := c.Download(ctx, loc, dir)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(d.Path)
		if string(got) != string(xttsFiles[f.Path]) || d.CertSHA256 == "" {
			t.Errorf("%s: %q %+v", f.Path, got, d)
		}
	}
	cdn := 0
	for _, r := range s.Requests() {
		if r.Server == "cdn" {
			cdn++
			if r.Authorized {
				t.Errorf("the token went to the CDN: %+v", r)
			}
		}
	}
	if cdn != 0 {
		t.Errorf("%d CDN requests: Locate only asks the Hub", cdn)
	}
	// An unauthorized location is never downloaded with the token.
	if _, err := c.Download(ctx, &Location{URL: s.CDN.URL + "/x", Authorized: true}, dir); err == nil {
		t.Fatal("downloaded a CDN URL with the token")
	}
}
