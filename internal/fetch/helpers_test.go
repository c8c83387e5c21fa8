package fetch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// allowHosts is a test URLChecker: only the listed host:port pairs, and
// plain http only when http is set.
type allowHosts struct {
	hosts map[string]bool
	http  bool
}

func (a *allowHosts) AllowURL(u *url.URL) error {
	if u.Scheme == "http" && !a.http {
		return fmt.Errorf("plain http is not allowed for %q", u.Host)
	}
	if !a.hosts[u.Host] {
		return fmt.Errorf("host %q is not in the policy", u.Host)
	}
	return nil
}

func allow(servers ...*httptest.Server) *allowHosts {
	a := &allowHosts{hosts: map[string]bool{}}
	for _, s := range servers {
		u, _ := url.Parse(s.URL)
		a.hosts[u.Host] = true
	}
	return a
}

// counted wraps a handler and counts its requests.
type counted struct {
	n atomic.Int32
	h http.HandlerFunc
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h(w, r)
}

func quiet(s *httptest.Server) *httptest.Server {
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	return s
}

func tlsServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	quiet(s).StartTLS()
	t.Cleanup(s.Close)
	return s
}

// newClient trusts the certificates of the given servers (httptest's TLS
// servers all share one) and never waits between resumes.
func newClient(t testing.TB, check URLChecker, o Options, trusted ...*httptest.Server) *Client {
	t.Helper()
	pool := x509.NewCertPool()
	for _, s := range trusted {
		if s.TLS != nil {
			pool.AddCert(s.Certificate())
		}
	}
	o.Check = check
	o.TLS = &tls.Config{RootCAs: pool}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c.retryWait = func(int) time.Duration { return 0 }
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// selfSigned makes a certificate for 127.0.0.1 that nothing trusts.
func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "untrusted"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// assertEmpty fails unless dir has no entries.
func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		t.Errorf("left behind in %s: %s", dir, n.Name())
	}
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
