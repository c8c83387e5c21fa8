//go:build linux && (amd64 || arm64)

package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

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
	v, err := lineage.Verify(ctx, e.out, oms.KeyVerifier{Key: pub}, lineage.VerifyOptions{})
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
	// A declared input the serving user cannot read: named before the
	// command starts.
	if os.Geteuid() == 0 {
		os.RemoveAll(e.out)
		os.Chmod(e.ds, 0o700)
		defer os.Chmod(e.ds, 0o755)
		rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny"})
		if rc == 0 || !strings.Contains(stderr, "cannot read the input "+e.ds) || strings.Contains(stderr, "trained ") {
			t.Errorf("unreadable dataset: exit %d\n%s\n%s", rc, stdout, stderr)
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
	// --explain prints the inputs, where each config path lies, and the
	// sandbox, and starts nothing.
	e.writeConfig(t, map[string]any{"restore_path": filepath.Join(e.model, "model_file.pth")})
	rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny", "--explain"})
	if rc != 0 || !strings.Contains(stdout, "training run (nothing started)") ||
		!strings.Contains(stdout, "config path restore_path = "+filepath.Join(e.model, "model_file.pth")+` (in the base model "tiny")`) ||
		!strings.Contains(stdout, "config path datasets[0].meta_file_train = "+filepath.Join(e.ds, "metadata.csv")+` (in dataset "ljs")`) {
		t.Errorf("--explain: %d\n%s\n%s", rc, stdout, stderr)
	}
	if _, err := os.Stat(e.out); err == nil {
		t.Error("--explain created --out")
	}
}

// withProvenancePolicy rewrites the env's policy: the trainer's key as
// signer "trainer" (and more signers, NAME=PUBLIC_KEY), and
// models.NAME.provenance as given.
func (e *trainEnv) withProvenancePolicy(t *testing.T, name, rules string, signers ...string) {
	t.Helper()
	p := "version: 1\nstore: store\nsources: []\nsigners:\n  - {name: trainer, public_key: " + e.pub + "}\n"
	for _, s := range signers {
		n, k, _ := strings.Cut(s, "=")
		p += "  - {name: " + n + ", public_key: " + k + "}\n"
	}
	p += "models:\n  " + name + ":\n    provenance: " + rules + "\n"
	if err := os.WriteFile(e.policy, []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs ttsguard with args; it returns the exit code and both outputs.
func runMain(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := Main(args, &out, &errb)
	return rc, out.String(), errb.String()
}

// TestTrainProvenanceGate: models.NAME.provenance at pull, check and audit:
// a model trained on an approved dataset from an approved base passes and
// shows its lineage; an unapproved dataset root, an unapproved base, a
// missing provenance when required, and a provenance signed by a key the
// policy does not name all fail the gate (exit 1, nothing stored).
func TestTrainProvenanceGate(t *testing.T) {
	e := newTrainEnv(t)
	if rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny"}); rc != 0 {
		t.Fatalf("train: %d\n%s\n%s", rc, stdout, stderr)
	}
	dsRoot, err := oms.Digest(context.Background(), e.ds, oms.ModelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := "sha256:" + strings.Repeat("0", 64)
	for _, c := range []struct {
		name, rules string
		ok          bool
		want        string
	}{
		{"approved", "{required: true, signers: [trainer], datasets: [\"" + dsRoot.Root + "\"], base_models: [tiny]}", true, `verified: signer "trainer"; trained on dataset ljs ` + dsRoot.Root},
		{"no rules", "{}", true, `verified: signer "trainer"`},
		{"dataset not approved", "{datasets: [\"" + other + "\"]}", false, `dataset "ljs" (root ` + dsRoot.Root + `) is not among models["trained"].provenance.datasets`},
		{"base not approved", "{base_models: [\"" + other + "\", other/model]}", false, `base model "tiny"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.withProvenancePolicy(t, "trained", c.rules)
			rc, stdout, stderr := runMain("pull", "--policy", e.policy, "--name", "trained", e.out)
			if (rc == 0) != c.ok || !strings.Contains(stdout+stderr, c.want) {
				t.Fatalf("pull: exit %d, want ok=%v and %q\n%s\n%s", rc, c.ok, c.want, stdout, stderr)
			}
			if !c.ok {
				return
			}
			rc, stdout, stderr = runMain("check", "--policy", e.policy, "--json", "trained")
			var cr struct {
				OK      bool            `json:"ok"`
				Lineage *lineage.Record `json:"lineage"`
			}
			json.Unmarshal([]byte(stdout), &cr)
			if rc != 0 || !cr.OK || cr.Lineage == nil || cr.Lineage.Datasets[0].Root != dsRoot.Root || cr.Lineage.Base.Name != "tiny" {
				t.Errorf("check: %d %+v\n%s\n%s", rc, cr, stdout, stderr)
			}
		})
	}
	// verify provenance of the stored model, by name.
	if rc, stdout, stderr := runMain("verify", "provenance", "--policy", e.policy, "--public-key", e.pub, "trained"); rc != 0 || !strings.Contains(stdout, "provenance OK") {
		t.Errorf("verify provenance of the stored model: %d\n%s\n%s", rc, stdout, stderr)
	}
	// The stored model under rules it no longer meets: check and run
	// refuse it (audit too: TestAuditDataset).
	e.withProvenancePolicy(t, "trained", "{datasets: [\""+other+"\"]}")
	if rc, stdout, stderr := runMain("check", "--policy", e.policy, "trained"); rc != 1 || !strings.Contains(stdout, "gate provenance FAILED") {
		t.Errorf("check under new rules: %d\n%s\n%s", rc, stdout, stderr)
	}
	if rc, stdout, stderr := runMain("run", "--policy", e.policy, "trained", "--", "/bin/true"); rc != 1 || !strings.Contains(stdout+stderr, "not among models[\"trained\"].provenance.datasets") {
		t.Errorf("run under new rules: %d\n%s\n%s", rc, stdout, stderr)
	}
	// Required, and the model has none: the example model pulled as "plain".
	exampleKey, _ := filepath.Abs("../../examples/keys/example.pub")
	e.withProvenancePolicy(t, "plain", "{required: true}", "example="+exampleKey)
	example, _ := filepath.Abs("../../examples/tiny-vits")
	if rc, stdout, stderr := runMain("pull", "--policy", e.policy, "--name", "plain", example); rc != 1 ||
		!strings.Contains(stdout+stderr, "requires a training provenance") {
		t.Errorf("required, none: %d\n%s\n%s", rc, stdout, stderr)
	}
	// Signed by a key the provenance rules do not name (model.sig still
	// verifies: the trainer is a signer of the policy).
	otherKey := filepath.Join(e.dir, "stranger")
	runMain("keygen", "--out", otherKey)
	e.withProvenancePolicy(t, "trained2", "{required: true, signers: [stranger]}", "stranger="+otherKey+".pub")
	if rc, stdout, stderr := runMain("pull", "--policy", e.policy, "--name", "trained2", e.out); rc != 1 ||
		!strings.Contains(stdout+stderr, "no trusted signer verifies provenance.sig") {
		t.Errorf("stranger: %d\n%s\n%s", rc, stdout, stderr)
	}
}

// TestAuditDataset: audit --dataset passes while the dataset of record is
// what the stored model was trained on, and fails naming the model once a
// file of it changes (poisoning after training).
func TestAuditDataset(t *testing.T) {
	e := newTrainEnv(t)
	if rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny"}); rc != 0 {
		t.Fatalf("train: %d\n%s\n%s", rc, stdout, stderr)
	}
	e.withProvenancePolicy(t, "trained", "{required: true}")
	if rc, stdout, stderr := runMain("pull", "--policy", e.policy, "--name", "trained", e.out); rc != 0 {
		t.Fatalf("pull: %d\n%s\n%s", rc, stdout, stderr)
	}
	rc, stdout, stderr := runMain("audit", "--policy", e.policy, "--dataset", e.ds)
	if !strings.Contains(stdout, "dataset ljs") || !strings.Contains(stdout, "as trained were trained on it") || strings.Contains(stdout, "gate dataset") {
		t.Errorf("audit before: %d\n%s\n%s", rc, stdout, stderr)
	}
	before := rc // doctor may find the test's folders; the dataset decides the difference
	if err := os.WriteFile(filepath.Join(e.ds, "metadata.csv"), []byte("a|Hello.|Hello.\nb|Buy now.|Buy now.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rc, stdout, stderr = runMain("audit", "--policy", e.policy, "--json", "--dataset", e.ds)
	var ar struct {
		Models []struct {
			Name  string `json:"name"`
			OK    bool   `json:"ok"`
			Gates []struct {
				Name   string `json:"name"`
				OK     bool   `json:"ok"`
				Detail string `json:"detail"`
			} `json:"gates"`
		} `json:"models"`
		Datasets []auditDataset `json:"datasets"`
	}
	if err := json.Unmarshal([]byte(stdout), &ar); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rc != 1 || len(ar.Datasets) != 1 || len(ar.Datasets[0].Changed) != 1 || ar.Datasets[0].Changed[0] != "trained" {
		t.Errorf("audit after: exit %d (before %d) %+v\n%s", rc, before, ar.Datasets, stderr)
	}
	found := false
	for _, m := range ar.Models {
		for _, g := range m.Gates {
			if m.Name == "trained" && g.Name == "dataset" && !g.OK && strings.Contains(g.Detail, "the model was trained on") {
				found = !m.OK
			}
		}
	}
	if !found {
		t.Errorf("no failed dataset gate: %s", stdout)
	}
}

// writeWAV writes a one-second 16-bit mono 22050 Hz tone of frequency f.
func writeWAV(t *testing.T, p string, f float64) {
	t.Helper()
	const rate, n = 22050, 22050
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1))
	le(uint16(1))
	le(uint32(rate))
	le(uint32(2 * rate))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	for i := 0; i < n; i++ {
		le(int16(8000 * math.Sin(2*math.Pi*f*float64(i)/rate)))
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTrainDatasetAudit: models.NAME.dataset_audit makes train run the
// dataset audit on that dataset first: broken clips refuse the run (exit
// 1, nothing started), clean ones pass and the provenance says so.
func TestTrainDatasetAudit(t *testing.T) {
	e := newTrainEnv(t)
	if err := os.WriteFile(e.policy, []byte("version: 1\nstore: store\nsources: []\nmodels:\n  ljs:\n    dataset_audit: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The env's clips are not audio.
	rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny"})
	if rc != 1 || !strings.Contains(stderr, `dataset "ljs": the dataset audit (models["ljs"].dataset_audit) has findings at or above medium`) {
		t.Fatalf("broken clips: exit %d\n%s\n%s", rc, stdout, stderr)
	}
	if _, err := os.Stat(e.out); err == nil {
		t.Error("--out created by a refused run")
	}
	writeWAV(t, filepath.Join(e.ds, "wavs", "a.wav"), 220)
	writeWAV(t, filepath.Join(e.ds, "wavs", "b.wav"), 330)
	if rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny", "--json"}); rc != 0 {
		t.Fatalf("clean clips: exit %d\n%s\n%s", rc, stdout, stderr)
	}
	data, _ := os.ReadFile(e.pub)
	pub, _ := oms.ParsePublicKey(e.pub, data)
	v, err := lineage.Verify(context.Background(), e.out, oms.KeyVerifier{Key: pub}, lineage.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Record.Datasets[0].Verified; !strings.Contains(got, "dataset audit (ljspeech): 2 rows, nothing at or above medium") {
		t.Errorf("verified: %s", got)
	}
}

// TestTrainCertificate: train signs with a certificate and its chain as
// sign certificate does; verify provenance checks the chain to the root
// (the certificates of testdata/script/certificates.txtar).
func TestTrainCertificate(t *testing.T) {
	e := newTrainEnv(t)
	ar, err := txtar.ParseFile("testdata/script/certificates.txtar")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ar.Files {
		if strings.HasSuffix(f.Name, ".pem") || strings.HasSuffix(f.Name, ".key") {
			if err := os.WriteFile(filepath.Join(e.dir, f.Name), f.Data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.key = filepath.Join(e.dir, "cs.key")
	rc, stdout, stderr := e.train(t, []string{"--base-model", "tiny", "--signing-certificate", filepath.Join(e.dir, "cs.pem"),
		"--certificate-chain", filepath.Join(e.dir, "int.pem")})
	if rc != 0 {
		t.Fatalf("train: %d\n%s\n%s", rc, stdout, stderr)
	}
	root := filepath.Join(e.dir, "root.pem")
	rc, stdout, stderr = runMain("verify", "provenance", "--json", "--certificate-chain", root, e.out)
	var v lineage.Verified
	json.Unmarshal([]byte(stdout), &v)
	if rc != 0 || !v.OK || v.Signer == nil || v.Signer.Method != "certificate" {
		t.Errorf("verify provenance: %d %+v\n%s", rc, v, stderr)
	}
	if rc, _, stderr := runMain("verify", "certificate", "--certificate-chain", root, e.out); rc != 0 {
		t.Errorf("verify certificate of model.sig: %d %s", rc, stderr)
	}
	// Another self-signed anchor does not verify it.
	if rc, _, _ := runMain("verify", "provenance", "--certificate-chain", filepath.Join(e.dir, "self.pem"), e.out); rc != 1 {
		t.Errorf("another anchor: exit %d", rc)
	}
	if rc, _, _ := runMain("verify", "provenance", "--certificate-chain", root, "--public-key", e.pub, e.out); rc != 2 {
		t.Errorf("two kinds of verifier: exit %d", rc)
	}
}
