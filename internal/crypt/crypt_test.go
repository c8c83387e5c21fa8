package crypt

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

func encrypt(t *testing.T, plain []byte, keys ...string) []byte {
	t.Helper()
	rs, err := ParseRecipients(keys)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := Encrypt(&b, rs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sshKey writes an unencrypted OpenSSH ed25519 private key (0600) and
// returns its path and its authorized_keys line.
func sshKey(t *testing.T, dir string) (string, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return p, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

func ageKey(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("# test key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, id.Recipient().String()
}

func TestRoundTripSeveralRecipients(t *testing.T) {
	dir := t.TempDir()
	fleet, fleetPub := ageKey(t, dir, "fleet.key")
	sshPath, sshPub := sshKey(t, dir)
	other, _ := ageKey(t, dir, "other.key")
	plain := bytes.Repeat([]byte("weights "), 200_000) // several 64 KiB chunks
	ct := encrypt(t, plain, fleetPub, sshPub)
	if bytes.Contains(ct, []byte("weights weights")) {
		t.Fatal("plaintext in the ciphertext")
	}
	want := sha256.Sum256(plain)
	for _, idf := range []string{fleet, sshPath} {
		ids, err := LoadIdentities(idf)
		if err != nil {
			t.Fatal(err)
		}
		sum, n, err := HashPlaintext(bytes.NewReader(ct), ids)
		if err != nil || sum != want || n != int64(len(plain)) {
			t.Fatalf("%s: %x %d %v", idf, sum, n, err)
		}
	}
	ids, err := LoadIdentities(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := HashPlaintext(bytes.NewReader(ct), ids); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a key that is no recipient decrypts: %v", err)
	}
	// One changed byte in the payload: the stream fails, never a wrong sum.
	ids, _ = LoadIdentities(fleet)
	bad := bytes.Clone(ct)
	bad[len(bad)-100] ^= 1
	if _, _, err := HashPlaintext(bytes.NewReader(bad), ids); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("changed ciphertext: %v", err)
	}
	// Cut short: an error too.
	if _, _, err := HashPlaintext(bytes.NewReader(ct[:len(ct)-70_000]), ids); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("truncated ciphertext: %v", err)
	}
}

func TestRecipientErrors(t *testing.T) {
	for _, keys := range [][]string{nil, {"age1notakey"}, {"ssh-ed25519 AAAA"}, {"gpg:123"}} {
		if _, err := ParseRecipients(keys); !errors.Is(err, ErrRecipient) {
			t.Errorf("%q: %v", keys, err)
		}
	}
}

func TestIdentityFileChecks(t *testing.T) {
	dir := t.TempDir()
	p, _ := ageKey(t, dir, "k")
	if _, err := LoadIdentities(p); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o640)
	if err := CheckIdentityFile(p); !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "chmod 0600") {
		t.Errorf("0640: %v", err)
	}
	os.Chmod(p, 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(p, link)
	if _, err := LoadIdentities(link); !errors.Is(err, ErrIdentity) {
		t.Errorf("symlink: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	if _, err := LoadIdentities(empty); !errors.Is(err, ErrIdentity) {
		t.Errorf("empty: %v", err)
	}
	if os.Geteuid() == 0 {
		os.Chown(p, 4242, 4242)
		if err := CheckIdentityFile(p); !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), "uid 4242") {
			t.Errorf("owned by 4242: %v", err)
		}
	}
}

// TestAgeCLI: the age command (when installed) decrypts what Encrypt wrote,
// for an X25519 and an SSH recipient, and Decrypt reads what age encrypted.
func TestAgeCLI(t *testing.T) {
	ageBin, err := exec.LookPath("age")
	if err != nil {
		t.Skip("the age command is not installed (apt-get install age)")
	}
	dir := t.TempDir()
	key, pub := ageKey(t, dir, "k")
	sshPath, sshPub := sshKey(t, dir)
	plain := bytes.Repeat([]byte{0, 1, 2, 3, 'x'}, 40_000)
	for _, c := range []struct{ pub, id string }{{pub, key}, {sshPub, sshPath}} {
		ct := filepath.Join(dir, "blob.age")
		os.WriteFile(ct, encrypt(t, plain, c.pub), 0o600)
		out, err := exec.Command(ageBin, "-d", "-i", c.id, ct).Output()
		if err != nil || !bytes.Equal(out, plain) {
			t.Fatalf("age -d -i %s: %v (%d bytes)", c.id, err, len(out))
		}
	}
	cmd := exec.Command(ageBin, "-r", pub)
	cmd.Stdin = bytes.NewReader(plain)
	ct, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := LoadIdentities(key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Decrypt(bytes.NewReader(ct), ids)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Decrypt of age's output: %v", err)
	}
}

func FuzzDecrypt(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := age.Encrypt(&b, id.Recipient())
	w.Write([]byte("seed plaintext"))
	w.Close()
	f.Add(b.Bytes())
	f.Add([]byte("age-encryption.org/v1\n-> X25519 AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sum, n, err := HashPlaintext(bytes.NewReader(data), []age.Identity{id})
		if err != nil {
			return
		}
		// Whatever decrypts was encrypted to id: it must be the seed's or
		// a valid re-encryption; its sum is of what was read.
		if n < 0 || sum == ([32]byte{}) {
			t.Fatalf("n %d sum %x", n, sum)
		}
	})
}
