package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestAuditMetrics runs audit --metrics on a store with the example model,
// then with one of its files changed, and reads the file with the official
// text-format parser each time.
func TestAuditMetrics(t *testing.T) {
	dir := t.TempDir()
	examples, _ := filepath.Abs("../../examples")
	must(t, os.MkdirAll(filepath.Join(dir, "keys"), 0o755))
	copyFile(t, filepath.Join(examples, "ttsguard.yaml"), filepath.Join(dir, "policy.yaml"), 0o644)
	copyFile(t, filepath.Join(examples, "keys", "example.pub"), filepath.Join(dir, "keys", "example.pub"), 0o644)
	t.Setenv("TTSGUARD_HOME", filepath.Join(dir, "store"))
	pol := filepath.Join(dir, "policy.yaml")
	prom := filepath.Join(dir, "textfile", "ttsguard.prom")
	must(t, os.Mkdir(filepath.Dir(prom), 0o755))
	main := func(want int, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != want {
			t.Fatalf("ttsguard %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errb.String())
		}
		return out.String()
	}
	read := func() func(name string, labels ...string) float64 {
		data, err := os.ReadFile(prom)
		must(t, err)
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, data)
		}
		return func(name string, labels ...string) float64 {
			t.Helper()
		next:
			for _, m := range mfs[name].GetMetric() {
				for i := 0; i+1 < len(labels); i += 2 {
					for _, l := range m.GetLabel() {
						if l.GetName() == labels[i] && l.GetValue() != labels[i+1] {
							continue next
						}
					}
				}
				return m.GetGauge().GetValue()
			}
			t.Fatalf("no %s%v in\n%s", name, labels, data)
			return 0
		}
	}
	main(0, "pull", "--policy", pol, "--name", "tiny-vits", filepath.Join(examples, "tiny-vits"))
	main(0, "audit", "--policy", pol, "--metrics", prom)
	v := read()
	if v("ttsguard_audit_ok") != 1 || v("ttsguard_store_models") != 1 || v("ttsguard_model_verified", "model", "tiny-vits") != 1 {
		t.Errorf("clean audit: ok %v, models %v, verified %v", v("ttsguard_audit_ok"), v("ttsguard_store_models"), v("ttsguard_model_verified", "model", "tiny-vits"))
	}
	if v("ttsguard_store_bytes") <= 0 || v("ttsguard_log_bytes") <= 0 || v("ttsguard_log_records") < 1 ||
		v("ttsguard_log_last_checkpoint_timestamp_seconds") <= 0 || v("ttsguard_model_last_full_hash_timestamp_seconds", "model", "tiny-vits") <= 0 {
		t.Error("store, log or hash time metrics missing")
	}
	// A changed model file: the next audit fails, and says so.
	cfg, err := filepath.Glob(filepath.Join(dir, "store", "models", "tiny-vits", "current", "config.json"))
	if err != nil || len(cfg) != 1 {
		t.Fatalf("config.json: %v %v", cfg, err)
	}
	must(t, os.Chmod(cfg[0], 0o644))
	f, err := os.OpenFile(cfg[0], os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	f.WriteString(" ")
	f.Close()
	main(1, "audit", "--policy", pol, "--metrics", prom)
	v = read()
	if v("ttsguard_audit_ok") != 0 || v("ttsguard_model_verified", "model", "tiny-vits") != 0 {
		t.Errorf("tampered: audit_ok %v, verified %v", v("ttsguard_audit_ok"), v("ttsguard_model_verified", "model", "tiny-vits"))
	}
	// A metrics file that cannot be written is said; the audit keeps its verdict.
	if out := main(1, "audit", "--policy", pol, "--metrics", filepath.Join(dir, "no", "such", "x.prom")); !strings.Contains(out, "audit FAILED") {
		t.Errorf("no verdict printed:\n%s", out)
	}
}
