package oci

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// dialGuard keeps a registry's redirects from reaching the inside of the
// network (SSRF): registries redirect blob downloads to object storage on
// other hosts, which is fine for content checked against its digest, but a
// public registry (or one that an attacker controls) must not make ttsguard
// connect to a loopback, private, link-local or otherwise non-public
// address. Hosts the client was asked to reach (the registries of its
// references) and the proxies it uses are dialled as they are; any other
// host is one only a redirect led to, and its connection is refused at the
// socket (after name resolution, so DNS rebinding cannot pass) unless it is
// public. A registry that itself has a non-public address is an internal
// deployment whose storage is internal too: then redirects may go anywhere.
type dialGuard struct {
	mu       sync.Mutex
	direct   map[string]bool // host names dialled as they are
	internal bool            // a registry host had a non-public address
	public   func(net.IP) bool
}

func newDialGuard() *dialGuard {
	return &dialGuard{direct: map[string]bool{}, public: publicIP}
}

// publicIP reports whether ip is a global unicast address outside the
// private, shared (CGNAT) and documentation ranges.
func publicIP(ip net.IP) bool {
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, n := range nonPublic {
		if n.Contains(ip) {
			return false
		}
	}
	return true
}

var nonPublic = func() []*net.IPNet {
	var out []*net.IPNet
	for _, c := range []string{"100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "2001:db8::/32", "64:ff9b::/96"} {
		_, n, _ := net.ParseCIDR(c)
		out = append(out, n)
	}
	return out
}()

// allow marks host as one to dial as it is (a registry, a proxy).
func (g *dialGuard) allow(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.direct[host] = true
}

// proxy is http.ProxyFromEnvironment, with the proxy it picks allowed.
func (g *dialGuard) proxy(req *http.Request) (*url.URL, error) {
	u, err := http.ProxyFromEnvironment(req)
	if u != nil {
		g.allow(u.Hostname())
	}
	return u, err
}

func (g *dialGuard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	direct, internal := g.direct[host], g.internal
	g.mu.Unlock()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if !direct && !internal {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			h, _, _ := net.SplitHostPort(address)
			if ip := net.ParseIP(h); ip == nil || !g.public(ip) {
				return fmt.Errorf("oci: redirect to %q refused: it resolves to %s, not a public address, and the registry is public", host, h)
			}
			return nil
		}
	}
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil && direct {
		if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok && !g.public(ta.IP) {
			g.mu.Lock()
			g.internal = true
			g.mu.Unlock()
		}
	}
	return conn, err
}
