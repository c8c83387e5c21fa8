package pull

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/ttsguard/ttsguard/internal/crypt"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// fixture reads a checkpoint that internal/tensors/testdata/gen.py saved
// with torch: the "new" one changes decoder.* tensors only (text_encoder.*
// is unchanged), decoder.conv.bias by a relative 0.5.
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "tensors", "testdata", "ckpt", name))
	must(t, err)
	return b
}

// updateEnv pulls the old checkpoint as model "m", then puts the new one in
// the source folder.
func updateEnv(t *testing.T, tag, rules string) (*env, string) {
	t.Helper()
	e := newEnv(t, "models:\n  m:\n    update:\n"+rules)
	src := localModel(t, map[string][]byte{"model_file.pth": fixture(t, tag+"-old-zip.pth")})
	r, err := e.pull(t, Options{Name: "m"}, src)
	if err != nil || r.Pinned != "added" {
		t.Fatalf("first pull: %v %+v", err, r)
	}
	if r.Diff != nil {
		t.Errorf("a first pull has nothing to compare with: %+v", r.Diff)
	}
	must(t, os.WriteFile(filepath.Join(src, "model_file.pth"), fixture(t, tag+"-new-zip.pth"), 0o644))
	return e, src
}

func (e *env) pinned(t *testing.T) string {
	lf, err := store.LoadLock(filepath.Join(e.dir, "ttsguard.lock"))
	must(t, err)
	return lf.Entries["m"].Root
}

func gateOf(r *Result, name string) *Gate {
	for i := range r.Gates {
		if r.Gates[i].Name == name {
			return &r.Gates[i]
		}
	}
	return nil
}

func TestLockUpdateFrozen(t *testing.T) {
	for _, tag := range []string{"fp32", "bf16"} {
		t.Run(tag, func(t *testing.T) {
			e, src := updateEnv(t, tag, "      frozen: [\"decoder.conv.*\"]\n")
			before := e.pinned(t)
			r, err := e.pull(t, Options{Name: "m", Update: true}, src)
			if !errors.Is(err, ErrGate) {
				t.Fatalf("frozen tensors changed, and the update passed: %v", err)
			}
			for _, want := range []string{"decoder.conv.weight", "decoder.conv.bias", `frozen pattern "decoder.conv.*"`, "relative change 0.5"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal does not say %q: %v", want, err)
				}
			}
			if g := gateOf(r, "update"); g == nil || g.OK {
				t.Errorf("update gate %+v", g)
			}
			if r.Diff == nil || len(r.Diff.Checkpoints) != 1 {
				t.Errorf("the refused update's diff is not reported: %+v", r.Diff)
			}
			if e.pinned(t) != before {
				t.Errorf("the refused update changed the pin")
			}
			// Freezing what the new version leaves alone lets it through.
			e.pol.Models["m"] = policy.Model{Signature: policy.SignatureOptional, Update: policy.ModelUpdate{Frozen: []string{"text_encoder.*"}}}
			r, err = e.pull(t, Options{Name: "m", Update: true}, src)
			if err != nil || r.Pinned != "updated" {
				t.Fatalf("%v %+v", err, r)
			}
			if g := gateOf(r, "update"); g == nil || !g.OK || !strings.Contains(g.Detail, "frozen text_encoder.* hold") {
				t.Errorf("update gate %+v", g)
			}
			if e.pinned(t) == before {
				t.Errorf("the accepted update did not move the pin")
			}
		})
	}
}

func TestLockUpdateMaxRelativeChange(t *testing.T) {
	e, src := updateEnv(t, "fp32", "      max_relative_change: 0.05\n")
	_, err := e.pull(t, Options{Name: "m", Update: true}, src)
	if !errors.Is(err, ErrGate) {
		t.Fatalf("changes above the limit passed: %v", err)
	}
	for _, want := range []string{"decoder.conv.bias", "relative change 0.5", "exceeds 0.05", "decoder.zero.weight", "decoder.reshaped.weight", "decoder.added.weight", "decoder.removed.weight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not say %q: %v", want, err)
		}
	}
	// decoder.conv.weight changes by about 0.011: under the limit, not named.
	if strings.Contains(err.Error(), "decoder.conv.weight") || strings.Contains(err.Error(), "text_encoder") {
		t.Errorf("refusal names a tensor within the limit: %v", err)
	}
}

