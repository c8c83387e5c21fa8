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
// address. The first connection to a host the client was asked to reach
// (the registry of its reference) decides: a registry that has a
// non-public address is an internal deployment whose storage is internal
// too, and then redirects may go anywhere; otherwise every later
// connection, to the registry's own name included (a name may resolve to
// several addresses, or be rebound), is refused at the socket, after name
// resolution, unless its address is public. Proxies from the environment
// are dialled as they are and decide nothing; a proxied redirect is
// resolved here and checked in checkRedirect (as this host resolves it:
// the proxy may see other addresses).
type dialGuard struct {
	mu       sync.Mutex
	direct   map[string]bool // registry host names
	proxies  map[string]bool // proxy host names
	decided  bool            // a registry connection has been made
	internal bool            // ... to a non-public address
	public   func(net.IP) bool
}

func newDialGuard() *dialGuard {
	return &dialGuard{direct: map[string]bool{}, proxies: map[string]bool{}, public: publicIP}
}

// publicIP reports whether ip is a global unicast address outside the
// private, shared (CGNAT) and documentation ranges. An IPv6 address that
// carries an IPv4 one (NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4
// 2002::/16) is judged by that IPv4 address: a public registry reached
// through DNS64 is public, 6to4 of 127.0.0.1 is not.
func publicIP(ip net.IP) bool {
	if v4 := embeddedIPv4(ip); v4 != nil {
		return publicIP(v4)
	}
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
	for _, c := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "2001:db8::/32", "::/96"} {
		_, n, _ := net.ParseCIDR(c)
		out = append(out, n)
	}
	return out
}()

// embeddedIPv4 is the IPv4 address a NAT64 (64:ff9b::/96, 64:ff9b:1::/48,
// the last 32 bits) or 6to4 (2002::/16, bits 16-48) address carries; nil
// for any other.
func embeddedIPv4(ip net.IP) net.IP {
	if ip.To4() != nil || len(ip) != net.IPv6len {
		return nil
	}
	switch {
	case ip[0] == 0x00 && ip[1] == 0x64 && ip[2] == 0xff && ip[3] == 0x9b && (ip[4]|ip[5]|ip[6]|ip[7]|ip[8]|ip[9]|ip[10]|ip[11] == 0 || ip[4] == 0 && ip[5] == 1):
		return net.IPv4(ip[12], ip[13], ip[14], ip[15])
	case ip[0] == 0x20 && ip[1] == 0x02:
		return net.IPv4(ip[2], ip[3], ip[4], ip[5])
	}
	return nil
}

// allow marks host as a registry of this client.
func (g *dialGuard) allow(host string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.direct[host] = true
}

// proxy is http.ProxyFromEnvironment, noting the proxy it picks.
func (g *dialGuard) proxy(req *http.Request) (*url.URL, error) {
	u, err := http.ProxyFromEnvironment(req)
	if u != nil {
		g.mu.Lock()
		g.proxies[u.Hostname()] = true
		g.mu.Unlock()
	}
	return u, err
}

// open reports whether connections may go to any address: a registry of
// this client turned out to be internal.
func (g *dialGuard) open() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.decided && g.internal
}

func (g *dialGuard) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	proxy, direct, decided, internal := g.proxies[host], g.direct[host], g.decided, g.internal
	g.mu.Unlock()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	deciding := direct && !decided && !proxy
	if !proxy && !deciding && !internal {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			h, _, _ := net.SplitHostPort(address)
			if ip := net.ParseIP(h); ip == nil || !g.public(ip) {
				return fmt.Errorf("oci: connection to %q refused: it resolves to %s, not a public address, and the registry is public", host, h)
			}
			return nil
		}
	}
	conn, err := d.DialContext(ctx, network, addr)
	if err == nil && deciding {
		ta, _ := conn.RemoteAddr().(*net.TCPAddr)
		g.mu.Lock()
		if !g.decided {
			g.decided, g.internal = true, ta == nil || !g.public(ta.IP)
		}
		g.mu.Unlock()
	}
	return conn, err
}

// checkRedirect refuses a redirect to a host that resolves (here) to a
// non-public address, unless the registry is internal. It is what guards a
// proxied redirect, which dial never sees; an unproxied one is checked
// again at its socket.
func (g *dialGuard) checkRedirect(ctx context.Context, req *http.Request) error {
	if g.open() {
		return nil
	}
	host := req.URL.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return fmt.Errorf("oci: redirect to %q: %w", host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if !g.public(ip) {
			return fmt.Errorf("oci: redirect to %q refused: it resolves to %s, not a public address, and the registry is public", host, ip)
		}
	}
	return nil
}

// guardedTransport checks, before it is sent, every request to a host that
// is not a registry of the client (a token realm, a redirect target) as
// checkRedirect does: through a proxy, dial never sees where a request
// goes (the second review of 2026-12-04 had a registry's token realm reach
// an internal host, with the registry's credentials, through a proxy).
type guardedTransport struct {
	g  *dialGuard
	rt http.RoundTripper
}

func (t guardedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.g.mu.Lock()
	direct := t.g.direct[req.URL.Hostname()]
	t.g.mu.Unlock()
	if !direct {
		if err := t.g.checkRedirect(req.Context(), req); err != nil {
			return nil, err
		}
	}
	return t.rt.RoundTrip(req)
}
