package policy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/hub"
)

// ErrNotAllowed is the category of every refusal by AllowURL (*URLError
// wraps it): a policy violation.
var ErrNotAllowed = errors.New("not allowed by the policy")

// URLError is a URL the policy refuses.
type URLError struct {
	// URL is the refused URL for messages: scheme, host and path only (no
	// userinfo; a query, which may carry a signature, shows as "?…").
	URL    string
	Reason string
}

func (e *URLError) Error() string {
	if e.URL == "" {
		return "url " + e.Reason
	}
	return fmt.Sprintf("url %q %s", e.URL, e.Reason)
}

// Unwrap returns ErrNotAllowed.
func (e *URLError) Unwrap() error { return ErrNotAllowed }

// source is a parsed entry of Policy.Sources.
type source struct {
	scheme, host, port string // host lowercased, port explicit or the scheme's default
	path               string // decoded, starts with "/"
}

// loopbackHosts may be reached over plain http, when a source lists them.
var loopbackHosts = map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true}

func defaultPort(scheme string) string {
	if scheme == "http" || scheme == "oci+http" {
		return "80"
	}
	return "443"
}

// parseSource parses and validates one sources entry.
func parseSource(s string) (source, error) {
	u, err := url.Parse(s)
	if err != nil {
		return source{}, fmt.Errorf("%q is not a URL", s)
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case (u.Scheme == "http" || u.Scheme == "oci+http") && loopbackHosts[host]:
	case u.Scheme == "http":
		return source{}, fmt.Errorf("%q: plain http is allowed only for 127.0.0.1, [::1] and localhost; use https", s)
	case u.Scheme == "oci+http":
		return source{}, fmt.Errorf("%q: a plain-HTTP registry is allowed only on 127.0.0.1, [::1] and localhost; use oci://", s)
	case u.Scheme != "https" && u.Scheme != "oci":
		return source{}, fmt.Errorf("%q: want an https URL or an oci:// registry prefix", s)
	}
	switch {
	case u.Opaque != "" || u.Host == "" || host == "":
		return source{}, fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return source{}, fmt.Errorf("%q: userinfo is not allowed", s)
	case u.RawQuery != "" || u.ForceQuery:
		return source{}, fmt.Errorf("%q: a query is not allowed", s)
	case u.Fragment != "" || strings.HasSuffix(s, "#"):
		return source{}, fmt.Errorf("%q: a fragment is not allowed", s)
	}
	port := u.Port()
	if port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return source{}, fmt.Errorf("%q: empty port", s)
		}
		port = defaultPort(u.Scheme)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return source{}, fmt.Errorf("%q: port %q out of range", s, port)
	} else {
		port = strconv.Itoa(n)
	}
	p := u.Path
	if p == "" {
		p = "/"
	}
	if why := badPath(p); why != "" {
		return source{}, fmt.Errorf("%q: path %s", s, why)
	}
	return source{scheme: u.Scheme, host: host, port: port, path: p}, nil
}

// badPath says why a decoded URL path is refused: dot segments (which a
// server resolves, escaping a prefix), backslashes (which some servers treat
// as slashes) and control characters; "" when it is fine.
func badPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "is not absolute"
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return "has a dot segment"
		}
	}
	for _, r := range p {
		if r == '\\' {
			return "has a backslash"
		}
		if r < 0x20 || r == 0x7f {
			return "has a control character"
		}
	}
	return ""
}

// allows reports whether the source allows a request for scheme, host, port
// and decoded path. A source path ending in "/" allows every path under it;
// any other source path allows itself and the paths under it on a segment
// boundary: "/a/b" allows "/a/b" and "/a/b/c", never "/a/bc".
func (s source) allows(scheme, host, port, path string) bool {
	if scheme != s.scheme || host != s.host || port != s.port {
		return false
	}
	if strings.HasSuffix(s.path, "/") {
		return strings.HasPrefix(path, s.path)
	}
	return path == s.path || strings.HasPrefix(path, s.path+"/")
}

// displayURL is u for messages: no userinfo, the query elided.
func displayURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	v := url.URL{Scheme: u.Scheme, Opaque: u.Opaque, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	s := v.String()
	if u.RawQuery != "" || u.ForceQuery {
		s += "?…"
	}
	return s
}

