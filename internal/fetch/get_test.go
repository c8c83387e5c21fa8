package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// serve answers every request with body through http.ServeContent (which
// honours Range and If-Range) under a fixed ETag.
func serve(body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "", time.Unix(1e9, 0), bytes.NewReader(body))
	}
}

// cut sends the full Content-Length, then only n bytes, then drops the connection.
func cut(w http.ResponseWriter, body []byte, n int) {
	w.Header().Set("ETag", `"v1"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body[:n])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

func TestGetHappy(t *testing.T) {
	body := randomBytes(t, 3<<20+17)
	srv := tlsServer(t, serve(body))
	var mu sync.Mutex
	var reports []Progress
	c := newClient(t, allow(srv), Options{Progress: func(p Progress) {
		mu.Lock()
		reports = append(reports, p)
		mu.Unlock()
	}}, srv)
	dir := t.TempDir()
	d, err := c.Get(context.Background(), srv.URL+"/model.pth", dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA256 != hexSum(body) || d.Size != int64(len(body)) || d.Resumed != 0 {
		t.Errorf("got %+v", d)
	}
	if d.CertSHA256 != hexSum(srv.Certificate().Raw) {
		t.Errorf("CertSHA256 %s", d.CertSHA256)
	}
	if d.FinalURL != srv.URL+"/model.pth" || d.ContentType != "application/octet-stream" {
		t.Errorf("FinalURL %q ContentType %q", d.FinalURL, d.ContentType)
	}
	if filepath.Dir(d.Path) != dir {
		t.Errorf("Path %q not in %q", d.Path, dir)
	}
	fi, err := os.Stat(d.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v %v", fi, err)
	}
	got, _ := os.ReadFile(d.Path)
	if !bytes.Equal(got, body) {
		t.Error("file differs from the body")
	}
	last := reports[len(reports)-1]
	if last.Done != int64(len(body)) || last.Total != int64(len(body)) || last.URL != srv.URL+"/model.pth" {
		t.Errorf("last progress %+v", last)
	}
}

func TestGetRedirectSameHost(t *testing.T) {
	body := []byte("weights")
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) })
	mux.HandleFunc("/b", serve(body))
	srv := tlsServer(t, mux)
	d, err := newClient(t, allow(srv), Options{}, srv).Get(context.Background(), srv.URL+"/a", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if d.URL != srv.URL+"/a" || d.FinalURL != srv.URL+"/b" || d.SHA256 != hexSum(body) {
		t.Errorf("got %+v", d)
	}
}

func TestGetRefused(t *testing.T) {
	other := &counted{h: serve([]byte("x"))}
	srv2 := tlsServer(t, other)
	plainHits := &counted{h: serve([]byte("x"))}
	plain := quiet(httptest.NewServer(plainHits))
	t.Cleanup(plain.Close)
	redirect := func(to string) *httptest.Server {
		return tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, to, http.StatusFound)
		}))
	}
	loop := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		http.Redirect(w, r, "/?n="+strconv.Itoa(n+1), http.StatusFound)
	}))
	toOther, toPlain := redirect(srv2.URL+"/x"), redirect(plain.URL+"/x")
	downgradeCheck := allow(toPlain, plain)
	downgradeCheck.http = true
	plainCheck := allow(plain) // https only
	cases := []struct {
		name  string
		srv   *httptest.Server
		check URLChecker
		hits  *counted
	}{
		{"redirect to a host not allowed", toOther, allow(toOther), other},
		{"redirect from https to http", toPlain, downgradeCheck, plainHits},
		{"plain http", plain, plainCheck, plainHits},
		{"too many redirects", loop, allow(loop), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := newClient(t, tc.check, Options{}, tc.srv).Get(context.Background(), tc.srv.URL+"/", dir)
			if !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("want ErrNotAllowed, got %v", err)
			}
			if tc.hits != nil && tc.hits.n.Load() != 0 {
				t.Errorf("the refused server was contacted %d times", tc.hits.n.Load())
			}
			assertEmpty(t, dir)
			t.Log(err)
		})
	}
	t.Run("scheme and credentials", func(t *testing.T) {
		c := newClient(t, allow(srv2), Options{}, srv2)
		for _, u := range []string{"ftp://" + strings.TrimPrefix(srv2.URL, "https://") + "/x",
			"https://user:pw@" + strings.TrimPrefix(srv2.URL, "https://") + "/x", "file:///etc/passwd"} {
			if _, err := c.Get(context.Background(), u, t.TempDir()); !errors.Is(err, ErrNotAllowed) {
				t.Errorf("%s: want ErrNotAllowed, got %v", u, err)
			}
		}
	})
}

func TestGetStatus(t *testing.T) {
	for _, code := range []int{404, 500, 204, 301} {
		srv := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		}))
		dir := t.TempDir()
		_, err := newClient(t, allow(srv), Options{}, srv).Get(context.Background(), srv.URL+"/x", dir)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("%d: got %v", code, err)
		}
		assertEmpty(t, dir)
	}
}

func TestGetHTML(t *testing.T) {
	cases := []struct{ ctype, body string }{
		{"text/html; charset=utf-8", "not really html"},
		{"TEXT/HTML", "x"},
		{"application/octet-stream", "<!DOCTYPE html><html></html>"},
		{"application/octet-stream", "\ufeff \r\n\t<HtMl lang=en>"},
		{"", "   <html>"},
	}
	for _, tc := range cases {
		srv := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.ctype)
			w.Write([]byte(tc.body))
		}))
		dir := t.TempDir()
		_, err := newClient(t, allow(srv), Options{}, srv).Get(context.Background(), srv.URL+"/", dir)
		if !errors.Is(err, ErrHTML) {
			t.Errorf("%q %q: want ErrHTML, got %v", tc.ctype, tc.body, err)
		}
		assertEmpty(t, dir)
	}
}

func TestGetResume(t *testing.T) {
	body := randomBytes(t, 1<<20)
	var mu sync.Mutex
	var ifRange []string
	h := &counted{}
	h.h = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "" {
			cut(w, body, 300_000)
		}
		mu.Lock()
		ifRange = append(ifRange, r.Header.Get("If-Range"))
		mu.Unlock()
		serve(body)(w, r)
	}
	srv := tlsServer(t, h)
	d, err := newClient(t, allow(srv), Options{}, srv).Get(context.Background(), srv.URL+"/m", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA256 != hexSum(body) || d.Size != int64(len(body)) || d.Resumed != 1 || h.n.Load() != 2 {
		t.Errorf("got %+v after %d requests", d, h.n.Load())
	}
	if len(ifRange) != 1 || ifRange[0] != `"v1"` {
		t.Errorf("If-Range %q", ifRange)
	}
}

func TestGetResumeRestartsOn200(t *testing.T) {
	body := randomBytes(t, 200_000)
	var served atomic.Bool
	srv := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !served.Swap(true) {
			cut(w, body, 50_000)
		}
		w.Write(body) // ignores Range: a 200 with everything
	}))
	d, err := newClient(t, allow(srv), Options{}, srv).Get(context.Background(), srv.URL+"/m", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if d.SHA256 != hexSum(body) || d.Size != int64(len(body)) || d.Resumed != 1 {
		t.Errorf("got %+v", d)
	}
}

func TestGetTruncated(t *testing.T) {
	body := randomBytes(t, 100_000)
	h := &counted{h: func(w http.ResponseWriter, r *http.Request) { cut(w, body, 10_000) }}
	srv := tlsServer(t, h)
	dir := t.TempDir()
	_, err := newClient(t, allow(srv), Options{Retries: 3}, srv).Get(context.Background(), srv.URL+"/m", dir)
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("want ErrTruncated, got %v", err)
	}
	if h.n.Load() != 4 {
		t.Errorf("%d requests, want 4 (1 + 3 retries)", h.n.Load())
	}
	assertEmpty(t, dir)
}

func TestGetBadResume(t *testing.T) {
	body := randomBytes(t, 100_000)
	cases := map[string]func(w http.ResponseWriter){
		"wrong start": func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", "bytes 0-99999/100000")
		},
		"size changed": func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", "bytes 10000-100000/100001")
		},
		"ETag changed": func(w http.ResponseWriter) {
			w.Header().Set("ETag", `"v2"`)
			w.Header().Set("Content-Range", "bytes 10000-99999/100000")
		},
		"unknown size": func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", "bytes 10000-99999/*")
		},
	}
	for name, set := range cases {
		srv := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Range") == "" {
				cut(w, body, 10_000)
			}
			set(w)
			w.WriteHeader(http.StatusPartialContent)
			w.Write(body[10_000:])
		}))
		dir := t.TempDir()
		_, err := newClient(t, allow(srv), Options{}, srv).Get(context.Background(), srv.URL+"/m", dir)
		if !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: want ErrBadResponse, got %v", name, err)
		}
		assertEmpty(t, dir)
	}
}

func TestGetTooLarge(t *testing.T) {
	body := randomBytes(t, 2000)
	declared := tlsServer(t, serve(body))
	streamed := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body[:600]) // chunked: no Content-Length
		w.(http.Flusher).Flush()
		w.Write(body[600:])
	}))
	for _, srv := range []*httptest.Server{declared, streamed} {
		dir := t.TempDir()
		_, err := newClient(t, allow(srv), Options{MaxBytes: 1000}, srv).Get(context.Background(), srv.URL+"/m", dir)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("want ErrTooLarge, got %v", err)
		}
		assertEmpty(t, dir)
	}
	// exactly MaxBytes is fine
	d, err := newClient(t, allow(streamed), Options{MaxBytes: 2000}, streamed).Get(context.Background(), streamed.URL+"/m", t.TempDir())
	if err != nil || d.Size != 2000 {
		t.Errorf("at the limit: %v %v", d, err)
	}
	// GetAtMost lowers the cap for one download (never raises it).
	for _, srv := range []*httptest.Server{declared, streamed} {
		c := newClient(t, allow(srv), Options{MaxBytes: 4000}, srv)
		dir := t.TempDir()
		if _, err := c.GetAtMost(context.Background(), srv.URL+"/m", dir, 1999); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1999") {
			t.Errorf("GetAtMost 1999 of 2000 bytes: %v", err)
		}
		assertEmpty(t, dir)
		if d, err := c.GetAtMost(context.Background(), srv.URL+"/m", t.TempDir(), 2000); err != nil || d.Size != 2000 {
			t.Errorf("GetAtMost at the size: %v %v", d, err)
		}
	}
	c := newClient(t, allow(streamed), Options{MaxBytes: 1000}, streamed)
	if _, err := c.GetAtMost(context.Background(), streamed.URL+"/m", t.TempDir(), 5000); !errors.Is(err, ErrTooLarge) {
		t.Errorf("GetAtMost above MaxBytes raised the cap: %v", err)
	}
}

func TestGetIdleTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stall := func(headers bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if headers {
				w.Header().Set("Content-Length", "100")
				w.Write([]byte("0123456789"))
				w.(http.Flusher).Flush()
			}
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}
	for _, headers := range []bool{true, false} {
		srv := tlsServer(t, stall(headers))
		dir := t.TempDir()
		start := time.Now()
		_, err := newClient(t, allow(srv), Options{IdleTimeout: 200 * time.Millisecond, Retries: -1}, srv).
			Get(context.Background(), srv.URL+"/m", dir)
		if !errors.Is(err, ErrIdleTimeout) {
			t.Errorf("headers sent %v: want ErrIdleTimeout, got %v", headers, err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %s", el)
		}
		assertEmpty(t, dir)
	}
}

func TestGetUntrustedCertificate(t *testing.T) {
	h := &counted{h: serve([]byte("x"))}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}
	quiet(srv).StartTLS()
	t.Cleanup(srv.Close)
	trusted := tlsServer(t, serve([]byte("x"))) // the pool trusts httptest's own certificate only
	dir := t.TempDir()
	_, err := newClient(t, allow(srv), Options{}, trusted).Get(context.Background(), srv.URL+"/m", dir)
	var ve *tls.CertificateVerificationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a certificate verification error, got %v", err)
	}
	if h.n.Load() != 0 {
		t.Error("request sent over an untrusted connection")
	}
	assertEmpty(t, dir)
}

func TestGetEncodedBody(t *testing.T) {
	srv := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write([]byte("\x1f\x8b not really"))
	}))
	dir := t.TempDir()
	_, err := newClient(t, allow(srv), Options{}, srv).Get(context.Background(), srv.URL+"/m", dir)
	if !errors.Is(err, ErrBadResponse) {
		t.Fatalf("want ErrBadResponse, got %v", err)
	}
	assertEmpty(t, dir)
}

func TestGetCancelled(t *testing.T) {
	srv := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("0123456789"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	dir := t.TempDir()
	_, err := newClient(t, allow(srv), Options{}, srv).Get(ctx, srv.URL+"/m", dir)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	assertEmpty(t, dir)
}
