package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the API side.
const (
	DefaultTimeout = 60 * time.Second // one API request, body included
	maxRedirects   = 10
	maxAttempts    = 4 // of a request answered 429, 5xx or cut off
	userAgent      = "ttsguard-hub/1"
)

// Error categories; every error of a Client wraps at most one of them, or an
// error of the URLChecker, or a *StatusError.
var (
	// ErrNotFound: the repository, revision or file does not exist (or is
	// private and the token, if any, cannot see it).
	ErrNotFound = errors.New("not found on the Hub")
	// ErrGated: the repository is gated: its files need a token of an
	// account that accepted its conditions.
	ErrGated = errors.New("gated repository")
	// ErrMismatch: a file's headers or bytes differ from the commit's listing.
	ErrMismatch = errors.New("file does not match the Hub's listing")
)

// StatusError is an unexpected HTTP status.
type StatusError struct {
	URL       string // without query
	Code      int
	ErrorCode string // the Hub's X-Error-Code header, if any
	Message   string // the Hub's X-Error-Message header, clipped
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("HTTP status %d from %q", e.Code, e.URL)
	if e.ErrorCode != "" {
		s += fmt.Sprintf(" (%s)", e.ErrorCode)
	}
	if e.Message != "" {
		s += fmt.Sprintf(": %q", e.Message)
	}
	return s
}

// URLChecker approves every URL before it is requested (the trust policy).
type URLChecker interface {
	AllowURL(u *url.URL) error
}

// Options configure a Client. Endpoint, TLS and Check are required.
type Options struct {
	Endpoint string      // the Hub's base URL (Env.Endpoint)
	Token    Token       // sent to the endpoint's origin only; may be unset
	TLS      *tls.Config // verifies servers; InsecureSkipVerify is refused
	Check    URLChecker  // approves every URL, redirects included
	Timeout  time.Duration
}

// Client talks to one Hub endpoint. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     Token
	check     URLChecker
	hc        *http.Client
	timeout   time.Duration
	retryWait func(attempt int) time.Duration
}

// New validates o and returns a Client. Its transport speaks HTTP/1.1, takes
// its proxy from the environment and never follows a redirect by itself.
func New(o Options) (*Client, error) {
	if err := checkEndpoint(o.Endpoint); err != nil {
		return nil, err
	}
	if o.TLS == nil || o.Check == nil {
		return nil, errors.New("hub: options: TLS and Check are required")
	}
	if o.TLS.InsecureSkipVerify {
		return nil, errors.New("hub: options: TLS.InsecureSkipVerify is refused")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	base, _ := url.Parse(strings.TrimRight(o.Endpoint, "/"))
	tc := o.TLS.Clone()
	tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	tc.NextProtos = []string{"http/1.1"}
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    30 * time.Second,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	return &Client{
		base: base, token: o.Token, check: o.Check, timeout: o.Timeout,
		hc: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		retryWait: func(attempt int) time.Duration { return min(500*time.Millisecond<<attempt, 8*time.Second) },
	}, nil
}

// Endpoint returns the Hub's base URL.
func (c *Client) Endpoint() string { return c.base.String() }

// CloseIdleConnections closes the connections kept for reuse.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// sameOrigin reports whether u has the endpoint's scheme, host and port.
func (c *Client) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Hostname(), c.base.Hostname()) &&
		portOf(u) == portOf(c.base)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// redacted is u for messages: no userinfo, no query.
func redacted(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	s := v.String()
	if u.RawQuery != "" {
		s += "?…"
	}
	return s
}

