package policy

import (
	"errors"
	"net/url"
	"testing"
)

func TestAllowURL(t *testing.T) {
	p := &Policy{Sources: []string{
		"https://models.example.test/coqui/",    // a folder: everything under it
		"https://files.example.test/pub/tts",    // no slash: itself and below, on a segment boundary
		"https://whole.example.test",            // a whole host
		"https://port.example.test:8443/m/",     // an explicit port
		"http://127.0.0.1:8080/",                // loopback http, listed explicitly
		"http://[::1]/local/",                   // loopback v6, default port 80
		"http://localhost:9000/",                //
		"https://Mixed.Example.TEST/Case/Path/", // host case-insensitive, path case-sensitive
	}}
	tests := []struct {
		url, err string // err "" = allowed
	}{
		{"https://models.example.test/coqui/tts_models--en--ljspeech--vits.zip", ""},
		{"https://models.example.test/coqui/a/b/c?X-Amz-Signature=abc", ""},
		{"https://models.example.test/coqui/", ""},
		{"https://models.example.test:443/coqui/x", ""},
		{"https://MODELS.example.test/coqui/x", ""},
		{"https://models.example.test/coqui/x#frag", ""},
		{"https://models.example.test/coqui", `url "https://models.example.test/coqui" is not in the policy's sources`},
		{"https://models.example.test/coquix/y", `url "https://models.example.test/coquix/y" is not in the policy's sources`},
		{"https://models.example.test/other", `url "https://models.example.test/other" is not in the policy's sources`},
		// path boundary
		{"https://files.example.test/pub/tts", ""},
		{"https://files.example.test/pub/tts/", ""},
		{"https://files.example.test/pub/tts/model.pth", ""},
		{"https://files.example.test/pub/ttsology", `url "https://files.example.test/pub/ttsology" is not in the policy's sources`},
		{"https://files.example.test/pub/tts.zip", `url "https://files.example.test/pub/tts.zip" is not in the policy's sources`},
		// dot segments, encoded or not, never pass
		{"https://models.example.test/coqui/../secret", `url "https://models.example.test/coqui/../secret" path has a dot segment`},
		{"https://models.example.test/coqui/%2e%2e/secret", `url "https://models.example.test/coqui/%2e%2e/secret" path has a dot segment`},
		{"https://models.example.test/coqui/%2E%2E%2Fsecret", `url "https://models.example.test/coqui/%2E%2E%2Fsecret" path has a dot segment`},
		{"https://models.example.test/coqui/./x", `url "https://models.example.test/coqui/./x" path has a dot segment`},
		{"https://models.example.test/coqui/a%5C..%5Cb", `url "https://models.example.test/coqui/a%5C..%5Cb" path has a backslash`},
		{"https://models.example.test/coqui/a%00b", `url "https://models.example.test/coqui/a%00b" path has a control character`},
		// an encoded slash inside a segment is fine (the Hub's resolve-cache names nested files so)
		{"https://models.example.test/coqui/checkpoints%2Fconverter%2Fconfig.json", ""},
		// whole host
		{"https://whole.example.test", ""},
		{"https://whole.example.test/", ""},
		{"https://whole.example.test/any/thing", ""},
		{"https://sub.whole.example.test/x", `url "https://sub.whole.example.test/x" is not in the policy's sources`},
		{"https://whole.example.test.evil.test/x", `url "https://whole.example.test.evil.test/x" is not in the policy's sources`},
		// ports
		{"https://port.example.test:8443/m/x", ""},
		{"https://port.example.test/m/x", `url "https://port.example.test/m/x" is not in the policy's sources`},
		{"https://port.example.test:9443/m/x", `url "https://port.example.test:9443/m/x" is not in the policy's sources`},
		{"https://models.example.test:8443/coqui/x", `url "https://models.example.test:8443/coqui/x" is not in the policy's sources`},
		{"https://models.example.test:0443/coqui/x", ""},
		{"https://models.example.test:99999/coqui/x", `url "https://models.example.test:99999/coqui/x" has an invalid port`},
		// plain http: only loopback sources listed explicitly
		{"http://models.example.test/coqui/x", `url "http://models.example.test/coqui/x" is not in the policy's sources (plain http is allowed only for loopback sources listed explicitly)`},
		{"http://127.0.0.1:8080/model.zip", ""},
		{"http://127.0.0.1/model.zip", `url "http://127.0.0.1/model.zip" is not in the policy's sources (plain http is allowed only for loopback sources listed explicitly)`},
		{"http://127.0.0.1:8081/model.zip", `url "http://127.0.0.1:8081/model.zip" is not in the policy's sources (plain http is allowed only for loopback sources listed explicitly)`},
		{"https://127.0.0.1:8080/model.zip", `url "https://127.0.0.1:8080/model.zip" is not in the policy's sources`},
		{"http://[::1]/local/m", ""},
		{"http://[::1]:80/local/m", ""},
		{"http://[::1]:8080/local/m", `url "http://[::1]:8080/local/m" is not in the policy's sources (plain http is allowed only for loopback sources listed explicitly)`},
		{"http://localhost:9000/x", ""},
		{"http://LOCALHOST:9000/x", ""},
		{"http://127.0.0.2:8080/x", `url "http://127.0.0.2:8080/x" is not in the policy's sources (plain http is allowed only for loopback sources listed explicitly)`},
		// userinfo is refused, and never shown
		{"https://user:secret@models.example.test/coqui/x", `url "https://models.example.test/coqui/x" has userinfo, which is never allowed`},
		{"https://user@models.example.test/coqui/x", `url "https://models.example.test/coqui/x" has userinfo, which is never allowed`},
		// a query is not shown (it may carry a signature)
		{"https://evil.test/x?token=secret", `url "https://evil.test/x?…" is not in the policy's sources`},
		// other schemes and shapes
		{"ftp://models.example.test/coqui/x", `url "ftp://models.example.test/coqui/x" is not an http or https URL`},
		{"file:///etc/passwd", `url "file:///etc/passwd" is not an http or https URL`},
		{"/coqui/x", `url "/coqui/x" is not an http or https URL`},
		{"https:opaque", `url "https:opaque" has no host`},
		{"https:///coqui/x", `url "https:///coqui/x" has no host`},
		// case
		{"https://mixed.example.test/Case/Path/x", ""},
		{"https://mixed.example.test/case/path/x", `url "https://mixed.example.test/case/path/x" is not in the policy's sources`},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		err = p.AllowURL(u)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.url, err)
		case tt.err != "" && err == nil:
			t.Errorf("%s: allowed, want %s", tt.url, tt.err)
		case tt.err != "" && err.Error() != tt.err:
			t.Errorf("%s:\n got %s\nwant %s", tt.url, err, tt.err)
		case err != nil && !errors.Is(err, ErrNotAllowed):
			t.Errorf("%s: %v does not wrap ErrNotAllowed", tt.url, err)
		}
	}
	if err := p.AllowURL(nil); err == nil || err.Error() != "url is missing" {
		t.Errorf("nil: %v", err)
	}
	if err := p.AllowURLString("https://a b/%zz"); err == nil || err.Error() != "url is not a valid URL" {
		t.Errorf("unparsable: %v", err)
	}
}

