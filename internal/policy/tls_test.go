package policy

import (
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, cfg *tls.Config, url string) error {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func TestTLSConfig(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemData, 0o644); err != nil {
		t.Fatal(err)
	}

	p := &Policy{}
	cfg, err := p.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.InsecureSkipVerify {
		t.Errorf("config: %+v", cfg)
	}
	if err := get(t, cfg, srv.URL); err == nil {
		t.Error("an unknown CA was trusted")
	}

	p.CABundle = bundle
	cfg, err = p.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := get(t, cfg, srv.URL); err != nil {
		t.Errorf("CA bundle not trusted: %v", err)
	}

	// errors
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("no pem here\n"), 0o644)
	for bundle, want := range map[string]string{
		empty:                         `ca_bundle "` + empty + `": no PEM certificate in the file`,
		filepath.Join(dir, "missing"): `ca_bundle "` + filepath.Join(dir, "missing") + `": open ` + filepath.Join(dir, "missing") + `: no such file or directory`,
	} {
		if _, err := (&Policy{CABundle: bundle}).TLSConfig(); err == nil || err.Error() != want {
			t.Errorf("TLSConfig(%s) = %v, want %s", bundle, err, want)
		}
	}
}

// TestSSLCertFile: Go's SSL_CERT_FILE keeps shaping the system roots. The
// system pool is read once per process, so a child process checks it.
func TestSSLCertFile(t *testing.T) {
	if url := os.Getenv("TTSGUARD_TEST_TLS_URL"); url != "" {
		cfg, err := (&Policy{}).TLSConfig()
		if err != nil {
			t.Fatal(err)
		}
		if err := get(t, cfg, url); err != nil {
			t.Fatalf("SSL_CERT_FILE root not trusted: %v", err)
		}
		return
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	cmd := exec.Command(os.Args[0], "-test.run=^TestSSLCertFile$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+bundle, "SSL_CERT_DIR="+t.TempDir(), "TTSGUARD_TEST_TLS_URL="+srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
