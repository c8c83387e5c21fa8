//go:build linux && (amd64 || arm64)

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/ttsguard/ttsguard/internal/hub/hubtest"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
)

// hubRunEnv starts a fake Hub for the test's pulls and a folder the serving
// user can traverse for its store.
func hubRunEnv(t *testing.T) (*hubtest.Server, string) {
	h := hubtest.New(t)
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		os.Chmod(p, 0o755)
	}
	t.Setenv("HF_ENDPOINT", h.Hub.URL)
	t.Setenv("HF_TOKEN", "")
	return h, dir
}

// TestRunHFCache (issue 15, item 7): a model's Hugging Face dependency is
// pulled (from a loopback fake of the Hub) and pinned with the model, the
// command finds it offline in a cache laid out as huggingface_hub reads it,
// and a tampered dependency refuses the start.
func TestRunHFCache(t *testing.T) {
	h, dir := hubRunEnv(t)
	pp := filepath.Join(dir, "ttsguard.yaml")
	y := "version: 1\nstore: store\nsources:\n  - " + h.Hub.URL + "/api/\n  - " + h.Hub.URL + "/o/\n  - " + h.CDN.URL + "/\nmodels:\n  tiny:\n    requires:\n      - source: hf://o/tok\n        load_as: bert-base-multilingual-cased\n"
	os.WriteFile(pp, []byte(y), 0o644)
	pol, err := policy.Load(pp)
	if err != nil {
		t.Fatal(err)
	}
	commit := h.Commit("o/tok", "main", map[string][]byte{"vocab.txt": []byte("[PAD]\nhi\n"), "config.json": []byte(`{"model_type": "bert"}`)})
	example, _ := filepath.Abs("../../examples/tiny-vits")
	r, err := pull.Pull(context.Background(), pull.Options{Policy: pol, Name: "tiny", TLS: h.TLS()}, []string{example})
	if err != nil {
		t.Fatalf("pull: %v %+v", err, r)
	}
	var out, errb bytes.Buffer
	err = execRun(&out, &errb, "--policy", pp, "tiny", "--", "/bin/sh", "-c", `cat $HF_HUB_CACHE/models--bert-base-multilingual-cased/refs/main; echo; cat $HF_HUB_CACHE/models--bert-base-multilingual-cased/snapshots/*/vocab.txt; echo $HF_HUB_OFFLINE`)
	if err != nil || !strings.Contains(out.String(), commit+"\n[PAD]\nhi\n1\n") {
		t.Fatalf("run: %v\nout=%s\nerr=%s", err, out.String(), errb.String())
	}
	out.Reset()
	if err := execRun(&out, &errb, "--policy", pp, "--explain", "tiny", "--", "/bin/true"); err != nil || !strings.Contains(out.String(), "hf cache:") {
		t.Errorf("explain: %v\n%s", err, out.String())
	}
	// A changed file of the dependency refuses the start.
	deps := r.Requires[0].Dir
	p := filepath.Join(deps, "vocab.txt")
	os.Chmod(deps, 0o755)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("evil"), 0o644)
	out.Reset()
	errb.Reset()
	err = execRun(&out, &errb, "--policy", pp, "tiny", "--", "/bin/true")
	if err == nil || !strings.Contains(err.Error(), "requirement o/tok") {
		t.Fatalf("ran with a tampered requirement: %v", err)
	}
}

// TestRunHFCacheEncrypted: with the store encrypted at rest, the model's
// Hugging Face requirement is decrypted for the command too (until
// 2026-12-04 it was given as ciphertext): the command reads its plaintext
// through the offline cache, and the store holds none of it.
func TestRunHFCacheEncrypted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("run decrypts into a tmpfs in a mount namespace of its own: root (the memfd view is TestRunEncryptedWithoutRoot's)")
	}
	h, dir := hubRunEnv(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "store.key"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pp := filepath.Join(dir, "ttsguard.yaml")
	y := "version: 1\nstore:\n  path: store\n  encryption:\n    recipients: [" + id.Recipient().String() + "]\n    identity: store.key\nsources:\n  - " + h.Hub.URL + "/api/\n  - " + h.Hub.URL + "/o/\n  - " + h.CDN.URL + "/\nmodels:\n  tiny:\n    requires:\n      - source: hf://o/tok\n        load_as: bert-base-multilingual-cased\n"
	os.WriteFile(pp, []byte(y), 0o644)
	pol, err := policy.Load(pp)
	if err != nil {
		t.Fatal(err)
	}
	marker := "[PAD]\nsecret-vocabulary-7f3a\n"
	h.Commit("o/tok", "main", map[string][]byte{"vocab.txt": []byte(marker), "config.json": []byte(`{"model_type": "bert"}`)})
	example, _ := filepath.Abs("../../examples/tiny-vits")
	r, err := pull.Pull(context.Background(), pull.Options{Policy: pol, Name: "tiny", TLS: h.TLS()}, []string{example})
	if err != nil {
		t.Fatalf("pull: %v %+v", err, r)
	}
	stored, err := os.ReadFile(filepath.Join(r.Requires[0].Dir, "vocab.txt"))
	if err != nil || bytes.Contains(stored, []byte("secret-vocabulary")) || !bytes.HasPrefix(stored, []byte("age-encryption.org/")) {
		t.Fatalf("the stored requirement is not an age file: %v %q", err, stored)
	}
	var out, errb bytes.Buffer
	err = execRun(&out, &errb, "--policy", pp, "tiny", "--", "/bin/sh", "-c", `cat $HF_HUB_CACHE/models--bert-base-multilingual-cased/snapshots/*/vocab.txt`)
	if err != nil || out.String() != marker {
		t.Fatalf("run: %v\nout=%q\nerr=%s", err, out.String(), errb.String())
	}
}
