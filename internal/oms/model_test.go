package oms

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// writeSigned signs statement s with k into sig, as Sign would, so that tests
// can make the bundles of other signers (an empty model, a v1.0 statement).
func writeSigned(t *testing.T, k *ecdsa.PrivateKey, s *Statement, sig string) {
	t.Helper()
	payload, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	vm, _, err := KeySigner{Key: k}.material()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := hashFor(&k.PublicKey)
	hh := h.New()
	hh.Write(PAE(PayloadType, payload))
	der, err := ecdsa.SignASN1(rand.Reader, k, hh.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, err := newBundle(payload, der, vm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sig, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSignEmptyModel: issue 9 item 15. A model with nothing to sign after
// the ignore rules is refused (OMS v1.0 §6.1), naming the model, and no
// signature is written.
func TestSignEmptyModel(t *testing.T) {
	k, _ := GenerateKey("p256")
	cases := []struct {
		name  string
		files map[string]string
		o     ModelOptions
		want  string // "" = signs
	}{
		{"empty folder", nil, ModelOptions{}, "no file left"},
		{"only git files", map[string]string{".gitignore": "*.tmp", ".git/HEAD": "ref", ".github/ci.yml": "x"}, ModelOptions{}, "no file left"},
		{"only ignored paths", map[string]string{"logs/run.txt": "l"}, ModelOptions{IgnorePaths: []string{"logs"}}, "no file left"},
		{"shards of empty files", map[string]string{"a": "", "b/c": ""}, ModelOptions{Method: manifest.MethodShards, ShardSize: 8}, "all empty"},
		{"git files with NoIgnoreGitPaths", map[string]string{".gitignore": "*.tmp"}, ModelOptions{NoIgnoreGitPaths: true}, ""},
		{"one empty file", map[string]string{"a": ""}, ModelOptions{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := writeModel(t, c.files)
			if err := os.MkdirAll(m, 0o755); err != nil {
				t.Fatal(err)
			}
			r, err := Sign(context.Background(), m, KeySigner{Key: k}, c.o)
			_, statErr := os.Stat(filepath.Join(m, "model.sig"))
			if c.want == "" {
				if err != nil || !r.OK || statErr != nil {
					t.Fatalf("sign: %v %+v (signature: %v)", err, r, statErr)
				}
				return
			}
			if !errors.Is(err, ErrEmptyModel) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"`+m+`"`) {
				t.Fatalf("err = %v, want ErrEmptyModel naming %q and saying %q", err, m, c.want)
			}
			if !os.IsNotExist(statErr) {
				t.Fatalf("a signature was written: %v", statErr)
			}
		})
	}
}

// TestVerifyEmptyStatement: a signed statement without resources (the
// reference signs one for an empty model) verifies nothing, not even with
// IgnoreUnsignedFiles, where it would accept any files at all.
func TestVerifyEmptyStatement(t *testing.T) {
	k, _ := GenerateKey("p256")
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		files map[string]string
		o     VerifyOptions
	}{
		{"empty model", nil, VerifyOptions{}},
		{"any files, unsigned ones tolerated", map[string]string{"model.pth": "anything"}, VerifyOptions{IgnoreUnsignedFiles: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := writeModel(t, c.files)
			os.MkdirAll(m, 0o755)
			empty := &manifest.Manifest{Options: manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256}}
			writeSigned(t, k, NewStatement("model", empty), filepath.Join(m, "model.sig"))
			r, err := Verify(ctx, m, KeyVerifier{Key: &k.PublicKey}, c.o)
			if !errors.Is(err, ErrVerification) || !errors.Is(err, ErrStatement) || !strings.Contains(err.Error(), "no resources") || r == nil || r.OK {
				t.Fatalf("verify: %v %+v", err, r)
			}
		})
	}
}

var withGit = map[string]string{
	"model.bin": "w", ".gitattributes": "*.bin lfs", ".gitignore": "*.tmp", ".git/HEAD": "ref: main", ".github/workflows/ci.yml": "on: push",
}

// TestGitPaths: issue 9 item 16c. A model signed with its git files (the
// reference's --no-ignore-git-paths) verifies: the statement says so, by the
// ignore paths it records or, for statements that record none, by the git
// files it lists. Otherwise the git files are left out, as before.
func TestGitPaths(t *testing.T) {
	ctx := context.Background()
	k, _ := GenerateKey("p256")
	v := KeyVerifier{Key: &k.PublicKey}
	// unrecorded signs model like model_signing 1.0 did: no ignore paths in the statement.
	unrecorded := func(t *testing.T, m string, git bool) {
		ig := []string{"model.sig"}
		if !git {
			ig = append(ig, manifest.DefaultIgnorePaths...)
		}
		mf, err := manifest.Build(ctx, m, manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256, IgnorePaths: ig})
		if err != nil {
			t.Fatal(err)
		}
		mf.Options.IgnorePaths = nil
		writeSigned(t, k, NewStatement("model", mf), filepath.Join(m, "model.sig"))
	}
	sign := func(o ModelOptions) func(t *testing.T, m string) {
		return func(t *testing.T, m string) {
			if _, err := Sign(ctx, m, KeySigner{Key: k}, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name      string
		files     map[string]string
		sign      func(t *testing.T, m string)
		after     map[string]string // files written after signing
		verify    VerifyOptions
		wantItems int
		want      string // "" = verifies
	}{
		{"signed with git files", withGit, sign(ModelOptions{NoIgnoreGitPaths: true}), nil, VerifyOptions{}, 5, ""},
		{"signed with git files, one changed", withGit, sign(ModelOptions{NoIgnoreGitPaths: true}), map[string]string{".gitignore": "*"}, VerifyOptions{}, 5, "1 changed"},
		{"signed with git files, verified with the flag", withGit, sign(ModelOptions{NoIgnoreGitPaths: true}), nil, VerifyOptions{ModelOptions: ModelOptions{NoIgnoreGitPaths: true}}, 5, ""},
		{"v1.0 statement listing git files", withGit, func(t *testing.T, m string) { unrecorded(t, m, true) }, nil, VerifyOptions{}, 5, ""},
		{"signed with git files, none there, one added", map[string]string{"model.bin": "w"}, sign(ModelOptions{NoIgnoreGitPaths: true}), map[string]string{".git/HEAD": "x"}, VerifyOptions{}, 1, "1 extra"},
		{"git files left out", withGit, sign(ModelOptions{}), map[string]string{".git/index": "new"}, VerifyOptions{}, 1, ""},
		{"git files left out, verified with the flag", withGit, sign(ModelOptions{}), nil, VerifyOptions{ModelOptions: ModelOptions{NoIgnoreGitPaths: true}}, 1, ""},
		{"v1.0 statement without git files", withGit, func(t *testing.T, m string) { unrecorded(t, m, false) }, nil, VerifyOptions{}, 1, ""},
		{"v1.0 statement without git files, verified with the flag", withGit, func(t *testing.T, m string) { unrecorded(t, m, false) }, nil, VerifyOptions{ModelOptions: ModelOptions{NoIgnoreGitPaths: true}}, 1, "4 extra"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := writeModel(t, c.files)
			c.sign(t, m)
			for name, content := range c.after {
				p := filepath.Join(m, filepath.FromSlash(name))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r, err := Verify(ctx, m, v, c.verify)
			if c.want == "" {
				if err != nil || !r.OK || r.Items != c.wantItems {
					t.Fatalf("verify: %v %+v, want %d items", err, r, c.wantItems)
				}
				return
			}
			if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	t.Run("statement records what was left out", func(t *testing.T) {
		m := writeModel(t, withGit)
		r, err := Sign(ctx, m, KeySigner{Key: k}, ModelOptions{NoIgnoreGitPaths: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.Serialization.IgnorePaths, []string{"model.sig"}) || r.Items != 5 {
			t.Fatalf("ignore paths %q, %d items", r.Serialization.IgnorePaths, r.Items)
		}
	})
}
