package oci

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"
)

// TestRedirectToInternalAddress: a registry this test treats as public
// (127.0.0.1) redirects to a host that resolves to a non-public address
// (::1): the connection is refused at the socket. When the registry itself
// is internal, the same redirect is followed.
func TestRedirectToInternalAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	reached := make(chan bool, 4)
	inside := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- true
		http.NotFound(w, r)
	}))
	inside.Listener = ln
	inside.StartTLS()
	t.Cleanup(inside.Close)
	reg := httptest.NewTLSServer(http.RedirectHandler(inside.URL+"/metadata", http.StatusTemporaryRedirect))
	t.Cleanup(reg.Close)
	pool := x509.NewCertPool()
	pool.AddCert(reg.Certificate())
	pool.AddCert(inside.Certificate())

	for _, registryPublic := range []bool{true, false} {
		c, err := New(Options{TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Credentials: auth.StaticCredential("", auth.EmptyCredential)})
		if err != nil {
			t.Fatal(err)
		}
		c.guard.public = func(ip net.IP) bool { return registryPublic && ip.Equal(net.IPv4(127, 0, 0, 1)) }
		ref, err := ParseRef("oci://" + strings.TrimPrefix(reg.URL, "https://") + "/m/x:v1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Resolve(context.Background(), ref)
		refused := err != nil && strings.Contains(err.Error(), "not a public address, and the registry is public")
		if refused != registryPublic {
			t.Errorf("registry public %v: %v", registryPublic, err)
		}
		select {
		case <-reached:
			if registryPublic {
				t.Errorf("a public registry's redirect reached the internal host")
			}
		default:
			if !registryPublic {
				t.Errorf("an internal registry's redirect was not followed: %v", err)
			}
		}
	}
}

func TestPublicIP(t *testing.T) {
	for s, want := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false,
		"192.168.1.1": false, "169.254.169.254": false, "fe80::1": false, "fc00::1": false, "100.64.0.1": false,
		"0.0.0.0": false, "224.0.0.1": false, "192.0.2.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true,
	} {
		if got := publicIP(net.ParseIP(s)); got != want {
			t.Errorf("publicIP(%s) = %v, want %v", s, got, want)
		}
	}
}
