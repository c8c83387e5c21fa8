package dataset

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/audio"
	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

func auditGenerated(t *testing.T, d *dstest.Dataset, opt Options) *Report {
	t.Helper()
	root, err := d.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if opt.Formatter == "" {
		opt.Formatter = d.Formatter
	}
	opt.Workers = 2
	rep, err := Audit(context.Background(), os.DirFS(root), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// toneRows are 12 rows at 44.1 kHz; the rows named carry a quiet tone
// above 16 kHz, louder the later they come.
func toneRows(tones ...int) []dstest.Row {
	rows := dstest.Base("LJ001-", 12)
	for i := range rows {
		rows[i].Clip.Rate = 44100
	}
	for j, i := range tones {
		rows[i].Clip.ToneHz, rows[i].Clip.ToneGain = 17000+float64(j)*300, 0.005+0.002*float64(j)
	}
	return rows
}

// TestPlotsSpectra: the spectra of exactly the clips with an inaudible-tone
// finding are in the report, each peaking at its tone inside the band.
func TestPlotsSpectra(t *testing.T) {
	rep := auditGenerated(t, dstest.LJSpeech("tones", toneRows(3, 8)), Options{})
	if rep.Plots == nil {
		t.Fatal("no plots")
	}
	p := rep.Plots
	var got []string
	for _, s := range p.Spectra {
		got = append(got, s.Clip)
		if len(s.PowerDB) != audio.SpectrumSize/2+1 || s.Rate != 44100 || s.BandHz != DefaultThresholds.InaudibleHz {
			t.Errorf("%s: %d bins at %d Hz, band %v", s.Clip, len(s.PowerDB), s.Rate, s.BandHz)
		}
		lo := int(s.BandHz / s.BinHz)
		peak := lo + maxIndex(s.PowerDB[lo:])
		if hz := float64(peak) * s.BinHz; hz < s.ToneHz-2*s.BinHz || hz > s.ToneHz+2*s.BinHz {
			t.Errorf("%s: loudest bin above the band at %.0f Hz, tone at %.0f Hz", s.Clip, hz, s.ToneHz)
		}
		if s.File != "metadata.csv" || s.Line == 0 || s.Audio != "wavs/"+s.Clip+".wav" {
			t.Errorf("%s: located at %s:%d, audio %q", s.Clip, s.File, s.Line, s.Audio)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"LJ001-0004", "LJ001-0009"}) || p.SpectraTotal != 2 {
		t.Errorf("spectra of %q (total %d), want LJ001-0004 and LJ001-0009", got, p.SpectraTotal)
	}
	if p.Points != nil || p.PointsTotal != 0 {
		t.Errorf("label points without Options.LabelPoints: %d", len(p.Points))
	}

	// a clean dataset: no plot data at all
	if rep := auditGenerated(t, dstest.LJSpeech("clean", toneRows()), Options{}); rep.Plots != nil {
		t.Errorf("clean dataset has plot data: %+v", rep.Plots)
	}
}

// TestPlotsSpectraBounded: with more flagged clips than MaxSpectra, the
// most prominent are kept, in order; a silenced finding's spectrum is not.
func TestPlotsSpectraBounded(t *testing.T) {
	tones := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	rep := auditGenerated(t, dstest.LJSpeech("many", toneRows(tones...)), Options{})
	p := rep.Plots
	if p != nil && (len(p.Spectra) != MaxSpectra || p.SpectraTotal != len(tones)) {
		t.Fatalf("%d spectra of %d, want %d of %d", len(p.Spectra), p.SpectraTotal, MaxSpectra, len(tones))
	}
	if p == nil || len(p.Spectra) != MaxSpectra || p.SpectraTotal != len(tones) {
		t.Fatalf("plots %v, want %d spectra of %d", p != nil, MaxSpectra, len(tones))
	}
	for i := 1; i < len(p.Spectra); i++ {
		if p.Spectra[i].Prominence > p.Spectra[i-1].Prominence {
			t.Errorf("spectra not most prominent first: %v then %v", p.Spectra[i-1].Prominence, p.Spectra[i].Prominence)
		}
	}
	top := p.Spectra[0].Clip
	rep = auditGenerated(t, dstest.LJSpeech("many", toneRows(tones...)), Options{
		Ignore: []Ignore{{Rule: "audio/inaudible-tone", Clips: []string{top}, Reason: "test"}}})
	for _, s := range rep.Plots.Spectra {
		if s.Clip == top {
			t.Errorf("the spectrum of silenced %s is in the report", top)
		}
	}
	if rep.Plots.SpectraTotal != len(tones)-1 {
		t.Errorf("SpectraTotal %d after silencing one of %d", rep.Plots.SpectraTotal, len(tones))
	}
}

// TestPlotsLabelPoints: every rate outlier is a point marked as one; the
// rest are a deterministic sample of LabelPoints.
func TestPlotsLabelPoints(t *testing.T) {
	swapped := func() *dstest.Dataset {
		rows := dstest.Base("LJ001-", 12)
		rows[0].Text, rows[11].Text = rows[11].Text, rows[0].Text
		return dstest.LJSpeech("swapped", rows)
	}
	rep := auditGenerated(t, swapped(), Options{LabelPoints: 5})
	p := rep.Plots
	if p == nil {
		t.Fatal("no plots")
	}
	var outliers []string
	for _, pt := range p.Points {
		if pt.Outlier {
			outliers = append(outliers, pt.Clip)
		}
		if pt.Seconds <= 0 || pt.Letters <= 0 || pt.Line == 0 {
			t.Errorf("point %+v", pt)
		}
	}
	if !slices.Equal(outliers, []string{"LJ001-0001", "LJ001-0012"}) || len(p.Points) != 7 || p.PointsTotal != 12 {
		t.Errorf("outliers %q among %d points of %d, want LJ001-0001, LJ001-0012 and 5 more of 12", outliers, len(p.Points), p.PointsTotal)
	}
	if p.MedianRate < 11 || p.MedianRate > 15 {
		t.Errorf("median rate %.1f letters/s, the corpus speaks about 14 minus pauses", p.MedianRate)
	}
	again := auditGenerated(t, swapped(), Options{LabelPoints: 5})
	if !slices.Equal(p.Points, again.Plots.Points) {
		t.Errorf("the sample differs between two audits of the same data")
	}
	if all := auditGenerated(t, swapped(), Options{LabelPoints: 100}); len(all.Plots.Points) != 12 {
		t.Errorf("%d points with room for all 12", len(all.Plots.Points))
	}
}

func maxIndex(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestPlotsParts: a config's datasets audited together keep each one's
// points and spectra, their files named by the dataset.
func TestPlotsParts(t *testing.T) {
	swapped := dstest.Base("LJ001-", 12)
	swapped[0].Text, swapped[11].Text = swapped[11].Text, swapped[0].Text
	var parts []Part
	for i, d := range []*dstest.Dataset{dstest.LJSpeech("tones", toneRows(3, 8)), dstest.LJSpeech("swapped", swapped)} {
		root, err := d.Write(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, Part{Name: fmt.Sprintf("datasets[%d]", i), Root: root, FS: os.DirFS(root), Formatter: d.Formatter})
	}
	rep, err := AuditParts(context.Background(), parts, Options{Workers: 2, LabelPoints: 100})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Plots
	if p == nil || p.PointsTotal != 24 || len(p.Points) != 24 || p.SpectraTotal != 2 || len(p.Spectra) != 2 {
		t.Fatalf("merged plots: %v", p != nil)
	}
	var outliers []string
	for _, pt := range p.Points {
		if pt.Outlier {
			outliers = append(outliers, pt.File+"/"+pt.Clip)
		}
	}
	if !slices.Equal(outliers, []string{"datasets[1]:metadata.csv/LJ001-0001", "datasets[1]:metadata.csv/LJ001-0012"}) {
		t.Errorf("outliers %q", outliers)
	}
	for _, s := range p.Spectra {
		if s.File != "datasets[0]:metadata.csv" {
			t.Errorf("spectrum of %s in %q", s.Clip, s.File)
		}
	}
}