// AllowURL returns nil when the policy allows a request for u, or else a
// *URLError (wrapping ErrNotAllowed) that names the URL and says why. Callers
// check the first URL and every redirect target before requesting it.
//
// u is allowed when it is an absolute http or https URL without userinfo whose
// decoded path has no dot segment, backslash or control character, and one
// of the policy's sources matches: same scheme, same host (case-insensitive),
// same port (an absent port is the scheme's default) and a path under the
// source's path on a segment boundary (see Policy.Sources). The query and
// fragment are not compared. Plain http is allowed only by a loopback source
// listed explicitly, so it never matches otherwise.
func (p *Policy) AllowURL(u *url.URL) error {
	if u == nil {
		return &URLError{Reason: "is missing"}
	}
	refuse := func(why string) error { return &URLError{URL: displayURL(u), Reason: why} }
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	switch {
	case scheme != "https" && scheme != "http":
		return refuse("is not an http or https URL")
	case u.Opaque != "" || host == "":
		return refuse("has no host")
	case u.User != nil:
		return refuse("has userinfo, which is never allowed")
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return refuse("has an invalid port")
	} else {
		port = strconv.Itoa(n)
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	if why := badPath(path); why != "" {
		return refuse("path " + why)
	}
	for _, s := range p.Sources {
		src, err := parseSource(s)
		if err != nil {
			continue // a validated policy has none; fail closed for hand-built ones
		}
		if src.allows(scheme, host, port, path) {
			return nil
		}
	}
	if scheme == "http" {
		return refuse("is not in the policy's sources (plain http is allowed only for loopback sources listed explicitly)")
	}
	return refuse("is not in the policy's sources")
}

// AllowOCI returns nil when a source allows the OCI repository repo on
// the registry host:port (port "" is 443), and whether that source lets it
// be reached over plain HTTP: "oci://HOST[:PORT]/PREFIX" allows the
// repositories under PREFIX on a segment boundary over TLS;
// "oci+http://LOOPBACK[:PORT]/PREFIX" the same over plain HTTP, for a
// registry on this machine only. The error is a *URLError naming the
// repository.
func (p *Policy) AllowOCI(host, port, repo string) (plainHTTP bool, err error) {
	host = strings.ToLower(host)
	if port == "" {
		port = "443"
	}
	shown := "oci://" + host + ":" + port + "/" + repo
	if why := badPath("/" + repo); why != "" || repo == "" {
		return false, &URLError{URL: shown, Reason: "has an invalid repository path"}
	}
	for _, s := range p.Sources {
		src, err := parseSource(s)
		if err != nil {
			continue
		}
		if src.allows("oci", host, port, "/"+repo) {
			return false, nil
		}
		if src.allows("oci+http", host, port, "/"+repo) {
			return true, nil
		}
	}
	return false, &URLError{URL: shown, Reason: "is not in the policy's sources (add an oci://HOST[:PORT]/PREFIX source)"}
}

// AllowURLString parses s and calls AllowURL. A Hugging Face source,
// "hf://OWNER/REPO[@REVISION]" (hub.ParseSource), is checked for its form
// only: the Hub endpoint it leads to comes from the environment
// (HF_ENDPOINT), so each URL a pull derives from it (the API, the
// commit-pinned resolve URL, every redirect) is checked by AllowURL when it
// is requested.
func (p *Policy) AllowURLString(s string) error {
	if hub.IsSource(s) {
		if _, err := hub.ParseSource(s); err != nil {
			return &URLError{Reason: err.Error()}
		}
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "oci://"); ok {
		hostport, repo, _ := strings.Cut(rest, "/")
		repo, _, _ = strings.Cut(repo, "@")
		repo, _, _ = strings.Cut(repo, ":")
		host, port := hostport, ""
		if h, pt, err := net.SplitHostPort(hostport); err == nil {
			host, port = h, pt
		}
		_, err := p.AllowOCI(host, port, repo)
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		return &URLError{Reason: "is not a valid URL"} // s is not shown: it may hold a password
	}
	return p.AllowURL(u)
}
