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
		// carried IPv4 (the second review of 2026-12-04): NAT64 and 6to4 by the address they carry
		"64:ff9b::808:808": true, "64:ff9b::a00:1": false, "64:ff9b:1::808:808": true, "2002:7f00:1::1": false, "2002:808:808::1": true,
		"::7f00:1": false, "0.1.2.3": false,
	} {
		if got := publicIP(net.ParseIP(s)); got != want {
			t.Errorf("publicIP(%s) = %v, want %v", s, got, want)
		}
	}
}

// TestDialGuardDecides: the two bypasses of the attack review of
// 2026-12-04. A proxy decides nothing (a dial to a proxy on a private
// address once opened the guard), and a redirect that only a proxy would
// dial is refused when it resolves to a non-public address. The
// registry's first connection decides; after a public one, a connection
// to the registry's own name that lands on a non-public address (a name
// with several addresses, or rebound) is refused at the socket.
func TestDialGuardDecides(t *testing.T) {
	l4, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	l6, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer l6.Close()
	go func() {
		for _, l := range []net.Listener{l4, l6} {
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}
	}()
	_, p4, _ := net.SplitHostPort(l4.Addr().String())
	_, p6, _ := net.SplitHostPort(l6.Addr().String())
	only127 := func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }
	ctx := context.Background()

	// a proxy on an internal address is dialled, and opens nothing
	g := newDialGuard()
	g.public = only127
	g.allow("registry.invalid")
	g.proxies["::1"] = true
	c, err := g.dial(ctx, "tcp", net.JoinHostPort("::1", p6))
	if err != nil {
		t.Fatalf("the proxy: %v", err)
	}
	c.Close()
	if g.open() {
		t.Fatal("a dial to the proxy opened the guard")
	}
	req, _ := http.NewRequest(http.MethodGet, "https://[::1]:"+p6+"/latest/meta-data", nil)
	if err := g.checkRedirect(ctx, req); err == nil || !strings.Contains(err.Error(), "not a public address") {
		t.Errorf("a proxied redirect to ::1: %v", err)
	}

	// a registry reached at two addresses (one name that resolves to
	// 127.0.0.1, public here, and ::1, or is rebound): the first
	// connection decides public; the next one, to ::1, is refused
	g = newDialGuard()
	g.public = only127
	g.allow("127.0.0.1")
	g.allow("::1")
	if c, err = g.dial(ctx, "tcp", "127.0.0.1:"+p4); err != nil {
		t.Fatalf("the registry: %v", err)
	}
	c.Close()
	if g.open() {
		t.Fatal("a public registry opened the guard")
	}
	if c, err = g.dial(ctx, "tcp", net.JoinHostPort("::1", p6)); err == nil {
		c.Close()
		t.Fatal("after a public first connection, a registry name's non-public address was dialled")
	} else if !strings.Contains(err.Error(), "not a public address") {
		t.Errorf("the registry's other address: %v", err)
	}
	// an internal registry: its first connection opens the guard
	g = newDialGuard()
	g.public = only127
	g.allow("::1")
	if c, err = g.dial(ctx, "tcp", net.JoinHostPort("::1", p6)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !g.open() {
		t.Error("an internal registry did not open the guard")
	}
}

// TestGuardedTransport: a request to a host that is not the registry's (a
// token realm) is checked before it is sent, also when a proxy would carry
// it (dial never sees where it goes): an internal realm of a public
// registry is refused, the registry itself and a public realm are not.
func TestGuardedTransport(t *testing.T) {
	g := newDialGuard()
	g.public = func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }
	g.allow("registry.invalid")
	sent := 0
	rt := guardedTransport{g, roundTripFunc(func(*http.Request) (*http.Response, error) {
		sent++
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	})}
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://[::1]:5000/token?service=x", false},    // an internal realm
		{"https://127.0.0.1:5000/token?service=x", true}, // public here
		{"https://registry.invalid/v2/", true},           // the registry: dial checks it
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		_, err := rt.RoundTrip(req)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.url, err)
		}
	}
	if sent != 2 {
		t.Errorf("%d requests sent, want 2", sent)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
