package pull

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/coqui"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/store"
)

// signedModel writes the example model into a new folder, signs it with a
// new key, and returns the folder and an env whose policy requires that
// key's signature for the model "signed".
func signedModel(t *testing.T) (string, *env) {
	t.Helper()
	dir := t.TempDir()
	k, err := oms.GenerateKey("p256")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := oms.MarshalPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(dir, "team.pub")
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, fmt.Sprintf("signers:\n  - name: team\n    public_key: %s\nmodels:\n  signed:\n    signature: required\n", pubPath))
	model := filepath.Join(dir, "model")
	if err := os.Mkdir(model, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, b := range exampleFiles {
		if err := os.WriteFile(filepath.Join(model, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := oms.Sign(context.Background(), model, oms.KeySigner{Key: k}, oms.ModelOptions{}); err != nil {
		t.Fatal(err)
	}
	return model, e
}

// TestTOSFolderIsNotIgnored is the attack of issue 9 item 12: a folder named
// tos_agreed.txt, holding a checkpoint the signer never signed, added to a
// signed model. The signature gate used to leave out whatever had that name,
// so the unsigned checkpoint passed a signature-required policy and was
// committed. evil.pth is a clean-scanning checkpoint (other weights), so only
// the signature gate can stop it.
func TestTOSFolderIsNotIgnored(t *testing.T) {
	model, e := signedModel(t)
	sig := filepath.Join(model, "model.sig")
	if g, _, err := signatureGate(context.Background(), e.pol, "signed", model, sig, nil); err != nil || !g.OK {
		t.Fatalf("the signed model itself: %v", err)
	}
	evil := filepath.Join(model, TOSFile, "evil.pth")
	if err := os.Mkdir(filepath.Dir(evil), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(evil, exampleFiles["model_file.pth"], 0o644); err != nil {
		t.Fatal(err)
	}

	// The gate on its own.
	g, _, err := signatureGate(context.Background(), e.pol, "signed", model, sig, nil)
	if !errors.Is(err, ErrGate) || g.OK || !strings.Contains(err.Error(), "1 extra") {
		t.Errorf("signature gate on a model with %s/evil.pth: ok=%v, %v", TOSFile, g.OK, err)
	}
	// check of the folder.
	if c, err := Check(context.Background(), e.pol, model, "signed"); !errors.Is(err, ErrGate) || c.OK {
		t.Errorf("check of a model with %s/evil.pth: %v", TOSFile, err)
	}
	// A pull: refused by the signature gate, and nothing is committed.
	r, err := e.pull(t, Options{Name: "signed"}, model)
	if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "signature") {
		t.Errorf("pull of a model with %s/evil.pth: %v", TOSFile, err)
	}
	if r != nil && r.OK {
		t.Errorf("pull result OK: %+v", r)
	}
	st, err := store.Open(filepath.Join(e.dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get("signed"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the model was committed: %v", err)
	}
}

// TestTOSFileIgnoredOnlyAsWritten: the signature leaves out tos_agreed.txt
// only when it is the regular file ttsguard writes, byte for byte.
func TestTOSFileIgnoredOnlyAsWritten(t *testing.T) {
	tests := []struct {
		name   string
		make   func(p string) error
		passes bool
	}{
		{"as ttsguard writes it", func(p string) error { return os.WriteFile(p, []byte(coqui.TOSAgreedContent()), 0o600) }, true},
		{"other bytes", func(p string) error { return os.WriteFile(p, []byte("import os; os.system('id')"), 0o644) }, false},
		{"the text and more", func(p string) error { return os.WriteFile(p, []byte(coqui.TOSAgreedContent()+"\n"), 0o644) }, false},
		{"a symbolic link to the text", func(p string) error {
			q := filepath.Join(t.TempDir(), "tos")
			if err := os.WriteFile(q, []byte(coqui.TOSAgreedContent()), 0o644); err != nil {
				return err
			}
			return os.Symlink(q, p)
		}, false},
		{"a folder with a file", func(p string) error {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(p, "x.json"), []byte("{}"), 0o644)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model, e := signedModel(t)
			if err := tt.make(filepath.Join(model, TOSFile)); err != nil {
				t.Fatal(err)
			}
			g, _, err := signatureGate(context.Background(), e.pol, "signed", model, filepath.Join(model, "model.sig"), nil)
			if tt.passes != (err == nil) || g.OK != tt.passes {
				t.Errorf("ok=%v, err %v; want it to pass: %v", g.OK, err, tt.passes)
			}
			if !tt.passes && !errors.Is(err, ErrGate) {
				t.Errorf("error %v does not wrap ErrGate", err)
			}
		})
	}
}

// TestSignerKeyOfAnotherUser (issue 9 item 11, files a policy names): a
// public key that another user owns, or may write, decides which signatures
// verify; the signature gate refuses to read it.
func TestSignerKeyOfAnotherUser(t *testing.T) {
	model, e := signedModel(t)
	key := e.pol.Signers[0].PublicKey
	if err := os.Chmod(key, 0o664); err != nil {
		t.Fatal(err)
	}
	g, _, err := signatureGate(context.Background(), e.pol, "signed", model, filepath.Join(model, "model.sig"), nil)
	if !errors.Is(err, ErrGate) || g.OK || !strings.Contains(err.Error(), fmt.Sprintf("%q: the file is writable by its group", key)) {
		t.Errorf("group-writable key: %v", err)
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the key to another user")
	}
	if err := os.Chown(key, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	g, _, err = signatureGate(context.Background(), e.pol, "signed", model, filepath.Join(model, "model.sig"), nil)
	if !errors.Is(err, ErrGate) || g.OK || !strings.Contains(err.Error(), "the file is owned by uid 65534") {
		t.Errorf("key of another user: %v", err)
	}
	t.Setenv("TTSGUARD_TRUSTED_PATHS", key)
	if _, _, err := signatureGate(context.Background(), e.pol, "signed", model, filepath.Join(model, "model.sig"), nil); err != nil {
		t.Errorf("trusted key: %v", err)
	}
}
