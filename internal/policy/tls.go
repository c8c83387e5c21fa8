package policy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
)

// TLSConfig returns the TLS settings for downloads: TLS 1.2 or later, and the
// system roots (which Go reads from SSL_CERT_FILE and SSL_CERT_DIR when set)
// plus the certificates of the policy's CA bundle. A CA bundle that cannot be
// read or holds no certificate is an error. Each call returns a new config.
func (p *Policy) TLSConfig() (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		return nil, fmt.Errorf("system certificate roots: %w", err)
	}
	if p.CABundle != "" {
		data, err := readBundle(p.CABundle)
		if err != nil {
			return nil, fmt.Errorf("ca_bundle %q: %w", p.CABundle, err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("ca_bundle %q: no PEM certificate in the file", p.CABundle)
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

func readBundle(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	return data, nil
}
