// Package metrics writes what an audit found as Prometheus text-format
// metrics for node_exporter's textfile collector: one file, replaced
// atomically (written beside it, synced, renamed), so that the collector
// never reads half of it. It uses client_golang's registry and the text
// encoder of prometheus/common; docs/storage.md lists the metrics.
package metrics

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// Severities a model's findings are counted by (the scanner's names).
var Severities = []string{"low", "medium", "high", "critical"}

// Model is one stored model as an audit saw it.
type Model struct {
	Name     string
	Verified bool // its files matched and every gate passed
	// LastFullHash is when its files were last hashed in full and matched
	// (zero: never, or they did not match).
	LastFullHash time.Time
	// Findings counts the scan findings above info by severity name.
	Findings map[string]int
}

// Snapshot is everything one audit run reports.
type Snapshot struct {
	Time           time.Time // when the audit ran
	OK             bool      // the audit found nothing wrong
	Models         []Model
	NotChecked     int   // stored models that could not be checked
	StoreBytes     int64 // bytes of every stored version
	DoctorFindings map[string]int
	LogBytes       int64
	LogRecords     int64
	LogOK          bool
	LastCheckpoint time.Time // zero: no checkpoint yet
}

// Registry builds a registry holding the snapshot's metrics.
func Registry(s Snapshot) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, v float64) error {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "ttsguard", Name: name, Help: help})
		g.Set(v)
		return reg.Register(g)
	}
	vec := func(name, help string, labels ...string) (*prometheus.GaugeVec, error) {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "ttsguard", Name: name, Help: help}, labels)
		return g, reg.Register(g)
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(gauge("audit_last_run_timestamp_seconds", "When the last audit ran (Unix time).", unix(s.Time)))
	add(gauge("audit_ok", "1 when the last audit found nothing wrong.", b2f(s.OK)))
	add(gauge("store_models", "Models in the store.", float64(len(s.Models)+s.NotChecked)))
	add(gauge("store_models_not_checked", "Stored models the last audit could not check.", float64(s.NotChecked)))
	add(gauge("store_bytes", "Bytes of every stored model version.", float64(s.StoreBytes)))
	add(gauge("log_bytes", "Size of the audit log.", float64(s.LogBytes)))
	add(gauge("log_records", "Records in the audit log when the audit verified it (before its own summary event).", float64(s.LogRecords)))
	add(gauge("log_ok", "1 when the audit log verified against its checkpoint.", b2f(s.LogOK)))
	if !s.LastCheckpoint.IsZero() {
		add(gauge("log_last_checkpoint_timestamp_seconds", "When the audit log's checkpoint was last signed (Unix time).", unix(s.LastCheckpoint)))
	}
	verified, err := vec("model_verified", "1 when the model's files matched its manifest and every gate passed.", "model")
	add(err)
	hashed, err := vec("model_last_full_hash_timestamp_seconds", "When the model's files were last hashed in full and matched (Unix time).", "model")
	add(err)
	findings, err := vec("model_findings", "Scan findings of the model above info, by severity.", "model", "severity")
	add(err)
	doctor, err := vec("doctor_findings", "Findings of doctor (owners, modes, access), by severity.", "severity")
	add(err)
	if len(errs) > 0 {
		return nil, fmt.Errorf("metrics: %v", errs[0])
	}
	for _, m := range s.Models {
		verified.WithLabelValues(m.Name).Set(b2f(m.Verified))
		if !m.LastFullHash.IsZero() {
			hashed.WithLabelValues(m.Name).Set(unix(m.LastFullHash))
		}
		for _, sev := range Severities {
			findings.WithLabelValues(m.Name, sev).Set(float64(m.Findings[sev]))
		}
	}
	for _, sev := range []string{"low", "medium", "high"} {
		doctor.WithLabelValues(sev).Set(float64(s.DoctorFindings[sev]))
	}
	return reg, nil
}

// Encode writes the snapshot's metrics in the text exposition format.
func Encode(s Snapshot) ([]byte, error) {
	reg, err := Registry(s)
	if err != nil {
		return nil, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return b.Bytes(), nil
}

// WriteFile replaces path with the snapshot's metrics atomically: a
// temporary file in the same folder (named so that the textfile collector,
// which reads *.prom, ignores it), synced, made 0644, renamed over path, and
// the folder synced. On failure path is left as it was and the temporary
// file removed.
func WriteFile(path string, s Snapshot) error {
	data, err := Encode(s)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" || strings.HasSuffix(path, string(filepath.Separator)) {
		return fmt.Errorf("metrics file %q: want a file name", path)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("metrics file %q: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("metrics file %q: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("metrics file %q: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