// TestAllowURLHandBuilt: a hand-built policy with an invalid source fails
// closed (the entry never matches).
func TestAllowURLHandBuilt(t *testing.T) {
	p := &Policy{Sources: []string{"http://example.test/", "example.test", "https://u:p@example.test/"}}
	for _, s := range []string{"http://example.test/x", "https://example.test/x"} {
		if err := p.AllowURLString(s); err == nil {
			t.Errorf("%s allowed by invalid sources", s)
		}
	}
	if err := (&Policy{}).AllowURLString("https://example.test/"); err == nil {
		t.Error("zero Policy allowed a URL")
	}
}

// TestSourcesParse: every source kind the validation accepts.
func TestSourcesParse(t *testing.T) {
	good := []string{"https://a.test/", "https://a.test", "https://a.test/p", "https://a.test:1/",
		"http://127.0.0.1/", "http://127.0.0.1:65535/x/", "http://[::1]/", "http://localhost", "HTTPS://a.test/",
		"https://a.test/%7Euser/"}
	for _, s := range good {
		if _, err := parseSource(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{"http://a.test/", "http://127.0.0.2/", "http://[::2]/", "https://a.test:/", "https://a.test:0/",
		"https:a.test", "//a.test/", "https://a.test/a\\b", "https://a.test/..", "https://a.test?"}
	for _, s := range bad {
		if _, err := parseSource(s); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}
