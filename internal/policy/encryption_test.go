package policy

import (
	"strings"
	"testing"

	"filippo.io/age"
	"go.yaml.in/yaml/v3"
)

func TestStoreEncryption(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	rec := id.Recipient().String()
	ssh := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN recovery"
	good := "version: 1\nstore:\n  path: /srv/ttsguard\n  encryption:\n    recipients: [" + rec + ", \"" + ssh + "\"]\n    identity: /etc/ttsguard/store.key\n"
	p, err := Parse("p.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Store != "/srv/ttsguard" || !p.Encryption.Set || len(p.Encryption.Recipients) != 2 || p.Encryption.Identity != "/etc/ttsguard/store.key" {
		t.Fatalf("parsed %+v %+v", p.Store, p.Encryption)
	}
	// Round trip through MarshalYAML.
	out, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse("q.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if q.Store != p.Store || q.Encryption.Identity != p.Encryption.Identity || strings.Join(q.Encryption.Recipients, "|") != strings.Join(p.Encryption.Recipients, "|") {
		t.Fatalf("round trip: %+v\n%s", q.Encryption, out)
	}
	// A plain store path still marshals as a string.
	plain, err := Parse("p.yaml", []byte("version: 1\nstore: /srv/x\n"))
	if err != nil || plain.Encryption.Set || plain.Store != "/srv/x" {
		t.Fatalf("plain: %v %+v", err, plain)
	}
	if out, _ := yaml.Marshal(plain); !strings.Contains(string(out), "store: /srv/x\n") {
		t.Fatalf("plain marshal:\n%s", out)
	}

	bad := []struct{ yaml, want string }{
		{"store:\n  encryption:\n    recipients: [age1nope]\n    identity: /k\n", "store.encryption.recipients[0]"},
		{"store:\n  encryption:\n    recipients: [\"rsa-foo AAAA\"]\n    identity: /k\n", "want an age1"},
		{"store:\n  encryption:\n    recipients: []\n    identity: /k\n", "at least one"},
		{"store:\n  encryption:\n    identity: /k\n", "store.encryption.recipients"},
		{"store:\n  encryption:\n    recipients: [" + rec + "]\n", "store.encryption.identity"},
		{"store:\n  encryption:\n    recipients: [" + rec + ", " + rec + "]\n    identity: /k\n", "listed twice"},
		{"store:\n  encryption:\n    recipients: [" + rec + "]\n    identity: /k\n    cipher: aes\n", `unknown key "cipher"`},
		{"store:\n  paths: /x\n", `unknown key "paths"`},
		{"store:\n  encryption: yes\n", "a mapping"},
	}
	for _, b := range bad {
		_, err := Parse("bad.yaml", []byte("version: 1\n"+b.yaml))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: got %v, want an error with %q", b.yaml, err, b.want)
		}
	}
}
