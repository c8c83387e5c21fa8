package dataset

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

// TestCompositionF0: the composition gives each speaker's F0: spk0 speaks
// at 100 Hz, spk1 at 210 Hz (each syllable 0.85-1.15 of it); the medians
// land within 15 %, and the range holds the median.
func TestCompositionF0(t *testing.T) {
	rows := dstest.Base("LJ001-", 12)
	for i := range rows {
		rows[i].Clip.F0 = []float64{100, 210}[i%2]
	}
	d := dstest.Coqui("f0", rows)
	root, err := d.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Audit(context.Background(), os.DirFS(root), root, Options{Formatter: "coqui", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"spk0": 100, "spk1": 210}
	if len(rep.Composition) != 2 {
		t.Fatalf("composition %+v", rep.Composition)
	}
	for _, g := range rep.Composition {
		f := want[g.Speaker]
		if g.F0Clips != 6 || g.F0Median < 0.85*f || g.F0Median > 1.15*f || g.F0P10 > g.F0Median || g.F0P90 < g.F0Median {
			t.Errorf("%s: F0 %+v, want a median near %.0f Hz from 6 clips", g.Speaker, g, f)
		}
	}
	var b strings.Builder
	rep.Text(&b)
	if !strings.Contains(b.String(), "F0 ") {
		t.Errorf("text report has no F0:\n%s", b.String())
	}
}

// TestLanguageImbalance: two datasets of a config, English with 12 clips
// and German with one, give an info finding on German only; with
// language_imbalance_ratio 0 none.
func TestLanguageImbalance(t *testing.T) {
	dir := t.TempDir()
	en, err := dstest.LJSpeech("en", dstest.Base("LJ001-", 12)).Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	de, err := dstest.LJSpeech("de", dstest.Base("LJ001-", 1)).Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	parts := []Part{
		{Name: "datasets[0]", Root: en, FS: os.DirFS(en), Formatter: "ljspeech", Language: "en"},
		{Name: "datasets[1]", Root: de, FS: os.DirFS(de), Formatter: "ljspeech", Language: "de"},
	}
	rep, err := AuditParts(context.Background(), parts, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		if f.Rule == "composition/language-imbalance" {
			got = append(got, f.Message)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], `language "de"`) {
		t.Errorf("language findings %q, want one on de", got)
	}
	th := DefaultThresholds
	th.LanguageRatio = 0
	rep, err = AuditParts(context.Background(), parts, Options{Workers: 2, Thresholds: th})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Rule == "composition/language-imbalance" {
			t.Errorf("with ratio 0: %s", f)
		}
	}
}
