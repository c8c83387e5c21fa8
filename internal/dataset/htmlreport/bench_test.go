package htmlreport

import (
	"fmt"
	"math"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// bigReport is the largest page the caps allow and more: 100,000 findings
// over 20 rules (500 rows listed each), 2,000 points and 50 outliers, 8
// spectra, 2,000 speakers (40 drawn).
func bigReport() *dataset.Report {
	rep := &dataset.Report{Root: "/data/big", Formatter: "ljspeech", Rows: 1_000_000, Clips: 1_000_000, Seconds: 3.6e7}
	for i := range 100_000 {
		rep.Findings = append(rep.Findings, dataset.Finding{Rule: fmt.Sprintf("rule/%02d", i%20), Severity: scan.Severity(i % 5),
			File: "metadata.csv", Line: i + 1, Clip: fmt.Sprintf("LJ%06d", i), Message: "evidence of a realistic length, a sentence or so with numbers 12.3 dB"})
	}
	p := &dataset.Plots{PointsTotal: 1_000_000, MedianRate: 14, SpectraTotal: 100}
	for i := range 2050 {
		p.Points = append(p.Points, dataset.LabelPoint{Clip: fmt.Sprintf("LJ%06d", i), File: "metadata.csv", Line: i + 1,
			Seconds: 1 + float64(i%97)/10, Letters: 14 + i%131, Outlier: i < 50})
	}
	for i := range 8 {
		s := dataset.ClipSpectrum{Clip: fmt.Sprintf("T%d", i), File: "metadata.csv", Line: i + 1, Audio: "wavs/t.wav", Rate: 44100,
			BinHz: 44100.0 / 1024, BandHz: 16000, ToneHz: 18000, Prominence: 30}
		for k := range 513 {
			s.PowerDB = append(s.PowerDB, -70+10*math.Sin(float64(k)))
		}
		p.Spectra = append(p.Spectra, s)
	}
	rep.Plots = p
	for i := range 2000 {
		rep.Composition = append(rep.Composition, dataset.Group{Speaker: fmt.Sprintf("spk%04d", i), Split: "metadata.csv", Seconds: float64(i)})
	}
	return rep
}

type counter int64

func (c *counter) Write(b []byte) (int, error) { *c += counter(len(b)); return len(b), nil }

// BenchmarkRender: the page of bigReport (docs/BENCHMARKS.md).
func BenchmarkRender(b *testing.B) {
	rep := bigReport()
	var n counter
	for b.Loop() {
		n = 0
		if err := Render(&n, rep, Options{FailOn: scan.Medium}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/(1<<20), "MiB/page")
}
