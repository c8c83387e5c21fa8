package fetch

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Defaults and fixed limits of the download side.
const (
	DefaultMaxBytes       int64 = 64 << 30
	DefaultConnectTimeout       = 30 * time.Second
	DefaultIdleTimeout          = 60 * time.Second
	DefaultRetries              = 5
	// MaxRedirects is the longest redirect chain followed for one request.
	MaxRedirects = 10
	// progressEvery is the shortest interval between two Progress calls.
	progressEvery = 100 * time.Millisecond
	// copyBufSize is the size of the buffer the body is read into.
	copyBufSize = 256 << 10
)

// Error categories of Get; every error returned wraps at most one of them
// (or a *StatusError), and names the requested URL once (and a redirect
// target it concerns once).
var (
	// ErrNotAllowed: a URL or redirect target was refused by the URLChecker,
	// is not http(s), carries user credentials, downgrades https to http, or
	// the redirect chain is longer than MaxRedirects.
	ErrNotAllowed = errors.New("url not allowed")
	// ErrHTML: the response is an HTML page (by Content-Type or content).
	ErrHTML = errors.New("an HTML page is never a model")
	// ErrTooLarge: the declared or actual size exceeds Options.MaxBytes.
	ErrTooLarge = errors.New("download too large")
	// ErrTruncated: the connection ended before the declared length, and
	// resuming failed or was exhausted.
	ErrTruncated = errors.New("download truncated")
	// ErrIdleTimeout: no byte arrived for Options.IdleTimeout.
	ErrIdleTimeout = errors.New("idle timeout")
	// ErrBadResponse: a response that cannot be a faithful copy of the
	// resource (encoded body, Content-Range or validator that does not match
	// the request, a size that changed between attempts).
	ErrBadResponse = errors.New("bad response")
)

// StatusError is an HTTP status other than the one expected.
type StatusError struct {
	URL    string // the URL that answered (after redirects)
	Code   int
	Status string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("unexpected HTTP status %q from %q", e.Status, e.URL)
}

// URLChecker approves a URL before the first request and after every redirect
// (the policy implements it). AllowURL must be safe for concurrent use; a
// non-nil error refuses the URL and is wrapped, with ErrNotAllowed, into the
// error Get returns; its message is the reason Get gives (say that the URL is
// refused; naming the URL with %q is fine, Get then does not repeat it).
type URLChecker interface {
	AllowURL(u *url.URL) error
}

// Progress is one report of a running download.
type Progress struct {
	URL   string        // the requested URL
	Done  int64         // bytes of the file written so far
	Total int64         // expected size, -1 when unknown
	Rate  float64       // bytes per second since Get started
	ETA   time.Duration // remaining time at Rate; 0 when unknown
}

// Options configure a Client. Check and TLS are required.
type Options struct {
	// Check approves every URL (required).
	Check URLChecker
	// TLS verifies servers (required). It is cloned; InsecureSkipVerify is
	// refused. Its MinVersion is raised to TLS 1.2 when lower.
	TLS *tls.Config
	// MaxBytes caps one download (0: DefaultMaxBytes).
	MaxBytes int64
	// ConnectTimeout bounds the TCP connect and the TLS handshake
	// (0: DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// IdleTimeout bounds the wait for the response headers and for every
	// next byte of the body (0: DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Retries is how many times a cut transfer is resumed (0: DefaultRetries;
	// negative: never).
	Retries int
	// Progress, when set, is called on the goroutine of Get at most about
	// ten times a second, and once more when the download completes.
	Progress func(Progress)
	// NoSync skips the fsync at the end of Get, for a caller that syncs what
	// it keeps itself (the store fsyncs every file it commits) and deletes
	// the rest (an archive it extracts).
	NoSync bool
}

// Client downloads files. It is safe for concurrent use.
type Client struct {
	noSync    bool
	check     URLChecker
	hc        *http.Client
	maxBytes  int64
	idle      time.Duration
	connect   time.Duration
	retries   int
	progress  func(Progress)
	retryWait func(attempt int) time.Duration
	now       func() time.Time
}

// New validates o and returns a Client. The transport speaks HTTP/1.1 only,
// asks for and accepts only unencoded bodies, and takes its proxy from the
// environment (HTTPS_PROXY, NO_PROXY); a proxy never sees inside TLS.
func New(o Options) (*Client, error) {
	if o.Check == nil {
		return nil, errors.New("fetch: options: Check is required")
	}
	if o.TLS == nil {
		return nil, errors.New("fetch: options: TLS is required")
	}
	if o.TLS.InsecureSkipVerify {
		return nil, errors.New("fetch: options: TLS.InsecureSkipVerify is refused")
	}
	if o.MaxBytes < 0 || o.ConnectTimeout < 0 || o.IdleTimeout < 0 {
		return nil, errors.New("fetch: options: MaxBytes and timeouts must not be negative")
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	tc := o.TLS.Clone()
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	tc.NextProtos = []string{"http/1.1"}
	dialer := &net.Dialer{Timeout: o.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    o.ConnectTimeout,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		ReadBufferSize:         64 << 10,
		ForceAttemptHTTP2:      false,
	}
	c := &Client{
		check:    o.Check,
		maxBytes: o.MaxBytes,
		idle:     o.IdleTimeout,
		connect:  o.ConnectTimeout,
		retries:  o.Retries,
		progress: o.Progress,
		noSync:   o.NoSync,
		retryWait: func(attempt int) time.Duration {
			return min(250*time.Millisecond<<attempt, 8*time.Second)
		},
		now: time.Now,
	}
	c.hc = &http.Client{Transport: tr, CheckRedirect: c.checkRedirect}
	return c, nil
}

// checkURL applies the fixed rules and then the URLChecker.
func (c *Client) checkURL(u *url.URL) error {
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%w: scheme %q is not https", ErrNotAllowed, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: no host", ErrNotAllowed)
	}
	if u.User != nil {
		return fmt.Errorf("%w: credentials in the URL", ErrNotAllowed)
	}
	if err := c.check.AllowURL(u); err != nil {
		return &refusal{err}
	}
	return nil
}

// refusal is a URLChecker's error, an ErrNotAllowed: "not allowed: " and
// the checker's reason, which often names the URL (as the policy does), so
// that it does not read "url not allowed: url ... is not in the policy's
// sources".
type refusal struct{ err error }

func (e *refusal) Error() string        { return "not allowed: " + e.err.Error() }
func (e *refusal) Unwrap() error        { return e.err }
func (e *refusal) Is(target error) bool { return target == ErrNotAllowed }

// redirectError is a refused redirect: it names the redirect target (the
// URL of the *url.Error it comes in may be a relative Location).
type redirectError struct{ err error }

func (e *redirectError) Error() string { return e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }

// checkRedirect re-checks every redirect target.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= MaxRedirects {
		return &redirectError{fmt.Errorf("%w: more than %d redirects", ErrNotAllowed, MaxRedirects)}
	}
	prev, to := via[len(via)-1].URL, req.URL.Redacted()
	if prev.Scheme == "https" && req.URL.Scheme != "https" {
		return &redirectError{fmt.Errorf("redirect to %q: %w: downgrade from https", to, ErrNotAllowed)}
	}
	if err := c.checkURL(req.URL); err != nil {
		if mentions(err, to) {
			return &redirectError{fmt.Errorf("redirect %w", err)} // "redirect not allowed: url ..."
		}
		return &redirectError{fmt.Errorf("redirect to %q: %w", to, err)}
	}
	return nil
}

// CloseIdleConnections closes the connections kept for reuse.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }
