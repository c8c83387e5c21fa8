//go:build linux && (amd64 || arm64)

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/lineage"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// trainEnv is a runEnv (the store holds the example model as "tiny") with a
// dataset, the training script of testdata/train, a config that names
// them, and a signing key.
type trainEnv struct {
	*runEnv
	ds, code, config, out, key, pub string
}

func newTrainEnv(t *testing.T) *trainEnv {
	t.Helper()
	e := &trainEnv{runEnv: newRunEnv(t)}
	e.ds = filepath.Join(e.dir, "ljs")
	e.code = filepath.Join(e.dir, "code")
	e.out = filepath.Join(e.dir, "out")
	for p, s := range map[string]string{
		filepath.Join(e.ds, "metadata.csv"):  "a|Hello.|Hello.\nb|World.|World.\n",
		filepath.Join(e.ds, "wavs", "a.wav"): "RIFF....WAVEfmt a",
		filepath.Join(e.ds, "wavs", "b.wav"): "RIFF....WAVEfmt b",
	} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script, err := os.ReadFile("testdata/train/train.py")
	if err != nil {
		t.Fatal(err)
	}
	os.Mkdir(e.code, 0o755)
	if err := os.WriteFile(filepath.Join(e.code, "train.py"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	e.config = filepath.Join(e.dir, "config.json")
	e.writeConfig(t, map[string]any{"restore_path": filepath.Join(e.model, "model_file.pth")})
	var out, errb bytes.Buffer
	if rc := Main([]string{"keygen", "--out", filepath.Join(e.dir, "signer")}, &out, &errb); rc != 0 {
		t.Fatalf("keygen: %d %s", rc, errb.String())
	}
	e.key, e.pub = filepath.Join(e.dir, "signer.key"), filepath.Join(e.dir, "signer.pub")
	return e
}

// writeConfig writes a coqui-like training config: output into --out, the
// dataset, and extra.
func (e *trainEnv) writeConfig(t *testing.T, extra map[string]any) {
	t.Helper()
	c := map[string]any{"output_path": e.out, "datasets": []any{map[string]any{"formatter": "ljspeech", "path": e.ds, "meta_file_train": "metadata.csv"}}}
	for k, v := range extra {
		c[k] = v
	}
	data, _ := json.Marshal(c)
	if err := os.WriteFile(e.config, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// train runs ttsguard train with the env's inputs and args after --.
func (e *trainEnv) train(t *testing.T, flags []string, args ...string) (int, string, string) {
	t.Helper()
	all := append([]string{"train", "--policy", e.policy, "--dataset", e.ds, "--config", e.config, "--out", e.out, "--private-key", e.key}, flags...)
	all = append(append(all, "--", "/usr/bin/python3", filepath.Join(e.code, "train.py"), "{config}"), args...)
	var out, errb bytes.Buffer
	rc := Main(all, &out, &errb)
	return rc, out.String(), errb.String()
}

// TestTrainProvenance: a training run from the stored base model writes a
// model, its model.sig and a provenance.sig whose statement names exactly
// the model's files, the dataset's OMS root, the base model's stored root,
// the config's and the script's digests; verify provenance checks it and
// fails once a model file changes.
func TestTrainProvenance(t *testing.T) {
	e := newTrainEnv(t)
	rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny", "--json"})
	if rc != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", rc, stdout, stderr)
	}
	if !strings.Contains(stderr, "trained ") {
		t.Errorf("the script's output is not on stderr: %s", stderr)
	}
	for _, f := range []string{"model.safetensors", "config.json", "model.sig", "provenance.sig"} {
		if _, err := os.Stat(filepath.Join(e.out, f)); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(e.pub)
	pub, err := oms.ParsePublicKey(e.pub, data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// model.sig covers the model's files, not provenance.sig.
	if r, err := oms.Verify(ctx, e.out, oms.KeyVerifier{Key: pub}, oms.VerifyOptions{}); err != nil || r.Files != 2 {
		t.Fatalf("model.sig: %v %+v", err, r)
	}
	v, err := lineage.Verify(ctx, e.out, oms.KeyVerifier{Key: pub})
	if err != nil {
		t.Fatal(err)
	}
	rec := v.Record
	want, err := oms.Digest(ctx, e.ds, oms.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Datasets) != 1 || rec.Datasets[0].Root != want.Root || rec.Datasets[0].Path != e.ds || rec.Datasets[0].Files != 3 {
		t.Errorf("datasets %+v, want root %s", rec.Datasets, want.Root)
	}
	pol, err := policy.Load(e.policy)
	if err != nil {
		t.Fatal(err)
	}
	sdir, _ := pol.StoreDir()
	st, err := store.Open(sdir)
	if err != nil {
		t.Fatal(err)
	}
	base, err := st.Get("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Base == nil || rec.Base.Root != base.Root || rec.Base.Name != "tiny" {
		t.Errorf("base %+v, want root %s", rec.Base, base.Root)
	}
	cfgSum, _ := fileDigest(e.config)
	if rec.Config == nil || rec.Config.SHA256 != cfgSum {
		t.Errorf("config %+v, want %s", rec.Config, cfgSum)
	}
	scriptSum, _ := fileDigest(filepath.Join(e.code, "train.py"))
	if rec.Code == nil || rec.Code.Dir != e.code || rec.Code.Files["train.py"] != scriptSum {
		t.Errorf("code %+v", rec.Code)
	}
	if rec.Python == nil || rec.Python.Interpreter != "/usr/bin/python3" || rec.Python.SHA256 == "" {
		t.Errorf("python %+v", rec.Python)
	}
	if len(rec.Subjects) != 2 || rec.Subjects["model.safetensors"] == "" || rec.Subjects["config.json"] == "" {
		t.Errorf("subjects %v", rec.Subjects)
	}
	if rec.Command[len(rec.Command)-1] != e.config || rec.ExitStatus != 0 || rec.Finished.Before(rec.Started) || rec.Version == "" {
		t.Errorf("run %+v", rec)
	}

	// The CLI: exit 0 and the lineage; a changed file: exit 1, named.
	var out, errb bytes.Buffer
	if rc := Main([]string{"verify", "provenance", "--public-key", e.pub, e.out}, &out, &errb); rc != 0 ||
		!strings.Contains(out.String(), "provenance OK") || !strings.Contains(out.String(), rec.Datasets[0].Root) || !strings.Contains(out.String(), base.Root) {
		t.Errorf("verify provenance: %d\n%s\n%s", rc, out.String(), errb.String())
	}
	if err := os.WriteFile(filepath.Join(e.out, "config.json"), []byte(`{"model": "other"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if rc := Main([]string{"verify", "provenance", "--json", "--public-key", e.pub, e.out}, &out, &errb); rc != 1 {
		t.Errorf("changed file: exit %d\n%s", rc, out.String())
	}
	var got lineage.Verified
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.OK || len(got.Changed) != 1 || got.Changed[0] != "config.json" {
		t.Errorf("changed file: %v %+v", err, got)
	}
	// Another key: exit 1.
	other := filepath.Join(e.dir, "other")
	Main([]string{"keygen", "--out", other}, &out, &errb)
	if rc := Main([]string{"verify", "provenance", "--public-key", other + ".pub", e.out}, &out, &errb); rc != 1 {
		t.Errorf("other key: exit %d", rc)
	}
}

// TestTrainUndeclaredRead: a file the run was not given cannot be read in
// the sandbox; the run fails and nothing is signed.
func TestTrainUndeclaredRead(t *testing.T) {
	e := newTrainEnv(t)
	rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny"}, "--read", e.secret)
	if rc == 0 || !strings.Contains(stderr, "PermissionError") {
		t.Fatalf("exit %d\n%s\n%s", rc, stdout, stderr)
	}
	for _, f := range []string{"model.sig", "provenance.sig", "model.safetensors"} {
		if _, err := os.Stat(filepath.Join(e.out, f)); err == nil {
			t.Errorf("%s written after a failed run", f)
		}
	}
}

// TestTrainConfigAudit: a config or command line that names a path outside
// the declared inputs, or a checkpoint other than the base model, stops the
// run before it starts (exit 2, --out not created).
func TestTrainConfigAudit(t *testing.T) {
	e := newTrainEnv(t)
	for _, c := range []struct {
		extra map[string]any
		flags []string
		args  []string
		want  string
	}{
		{extra: map[string]any{"speakers_file": e.secret}, want: "speakers_file: \"" + e.secret + "\" is outside the declared inputs"},
		{extra: map[string]any{"restore_path": filepath.Join(e.model, "model_file.pth")}, want: "restore_path", flags: []string{}},
		{extra: map[string]any{"phoneme_cache_path": filepath.Join(e.ds, "cache")}, flags: []string{"--base-model", "tiny"}, want: "read-only"},
		{flags: []string{"--base-model", "tiny"}, args: []string{"--restore_path", e.secret}, want: "--restore_path"},
	} {
		e.writeConfig(t, c.extra)
		rc, stdout, stderr := e.train(t, c.flags, c.args...)
		if rc != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v %v: exit %d, want 2 and %q\n%s\n%s", c.extra, c.args, rc, c.want, stdout, stderr)
		}
		if _, err := os.Stat(e.out); err == nil {
			t.Errorf("%v: --out created", c.extra)
		}
	}
}
