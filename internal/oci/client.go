package oci

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// Options configure a Client.
type Options struct {
	// TLS verifies registries (required unless PlainHTTP).
	TLS *tls.Config
	// PlainHTTP speaks http:// to a loopback registry. It is refused for
	// any other host.
	PlainHTTP bool
	// Credentials for a registry host[:port]; nil reads the Docker
	// configuration as OCI clients do ($DOCKER_CONFIG/config.json or
	// ~/.docker/config.json, with its credential helpers).
	Credentials auth.CredentialFunc
	// UserAgent is sent with every request.
	UserAgent string
}

// Client talks to OCI registries.
type Client struct {
	o     Options
	hc    *http.Client
	guard *dialGuard
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.TLS == nil && !o.PlainHTTP {
		return nil, errors.New("oci: options: TLS is required")
	}
	guard := newDialGuard()
	tr := &http.Transport{
		Proxy:                 guard.proxy,
		DialContext:           guard.dial,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     true,
	}
	if o.TLS != nil {
		tr.TLSClientConfig = o.TLS.Clone()
	}
	hc := &http.Client{Transport: guardedTransport{guard, tr}, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		// Registries redirect blob downloads to storage (S3, a CDN):
		// content is checked against its digest, so the host may change,
		// but never https to http, not endlessly, and not from a public
		// registry to a non-public address (dialGuard).
		if len(via) >= 10 {
			return fmt.Errorf("oci: more than 10 redirects")
		}
		if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("oci: redirect from https to %s refused", req.URL.Scheme)
		}
		if req.URL.Scheme != "https" && !Loopback(req.URL.Hostname()) {
			return fmt.Errorf("oci: redirect to plain HTTP on %q refused (plain HTTP is for a loopback registry only)", req.URL.Host)
		}
		return guard.checkRedirect(req.Context(), req)
	}}
	return &Client{o: o, hc: hc, guard: guard}, nil
}

// CloseIdleConnections closes idle connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Loopback reports whether host (no port) is a loopback name or address.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// repository is the oras repository of ref.
func (c *Client) repository(ref Ref) (*remote.Repository, error) {
	host, _, err := ref.HostPort()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.o.PlainHTTP && !Loopback(host) {
		return nil, fmt.Errorf("%w: %s: plain HTTP is allowed only for a loopback registry", ErrInvalid, ref)
	}
	c.guard.allow(host)
	repo, err := remote.NewRepository(ref.Host + "/" + ref.Repository)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, ref, err)
	}
	cred := c.o.Credentials
	if cred == nil {
		store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{})
		if err != nil {
			return nil, fmt.Errorf("oci: reading the Docker credentials configuration: %w", err)
		}
		cred = credentials.Credential(store)
	}
	ac := &auth.Client{Client: c.hc, Credential: cred, Cache: auth.NewCache()}
	if c.o.UserAgent != "" {
		ac.Header = http.Header{"User-Agent": {c.o.UserAgent}}
	}
	repo.Client = ac
	repo.PlainHTTP = c.o.PlainHTTP
	repo.MaxMetadataBytes = MaxManifestBytes
	return repo, nil
}
