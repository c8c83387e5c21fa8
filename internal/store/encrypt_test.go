package store

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// testKeys returns keys for two recipients (a fleet and a recovery key)
// that decrypt with the first identity.
func testKeys(t testing.TB) (*crypt.Keys, *age.X25519Identity, *age.X25519Identity) {
	t.Helper()
	fleet, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recovery, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return crypt.NewKeysWith([]age.Recipient{fleet.Recipient(), recovery.Recipient()}, []age.Identity{fleet}), fleet, recovery
}

func openEncrypted(t testing.TB, root string, k *crypt.Keys) *Store {
	t.Helper()
	s, err := Open(root, Encryption(k))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// grepTree fails if marker is in any file under dir.
func grepTree(t testing.TB, dir, marker string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && bytes.Contains(data, []byte(marker)) {
			t.Errorf("%s holds the plaintext marker %q", p, marker)
		}
		return nil
	})
}

func TestEncryptedCommit(t *testing.T) {
	k, fleet, recovery := testKeys(t)
	plain := openStore(t)
	s := openEncrypted(t, plain.Root, k)
	v := commitVariant(t, s, "tts_models/en/x/m", "a")
	if v.Root != rootOfVariant(t, "a") {
		t.Fatalf("root %s: the manifest must be over the plaintext", v.Root)
	}
	// Model files are age files for both recipients; the plaintext is in no file.
	grepTree(t, s.Root, "checkpoint a ")
	grepTree(t, s.Root, "shared content of every test model")
	m, err := s.Meta(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.Files {
		p := filepath.Join(v.Dir, filepath.FromSlash(f.Path))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !crypt.IsAge(data) {
			t.Fatalf("%s is not an age file", f.Path)
		}
		for _, id := range []age.Identity{fleet, recovery} {
			r, err := age.Decrypt(bytes.NewReader(data), id)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			got, _ := io.ReadAll(r)
			if string(got) != variant("a")[f.Path] {
				t.Fatalf("%s decrypts to other bytes", f.Path)
			}
		}
	}
	if enc, err := s.Encrypted(v); err != nil || !enc {
		t.Fatalf("Encrypted: %v %v", enc, err)
	}
	// Full and fast verification agree; the fast path counts over the ciphertext.
	diff, err := s.Verify(context.Background(), v)
	if err != nil || !diff.Empty() {
		t.Fatalf("verify: %+v %v", diff, err)
	}
	vr, err := s.VerifyVersion(context.Background(), v, true)
	if err != nil || !vr.Diff.Empty() {
		t.Fatalf("fast verify: %+v %v", vr, err)
	}
	if os.Geteuid() == 0 && !vr.Fast {
		t.Errorf("fast path not taken on an encrypted version: %s", vr.Reason)
	}
	if len(vr.Hashed) != len(m.Files) {
		t.Errorf("hashed %d files, want %d (the signature gate reuses them)", len(vr.Hashed), len(m.Files))
	}
	// OpenPlain gives the plaintext through a memfd, not a path on disk.
	f, size, err := s.OpenPlain(filepath.Join(v.Dir, "model_file.pth"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != variant("a")["model_file.pth"] || size != int64(len(got)) || !strings.HasPrefix(f.Name(), "memfd:") {
		t.Fatalf("OpenPlain: %d bytes, size %d, %s", len(got), size, f.Name())
	}

	// Without an identity (or with another key) a check cannot decrypt: an error, never clean.
	other, _ := age.GenerateX25519Identity()
	for _, rs := range []*crypt.Keys{nil, crypt.NewKeysWith(nil, []age.Identity{other})} {
		s2 := &Store{Root: s.Root, keys: rs}
		if _, err := s2.Verify(context.Background(), v); err == nil {
			t.Errorf("verify with keys %v: no error", rs)
		}
	}
	// A damaged ciphertext is a changed file.
	bp := s.blobPath(m.Files[0].SHA256)
	data, _ := os.ReadFile(bp)
	data[len(data)-3] ^= 1
	os.Chmod(bp, 0o644)
	if err := os.WriteFile(bp, data, 0o444); err != nil {
		t.Fatal(err)
	}
	diff, err = s.Verify(context.Background(), v)
	if err != nil || len(diff.Changed) != 1 || diff.Changed[0] != m.Files[0].Path {
		t.Fatalf("damaged ciphertext: %+v %v", diff, err)
	}
	vr, err = s.VerifyVersion(context.Background(), v, true)
	if err != nil || vr.Fast || len(vr.Diff.Changed) != 1 {
		t.Fatalf("fast verify of a damaged ciphertext: %+v %v", vr, err)
	}
}