// do sends one request after the policy approved its URL: the token goes
// only to the endpoint's origin. Answers 429 and 5xx, and requests cut off
// before an answer, are retried a few times.
func (c *Client) do(ctx context.Context, method string, u *url.URL, extra http.Header) (*http.Response, error) {
	if err := c.check.AllowURL(u); err != nil {
		return nil, fmt.Errorf("hub: %s %q: %w", method, redacted(u), err)
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("hub: %s %q: %w", method, redacted(u), err)
		}
		req.Header.Set("User-Agent", userAgent)
		req.Header.Set("Accept-Encoding", "identity")
		for k, v := range extra {
			req.Header[k] = v
		}
		if c.token.IsSet() && c.sameOrigin(u) {
			req.Header.Set("Authorization", "Bearer "+c.token.value)
		}
		resp, err := c.hc.Do(req)
		retry := err != nil && ctx.Err() == nil
		if err == nil {
			retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusBadGateway ||
				resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout
			if !retry || attempt+1 >= maxAttempts {
				return resp, nil
			}
			drain(resp)
		}
		if !retry || attempt+1 >= maxAttempts {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("hub: %s %q: %w", method, redacted(u), err)
		}
		t := time.NewTimer(c.retryWait(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("hub: %s %q: %w", method, redacted(u), ctx.Err())
		case <-t.C:
		}
	}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// follow sends method to u and follows redirects that stay on the
// endpoint's origin (each approved by the policy); it returns the first
// response that is not such a redirect, with the chain of responses before
// it (bodies closed) and the URL that answered.
func (c *Client) follow(ctx context.Context, method string, u *url.URL, extra http.Header) (*http.Response, []*http.Response, *url.URL, error) {
	var chain []*http.Response
	for hop := 0; ; hop++ {
		resp, err := c.do(ctx, method, u, extra)
		if err != nil {
			return nil, chain, u, err
		}
		loc := resp.Header.Get("Location")
		if !isRedirect(resp.StatusCode) || loc == "" {
			return resp, chain, u, nil
		}
		next, err := u.Parse(loc)
		if err != nil {
			drain(resp)
			return nil, chain, u, fmt.Errorf("%w: redirect from %q to an invalid URL", ErrBadResponse, redacted(u))
		}
		if !c.sameOrigin(next) {
			return resp, chain, u, nil
		}
		drain(resp)
		if hop+1 >= maxRedirects {
			return nil, chain, u, fmt.Errorf("%w: more than %d redirects from %q", ErrBadResponse, maxRedirects, redacted(u))
		}
		chain = append(chain, resp)
		u = next
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// getJSON fetches one API document of at most MaxResponseBytes; it returns
// the body and the response's next-page link (resolved, "" when none).
func (c *Client) getJSON(ctx context.Context, u *url.URL, what string) ([]byte, string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, _, at, err := c.follow(ctx, http.MethodGet, u, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if err := c.statusError(resp, at, what); err != nil {
		return nil, "", err
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, "", fmt.Errorf("%w: %s: Content-Type %q from %q, want application/json", ErrBadResponse, what, clip(resp.Header.Get("Content-Type")), redacted(at))
	}
	if resp.ContentLength > MaxResponseBytes {
		return nil, "", fmt.Errorf("%w: %s: %q declares %d bytes, the limit is %d", ErrBadResponse, what, redacted(at), resp.ContentLength, MaxResponseBytes)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("hub: %s: reading %q: %w", what, redacted(at), err)
	}
	if len(data) > MaxResponseBytes {
		return nil, "", fmt.Errorf("%w: %s: %q is over %d bytes", ErrBadResponse, what, redacted(at), MaxResponseBytes)
	}
	next := ""
	if l := nextLink(resp.Header.Get("Link")); l != "" {
		nu, err := at.Parse(l)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %s: invalid next-page link from %q", ErrBadResponse, what, redacted(at))
		}
		next = nu.String()
	}
	return data, next, nil
}

// statusError maps a non-2xx answer to an error (nil for 2xx).
func (c *Client) statusError(resp *http.Response, at *url.URL, what string) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	se := &StatusError{URL: redacted(at), Code: resp.StatusCode,
		ErrorCode: clip(resp.Header.Get("X-Error-Code")), Message: clip(resp.Header.Get("X-Error-Message"))}
	hint := "set HF_TOKEN (or log in with `hf auth login`) to a token that may read it"
	if c.token.IsSet() {
		hint = "the " + c.token.String() + " may not read it"
	}
	switch {
	case se.ErrorCode == "GatedRepo":
		return fmt.Errorf("%s: %w: accept its conditions on the Hub, then %s: %w", what, ErrGated, hint, se)
	case se.ErrorCode == "RevisionNotFound" || se.ErrorCode == "EntryNotFound":
		return fmt.Errorf("%s: %w: %w", what, ErrNotFound, se)
	case se.ErrorCode == "RepoNotFound" || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w (or private: %s): %w", what, ErrNotFound, hint, se)
	}
	if ra := resp.Header.Get("Retry-After"); resp.StatusCode == http.StatusTooManyRequests && ra != "" {
		if s, err := strconv.Atoi(ra); err == nil {
			return fmt.Errorf("%s: rate limited, retry after %d s: %w", what, s, se)
		}
	}
	return fmt.Errorf("%s: %w", what, se)
}
