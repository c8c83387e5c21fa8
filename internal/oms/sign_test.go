package oms

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

func writeModel(t *testing.T, files map[string]string) string {
	t.Helper()
	m := filepath.Join(t.TempDir(), "model")
	for name, content := range files {
		p := filepath.Join(m, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

var tricky = map[string]string{
	"checkpoint/a": "1", "checkpoint-1000/a": "2", "tokenizer/vocab.txt": "3", "tokenizer.json": "4",
	".hidden": "5", "empty": "", "d/e/f.bin": strings.Repeat("x", 100), "ünïcode.txt": "6",
}

func TestSignVerifyKeyRoundTrip(t *testing.T) {
	for _, curve := range []string{"p256", "p384", "p521"} {
		for _, o := range []ModelOptions{{}, {Method: manifest.MethodShards, ShardSize: 8}, {Method: manifest.MethodShards}} {
			t.Run(curve+"/"+o.Method, func(t *testing.T) {
				k, err := GenerateKey(curve)
				if err != nil {
					t.Fatal(err)
				}
				m := writeModel(t, tricky)
				r, err := Sign(context.Background(), m, KeySigner{Key: k}, o)
				if err != nil {
					t.Fatal(err)
				}
				d, err := Digest(context.Background(), m, o)
				if err != nil || d.Root != r.Root {
					t.Fatalf("digest %v %v, sign root %s", d, err, r.Root)
				}
				v, err := Verify(context.Background(), m, KeyVerifier{Key: &k.PublicKey}, VerifyOptions{})
				if err != nil || !v.OK || v.Root != r.Root {
					t.Fatalf("verify: %v %+v", err, v)
				}
				// Another key must not verify it.
				other, _ := GenerateKey(curve)
				if _, err := Verify(context.Background(), m, KeyVerifier{Key: &other.PublicKey}, VerifyOptions{}); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "key mismatch") {
					t.Fatalf("other key: %v", err)
				}
			})
		}
	}
}

func TestSignSingleFileAndIgnorePaths(t *testing.T) {
	k, _ := GenerateKey("p256")
	m := writeModel(t, map[string]string{"model.pth": "weights", "logs/run.txt": "log", "notes.md": "n"})
	file := filepath.Join(m, "model.pth")
	r, err := Sign(context.Background(), file, KeySigner{Key: k}, ModelOptions{})
	if err != nil || r.Signature != file+".sig" || r.Items != 1 {
		t.Fatalf("single file: %+v %v", r, err)
	}
	if _, err := Verify(context.Background(), file, KeyVerifier{Key: &k.PublicKey}, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Join(m, "notes.md"))
	r, err = Sign(context.Background(), m, KeySigner{Key: k}, ModelOptions{IgnorePaths: []string{"logs", abs}})
	if err != nil {
		t.Fatal(err)
	}
	// model.pth and model.pth.sig are signed; logs/ and notes.md are not.
	if r.Files != 2 || strings.Join(r.Serialization.IgnorePaths, ",") != ".git,.gitattributes,.github,.gitignore,logs,model.sig,notes.md" {
		t.Fatalf("%+v", r)
	}
	// Ignored files may change freely; the verifier honours the signed ignore list.
	os.WriteFile(filepath.Join(m, "logs", "run.txt"), []byte("changed"), 0o644)
	if _, err := Verify(context.Background(), m, KeyVerifier{Key: &k.PublicKey}, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(context.Background(), m, KeySigner{Key: k}, ModelOptions{IgnorePaths: []string{"/etc"}}); !errors.Is(err, manifest.ErrIgnorePath) {
		t.Fatalf("ignore outside: %v", err)
	}
}

func TestPyBytesRepr(t *testing.T) {
	for in, want := range map[string]string{
		"{\n \"a\": \"\xc3\xa9\"}": `b'{\n "a": "\xc3\xa9"}'`,
		"it's":                     `b"it's"`,
		"it's \"q\"":               `b'it\'s "q"'`,
		"\\\t\r\x00\x7f":           `b'\\\t\r\x00\x7f'`,
	} {
		if got := string(pyBytesRepr([]byte(in))); got != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}

func TestEncryptedPrivateKey(t *testing.T) {
	k, _ := GenerateKey("p256")
	pemData, err := MarshalPrivateKey(k, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKey("k", pemData, nil); !errors.Is(err, ErrKey) {
		t.Fatalf("no password: %v", err)
	}
	if _, err := ParsePrivateKey("k", pemData, []byte("wrong")); !errors.Is(err, ErrKey) {
		t.Fatalf("wrong password: %v", err)
	}
	got, err := ParsePrivateKey("k", pemData, []byte("s3cret"))
	if err != nil || !got.Equal(k) {
		t.Fatalf("%v", err)
	}
}

// TestVerifyKnown: digests the caller already computed are used for a
// files-mode SHA-256 statement (a wrong one shows, so they are really used),
// only for the very same file (a swap of the same size, a rewrite in place, a
// symbolic link put in its place are hashed again), and never for shards.
func TestVerifyKnown(t *testing.T) {
	ctx := context.Background()
	k, _ := GenerateKey("p256")
	v := KeyVerifier{Key: &k.PublicKey}
	known := func(t *testing.T, m string) []manifest.Hashed {
		mo := manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256, IgnorePaths: []string{"model.sig"}}
		files, err := manifest.Walk(m, manifest.WalkOptions{IgnorePaths: mo.IgnorePaths})
		if err != nil {
			t.Fatal(err)
		}
		d, err := manifest.Hash(ctx, files, mo)
		if err != nil {
			t.Fatal(err)
		}
		return manifest.Pair(files, d.Items)
	}
	corrupt := func(h []manifest.Hashed, name string) []manifest.Hashed {
		out := slices.Clone(h)
		for i := range out {
			if out[i].File.Name == name {
				out[i].Digest = make([]byte, 32)
			}
		}
		return out
	}
	for _, o := range []ModelOptions{{}, {Method: manifest.MethodShards, ShardSize: 8}} {
		m := writeModel(t, tricky)
		if _, err := Sign(ctx, m, KeySigner{Key: k}, o); err != nil {
			t.Fatal(err)
		}
		plain, err := Verify(ctx, m, v, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := known(t, m)
		r, err := Verify(ctx, m, v, VerifyOptions{Known: h})
		if err != nil || r.Files != plain.Files || r.Bytes != plain.Bytes || r.Items != plain.Items {
			t.Fatalf("%s: with the right digests: %+v %v (plain %+v)", o.Method, r, err, plain)
		}
		_, err = Verify(ctx, m, v, VerifyOptions{Known: corrupt(h, "tokenizer.json")})
		if o.Method == manifest.MethodShards && err != nil {
			t.Fatalf("shards: known digests must be ignored: %v", err)
		}
		if o.Method != manifest.MethodShards && !errors.Is(err, ErrVerification) {
			t.Fatalf("files: a wrong known digest must show: %v", err)
		}
	}
	// Files mode: the file changes after the first hashing, at the same size.
	for name, change := range map[string]func(t *testing.T, p string){
		"renamed over": func(t *testing.T, p string) {
			os.WriteFile(p+".new", []byte("X"), 0o644)
			if err := os.Rename(p+".new", p); err != nil {
				t.Fatal(err)
			}
		},
		"rewritten in place, times set back": func(t *testing.T, p string) {
			st, _ := os.Stat(p)
			time.Sleep(20 * time.Millisecond)
			os.WriteFile(p, []byte("X"), 0o644)
			os.Chtimes(p, st.ModTime(), st.ModTime())
		},
		"replaced by a link": func(t *testing.T, p string) {
			os.WriteFile(p+".target", []byte("X"), 0o644)
			os.Remove(p)
			if err := os.Symlink(filepath.Base(p)+".target", p); err != nil {
				t.Fatal(err)
			}
		},
	} {
		m := writeModel(t, tricky)
		if _, err := Sign(ctx, m, KeySigner{Key: k}, ModelOptions{AllowSymlinks: true}); err != nil {
			t.Fatal(err)
		}
		h := known(t, m)
		change(t, filepath.Join(m, "tokenizer.json"))
		_, err := Verify(ctx, m, v, VerifyOptions{Known: h})
		if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "1 changed") {
			t.Errorf("%s: the stale digest was used: %v", name, err)
		}
	}
}
