package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAllowOCI: oci:// sources allow repositories under their prefix over
// TLS; oci+http:// only on loopback, and says so.
func TestAllowOCI(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "p.yaml")
	yaml := "version: 1\nsources:\n  - oci://reg.example/tts/\n  - oci://reg.example:5000/team\n  - oci+http://127.0.0.1:5000/local\n" +
		"models:\n  m:\n    source: oci://reg.example/tts/vits:v1\n"
	if err := os.WriteFile(f, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host, port, repo string
		ok, plain        bool
	}{
		{"reg.example", "", "tts/vits", true, false},
		{"REG.example", "443", "tts/a/b", true, false},
		{"reg.example", "5000", "team", true, false},
		{"reg.example", "5000", "team/x", true, false},
		{"reg.example", "5000", "teamx", false, false},
		{"reg.example", "", "other/vits", false, false},
		{"reg.example", "5001", "team", false, false},
		{"127.0.0.1", "5000", "local/m", true, true},
		{"127.0.0.1", "5000", "elsewhere", false, false},
		{"reg.example", "", "tts/../x", false, false},
	} {
		plain, err := p.AllowOCI(c.host, c.port, c.repo)
		if (err == nil) != c.ok || plain != c.plain {
			t.Errorf("%s:%s/%s: plain %v, %v", c.host, c.port, c.repo, plain, err)
		}
		if err != nil && !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s: %v is not ErrNotAllowed", c.repo, err)
		}
	}
	// An oci source never allows an https URL, and the reverse.
	if err := p.AllowURLString("https://reg.example/tts/vits"); err == nil {
		t.Error("an oci:// source allowed an https URL")
	}
	for _, bad := range []string{"oci+http://reg.example/x", "oci://user@reg.example/x", "oci://reg.example/x?y"} {
		y := "version: 1\nsources: [\"" + bad + "\"]\n"
		if err := os.WriteFile(f, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(f); err == nil || !strings.Contains(err.Error(), "sources[0]") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	y := "version: 1\nsources: [\"oci://reg.example/tts/\"]\nmodels:\n  m:\n    source: oci://other.example/tts/vits:v1\n"
	if err := os.WriteFile(f, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(f); err == nil || !strings.Contains(err.Error(), "not in the policy's sources") {
		t.Errorf("a model source outside the sources: %v", err)
	}
}
