//go:build linux && (amd64 || arm64)

package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/hub/hubtest"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
)

// TestRunHFCache (issue 15, item 7): a model's Hugging Face dependency is
// pulled (from a loopback fake of the Hub) and pinned with the model, the
// command finds it offline in a cache laid out as huggingface_hub reads it,
// and a tampered dependency refuses the start.
func TestRunHFCache(t *testing.T) {
	h := hubtest.New(t)
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		os.Chmod(p, 0o755)
	}
	t.Setenv("HF_ENDPOINT", h.Hub.URL)
	t.Setenv("HF_TOKEN", "")
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
