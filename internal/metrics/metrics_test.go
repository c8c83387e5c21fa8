package metrics

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Parse reads a metrics file with the official text-format parser.
func Parse(t *testing.T, data []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, data)
	}
	return mfs
}

// Value returns the value of the metric with the given labels (name, value
// pairs); ok false when there is none.
func Value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func TestWriteFile(t *testing.T) {
	now := time.Unix(1764806400, 500_000_000)
	s := Snapshot{Time: now, OK: false, StoreBytes: 12345, LogBytes: 999, LogRecords: 7, LogOK: true, LastCheckpoint: now.Add(-time.Minute), NotChecked: 1,
		DoctorFindings: map[string]int{"high": 2},
		Models: []Model{
			{Name: "tts_models/en/ljspeech/vits", Verified: true, LastFullHash: now.Add(-time.Hour), Findings: map[string]int{}},
			{Name: "bad \"model\"\n", Verified: false, Findings: map[string]int{"critical": 3, "low": 1}},
		}}
	dir := t.TempDir()
	path := filepath.Join(dir, "ttsguard.prom")
	must(t, os.WriteFile(path, []byte("old"), 0o600))
	must(t, WriteFile(path, s))
	data, err := os.ReadFile(path)
	must(t, err)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (node_exporter reads it)", fi.Mode())
	}
	mfs := Parse(t, data)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ttsguard_audit_ok", nil, 0},
		{"ttsguard_audit_last_run_timestamp_seconds", nil, 1764806400.5},
		{"ttsguard_store_models", nil, 3},
		{"ttsguard_store_models_not_checked", nil, 1},
		{"ttsguard_store_bytes", nil, 12345},
		{"ttsguard_log_bytes", nil, 999},
		{"ttsguard_log_records", nil, 7},
		{"ttsguard_log_ok", nil, 1},
		{"ttsguard_log_last_checkpoint_timestamp_seconds", nil, 1764806340.5},
		{"ttsguard_model_verified", []string{"model", "tts_models/en/ljspeech/vits"}, 1},
		{"ttsguard_model_verified", []string{"model", "bad \"model\"\n"}, 0},
		{"ttsguard_model_last_full_hash_timestamp_seconds", []string{"model", "tts_models/en/ljspeech/vits"}, 1764802800.5},
		{"ttsguard_model_findings", []string{"model", "bad \"model\"\n", "severity", "critical"}, 3},
		{"ttsguard_model_findings", []string{"model", "bad \"model\"\n", "severity", "low"}, 1},
		{"ttsguard_model_findings", []string{"model", "bad \"model\"\n", "severity", "high"}, 0},
		{"ttsguard_doctor_findings", []string{"severity", "high"}, 2},
		{"ttsguard_doctor_findings", []string{"severity", "low"}, 0},
	} {
		got, ok := Value(mfs, c.name, c.labels...)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := Value(mfs, "ttsguard_model_last_full_hash_timestamp_seconds", "model", "bad \"model\"\n"); ok {
		t.Error("a model never hashed in full has a last full hash time")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	// A folder that is not there: an error naming the file, nothing written.
	bad := filepath.Join(dir, "missing", "x.prom")
	if err := WriteFile(bad, s); err == nil || !bytes.Contains([]byte(err.Error()), []byte(bad)) {
		t.Errorf("err %v", err)
	}
	if err := WriteFile(dir+"/", s); err == nil {
		t.Error("a folder path accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