// TestPullReplacingStoredVersion: a pull that replaces the stored version
// of a model (here through a second lock file that pins nothing) is held to
// the same rules.
func TestPullReplacingStoredVersion(t *testing.T) {
	e, src := updateEnv(t, "bf16", "      frozen: [\"decoder.*\"]\n")
	other := t.TempDir()
	yaml := fmt.Sprintf("version: 1\nstore: %s\nmodels:\n  m:\n    update:\n      frozen: [\"decoder.*\"]\n", filepath.Join(e.dir, "store"))
	must(t, os.WriteFile(filepath.Join(other, "ttsguard.yaml"), []byte(yaml), 0o600))
	pol, err := policy.Load(filepath.Join(other, "ttsguard.yaml"))
	must(t, err)
	r, err := Pull(t.Context(), Options{Policy: pol, Name: "m"}, []string{src})
	if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "decoder.conv.bias") {
		t.Fatalf("a pull replacing the stored version changed frozen tensors: %v %+v", err, r)
	}
	if _, err := os.Stat(filepath.Join(other, "ttsguard.lock")); err == nil {
		t.Errorf("the refused pull wrote a lock file")
	}
	// Without rules the same pull replaces it.
	pol.Models["m"] = policy.Model{Signature: policy.SignatureOptional}
	if r, err := Pull(t.Context(), Options{Policy: pol, Name: "m"}, []string{src}); err != nil || r.Diff != nil {
		t.Fatalf("%v %+v", err, r)
	}
}

// TestUpdatePinnedVersionGone: rules that cannot be checked refuse.
func TestUpdatePinnedVersionGone(t *testing.T) {
	e, src := updateEnv(t, "fp32", "      frozen: [\"text_encoder.*\"]\n")
	st, err := store.Open(filepath.Join(e.dir, "store"))
	must(t, err)
	must(t, st.Remove("m"))
	_, err = e.pull(t, Options{Name: "m", Update: true}, src)
	if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "is not in the store") {
		t.Fatalf("update rules passed without the pinned version: %v", err)
	}
}

// TestLockUpdateEncrypted: the version an update replaces is encrypted at
// rest. The update gate compares the new checkpoint with its plaintext
// (decrypted into a sealed memfd), and reports the plaintext's size, not
// the age file's.
func TestLockUpdateEncrypted(t *testing.T) {
	e := newEnv(t, "models:\n  m:\n    update:\n      frozen: [\"decoder.conv.*\"]\n")
	id, err := age.GenerateX25519Identity()
	must(t, err)
	must(t, os.WriteFile(filepath.Join(e.dir, "store.key"), []byte(id.String()+"\n"), 0o600))
	pp := filepath.Join(e.dir, "ttsguard.yaml")
	y, err := os.ReadFile(pp)
	must(t, err)
	storeLine := "store: " + filepath.Join(e.dir, "store") + "\n"
	if !strings.Contains(string(y), storeLine) {
		t.Fatalf("policy has no %q", storeLine)
	}
	enc := fmt.Sprintf("store:\n  path: %s\n  encryption:\n    recipients: [%s]\n    identity: store.key\n", filepath.Join(e.dir, "store"), id.Recipient())
	must(t, os.WriteFile(pp, []byte(strings.Replace(string(y), storeLine, enc, 1)), 0o600))
	e.pol, err = policy.Load(pp)
	must(t, err)

	old := fixture(t, "fp32-old-zip.pth")
	src := localModel(t, map[string][]byte{"model_file.pth": old})
	r, err := e.pull(t, Options{Name: "m"}, src)
	if err != nil || r.Pinned != "added" {
		t.Fatalf("first pull: %v %+v", err, r)
	}
	if isAge, err := crypt.IsAgeFile(filepath.Join(r.Dir, "model_file.pth")); err != nil || !isAge {
		t.Fatalf("the stored checkpoint is not an age file (%v): the test would not test decryption", err)
	}
	must(t, os.WriteFile(filepath.Join(src, "model_file.pth"), fixture(t, "fp32-new-zip.pth"), 0o644))
	r, err = e.pull(t, Options{Name: "m", Update: true}, src)
	if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "decoder.conv.bias") || !strings.Contains(err.Error(), "relative change 0.5") {
		t.Fatalf("frozen tensors of an encrypted version changed, and the update said: %v", err)
	}
	if r.Diff == nil || len(r.Diff.Files) != 1 || r.Diff.Files[0].OldSize != int64(len(old)) {
		t.Fatalf("diff against the encrypted version: %+v (want the plaintext's size %d)", r.Diff, len(old))
	}
	// Unchanged content compares equal through the decryption.
	must(t, os.WriteFile(filepath.Join(src, "model_file.pth"), old, 0o644))
	e.pol.Models["m"] = policy.Model{Signature: policy.SignatureOptional, Update: policy.ModelUpdate{Frozen: []string{"*"}}}
	r, err = e.pull(t, Options{Name: "m", Update: true}, src)
	if err != nil || r.Pinned != "matched" {
		t.Fatalf("the same content against its encrypted copy: %v %+v", err, r)
	}
}
