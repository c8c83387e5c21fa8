package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// namingChecker refuses hosts outside allowed the way the policy does: its
// error names the URL (policy.URLError).
type namingChecker struct{ allowed map[string]bool }

func (c namingChecker) AllowURL(u *url.URL) error {
	if !c.allowed[u.Host] {
		return fmt.Errorf("url %q is not in the policy's sources", u.Redacted())
	}
	return nil
}

func allowNaming(servers ...*httptest.Server) namingChecker {
	c := namingChecker{allowed: map[string]bool{}}
	for _, s := range servers {
		u, _ := url.Parse(s.URL)
		c.allowed[u.Host] = true
	}
	return c
}

// TestGetErrorNamesEachURLOnce is issue 15 item 8: a failed download said
// its URL twice (`fetch: get "U": request "U": ...`, `... url "U" is not in
// the policy's sources`, `unexpected HTTP status ... from "U"`). Every error
// of Get names the requested URL exactly once, and a redirect target it
// concerns once too.
func TestGetErrorNamesEachURLOnce(t *testing.T) {
	notFound := tlsServer(t, http.NotFoundHandler())
	refusedHost := tlsServer(t, serve([]byte("x")))
	html := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>"))
	}))
	htmlBody := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte("<!DOCTYPE html><html></html>"))
	}))
	large := tlsServer(t, serve(make([]byte, 2000)))
	body := randomBytes(t, 900)
	truncated := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cut(w, body, 100) }))
	encoded := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write([]byte("x"))
	}))
	redirectTo := func(to string) *httptest.Server {
		return tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, to, http.StatusFound)
		}))
	}
	toRefused := redirectTo(refusedHost.URL + "/elsewhere.pth")
	toNotFound := redirectTo(notFound.URL + "/gone.pth")
	toHTML := redirectTo(html.URL + "/page")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + l.Addr().String()
	l.Close()
	closedSrv := &httptest.Server{URL: closed}

	all := []*httptest.Server{notFound, html, htmlBody, large, truncated, encoded, toRefused, toNotFound, toHTML, closedSrv}
	cases := []struct {
		name   string
		url    string
		target string // a redirect target the error must name once, or ""
		want   error
	}{
		{"refused by the policy", refusedHost.URL + "/m.pth", "", ErrNotAllowed},
		{"connection refused", closed + "/m.pth", "", syscallOrNet},
		{"status", notFound.URL + "/m.pth", "", nil},
		{"html by type", html.URL + "/m.pth", "", ErrHTML},
		{"html by body", htmlBody.URL + "/m.pth", "", ErrHTML},
		{"too large", large.URL + "/m.pth", "", ErrTooLarge},
		{"truncated", truncated.URL + "/m.pth", "", ErrTruncated},
		{"encoded", encoded.URL + "/m.pth", "", ErrBadResponse},
		{"redirect to a refused host", toRefused.URL + "/m.pth", refusedHost.URL + "/elsewhere.pth", ErrNotAllowed},
		{"redirect to a 404", toNotFound.URL + "/m.pth", notFound.URL + "/gone.pth", nil},
		{"redirect to html", toHTML.URL + "/m.pth", html.URL + "/page", ErrHTML},
	}
	c := newClient(t, allowNaming(all...), Options{MaxBytes: 1000, Retries: 1, ConnectTimeout: 5 * time.Second}, all[0])
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Get(context.Background(), tc.url, t.TempDir())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			switch {
			case tc.want == syscallOrNet:
				var ne net.Error
				if !errors.As(err, &ne) {
					t.Errorf("want a network error, got %v", err)
				}
			case tc.want == nil:
				var se *StatusError
				if !errors.As(err, &se) {
					t.Errorf("want a *StatusError, got %v", err)
				}
			case !errors.Is(err, tc.want):
				t.Errorf("want %v, got %v", tc.want, err)
			}
			if n := strings.Count(msg, strconv.Quote(tc.url)); n != 1 {
				t.Errorf("the requested URL appears %d times, want once: %s", n, msg)
			}
			if tc.target != "" {
				if n := strings.Count(msg, strconv.Quote(tc.target)); n != 1 {
					t.Errorf("the redirect target appears %d times, want once: %s", n, msg)
				}
			}
			if strings.Contains(msg, "url not allowed: url ") {
				t.Errorf("stutters: %s", msg)
			}
		})
	}
}

// syscallOrNet marks the case that wants a network error.
var syscallOrNet = errors.New("a network error")
