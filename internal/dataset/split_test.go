package dataset

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

// splitDataset is an ljspeech dataset with a training split (metadata.csv,
// 12 rows) and an eval split (metadata_val.csv): three new recordings, one
// training clip's samples under a new id, and an altered copy (gain, trim,
// noise) of another.
func splitDataset(t *testing.T) string {
	t.Helper()
	train := dstest.Base("LJ001-", 12)
	val := dstest.Base("LJ002-", 3)
	for i := range val {
		val[i].Clip.Seed += 100
	}
	val = append(val,
		dstest.Row{ID: "LJ002-0004", Text: train[3].Text, Clip: train[3].Clip},
		dstest.Row{ID: "LJ002-0005", Text: train[4].Text, Audio: train[4].Clip.Copy(0.8, 0.05, 0.002, 0, 7)})
	d := dstest.LJSpeech("splits", train)
	vd := dstest.LJSpeech("val", val)
	for name, b := range vd.Files {
		if name == "metadata.csv" {
			name = "metadata_val.csv"
		}
		d.Files[name] = b
	}
	root, err := d.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestSplitLeak: with meta_file_val the eval split is read too; a
// recording of the training split in it (the same samples, or an altered
// copy) is label/split-leak on exactly those rows; without it the training
// split alone is clean. Sharded and merged, the same report.
func TestSplitLeak(t *testing.T) {
	root := splitDataset(t)
	opt := Options{Formatter: "ljspeech", Workers: 2}
	rep, err := Audit(context.Background(), os.DirFS(root), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(rep); len(got) != 0 {
		t.Fatalf("the training split alone: %q", got)
	}
	opt.MetaFileVal = "metadata_val.csv"
	rep, err = Audit(context.Background(), os.DirFS(root), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := findingKeys(rep), []string{"label/split-leak@LJ002-0004", "label/split-leak@LJ002-0005"}; !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	for _, f := range rep.Findings {
		if f.Rule == "label/split-leak" && (f.File != "metadata_val.csv" || !strings.Contains(f.Message, "metadata.csv:") || !strings.Contains(f.Message, "eval split")) {
			t.Errorf("finding %+v", f)
		}
	}
	if rep.Rows != 17 || !slices.Contains(rep.MetaFiles, "metadata_val.csv") {
		t.Errorf("rows %d, meta files %q", rep.Rows, rep.MetaFiles)
	}
	var splits []string
	for _, g := range rep.Composition {
		splits = append(splits, g.Split)
	}
	if !slices.Equal(splits, []string{"metadata.csv", "metadata_val.csv"}) {
		t.Errorf("composition splits %q", splits)
	}
	parts := []Part{{Root: root, FS: os.DirFS(root), Formatter: "ljspeech", MetaFileVal: "metadata_val.csv"}}
	withRoots(rep, parts)
	for _, n := range []int{1, 2, 3} {
		sameReport(t, fmt.Sprintf("%d shards", n), shardAndMerge(t, parts, opt, n), rep)
	}
}

// TestSplitImbalance: an eval split with most of the audio (the splits
// swapped), and a speaker heard only in the eval split, are reported as
// info; an ordinary split is not.
func TestSplitImbalance(t *testing.T) {
	root := splitDataset(t)
	infos := func(rep *Report) []string {
		var out []string
		for _, f := range rep.Findings {
			if f.Rule == "composition/split-imbalance" {
				out = append(out, f.Field+": "+f.Message)
			}
		}
		return out
	}
	opt := Options{Formatter: "ljspeech", MetaFileVal: "metadata_val.csv", Workers: 2}
	rep, err := Audit(context.Background(), os.DirFS(root), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := infos(rep); len(got) != 0 {
		t.Fatalf("an ordinary split: %q", got)
	}
	opt.MetaFile, opt.MetaFileVal = "metadata_val.csv", "metadata.csv"
	rep, err = Audit(context.Background(), os.DirFS(root), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := infos(rep); len(got) != 1 || !strings.Contains(got[0], "split: the eval split (meta_file_val) has") {
		t.Fatalf("swapped splits: %q", got)
	}

	// coqui format, a speaker of its own in the eval split
	dir := t.TempDir()
	d := dstest.Coqui("spk", dstest.Base("A", 10))
	d.Files["val.csv"] = []byte("audio_file|text|speaker_name\nwavs/spk0/A0001.wav|" + dstest.Sentences[0] + "|spk0\nwavs/new/B.wav|" + dstest.Sentences[1] + "|newcomer\n")
	extra := dstest.Base("B", 1)
	extra[0].Clip.Seed = 555
	d.Files["wavs/new/B.wav"] = dstest.Encode(extra[0].Clip)
	croot, err := d.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = Audit(context.Background(), os.DirFS(croot), croot, Options{Formatter: "coqui", MetaFileVal: "val.csv", Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := infos(rep)
	if len(got) != 1 || !strings.Contains(got[0], `speaker: speaker "newcomer" is in the eval split only`) {
		t.Fatalf("a speaker in the eval split only: %q", got)
	}
	if keys := findingKeys(rep); !slices.Equal(keys, []string{"label/split-leak@wavs/spk0/A0001.wav"}) {
		t.Errorf("findings %q", keys)
	}
}

// TestCrossPartDuplicates: a config's second datasets[] entry holds one
// recording of the first under another transcript, one under the same, and
// an altered copy (gain, trim, noise) of a third under another transcript:
// label/duplicate-audio, label/oversampled and label/near-duplicate-audio
// on exactly those rows, named by the second entry; each entry alone is
// clean. Sharded, the same report.
func TestCrossPartDuplicates(t *testing.T) {
	dir := t.TempDir()
	base := dstest.Base("LJ001-", 12)
	other := dstest.Base("LJ009-", 3)
	for i := range other {
		other[i].Clip.Seed += 200
	}
	other = append(other,
		dstest.Row{ID: "LJ009-0004", Text: "Somebody else said this.", Clip: base[2].Clip},
		dstest.Row{ID: "LJ009-0005", Text: base[5].Text, Clip: base[5].Clip},
		dstest.Row{ID: "LJ009-0006", Text: "Another label for an old recording.", Audio: base[9].Clip.Copy(0.7, 0.08, 0.002, 0, 11)})
	var parts []Part
	for i, d := range []*dstest.Dataset{dstest.LJSpeech("a", base), dstest.LJSpeech("b", other)} {
		root, err := d.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		alone, err := Audit(context.Background(), os.DirFS(root), root, Options{Formatter: "ljspeech", Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if keys := findingKeys(alone); len(keys) != 0 {
			t.Fatalf("%s alone: %q", d.Name, keys)
		}
		parts = append(parts, Part{Name: fmt.Sprintf("datasets[%d]", i), Root: root, FS: os.DirFS(root), Formatter: "ljspeech"})
	}
	opt := Options{Workers: 2}
	rep, err := AuditParts(context.Background(), parts, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := findingKeys(rep), []string{"label/duplicate-audio@LJ009-0004", "label/near-duplicate-audio@LJ009-0006", "label/oversampled@LJ009-0005"}; !slices.Equal(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	for _, f := range rep.Findings {
		if f.Severity > 0 && (f.Dataset != "datasets[1]" || !strings.Contains(f.Message, "datasets[0] metadata.csv:")) {
			t.Errorf("finding %+v", f)
		}
	}
	withRoots(rep, parts)
	for _, n := range []int{2, 3} {
		sameReport(t, fmt.Sprintf("%d shards", n), shardAndMerge(t, parts, opt, n), rep)
	}
}

// TestCrossPartSplitLeak: coqui evaluates on every entry's eval split and
// trains on every entry's training split, so a recording in one entry's
// eval split and another entry's training split is label/split-leak
// (medium), not "trained on twice" (the second review of 2026-12-04).
func TestCrossPartSplitLeak(t *testing.T) {
	dir := t.TempDir()
	base := dstest.Base("LJ001-", 12)
	a := dstest.LJSpeech("a", base)
	val := dstest.LJSpeech("aval", []dstest.Row{{ID: "LJ001-0100", Text: base[6].Text, Clip: base[6].Clip}})
	a.Files["val.csv"] = val.Files["metadata.csv"]
	a.Files["wavs/LJ001-0100.wav"] = val.Files["wavs/LJ001-0100.wav"]
	other := dstest.Base("LJ009-", 3)
	for i := range other {
		other[i].Clip.Seed += 300
	}
	other = append(other, dstest.Row{ID: "LJ009-0004", Text: base[6].Text, Clip: base[6].Clip})
	var parts []Part
	for i, d := range []*dstest.Dataset{a, dstest.LJSpeech("b", other)} {
		root, err := d.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		p := Part{Name: fmt.Sprintf("datasets[%d]", i), Root: root, FS: os.DirFS(root), Formatter: "ljspeech"}
		if i == 0 {
			p.MetaFileVal = "val.csv"
		}
		parts = append(parts, p)
	}
	rep, err := AuditParts(context.Background(), parts, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	// within entry 0: its eval row is a training recording (a split leak
	// of its own); across: entry 1's training row is entry 0's eval row
	got := findingKeys(rep)
	if !slices.Equal(got, []string{"label/split-leak@LJ001-0100", "label/split-leak@LJ009-0004"}) {
		t.Fatalf("findings %q", got)
	}
	for _, f := range rep.Findings {
		if f.Clip == "LJ009-0004" && (f.Dataset != "datasets[1]" || !strings.Contains(f.Message, "datasets[0] val.csv:1") || strings.Contains(f.Message, "\x00")) {
			t.Errorf("%+v", f)
		}
	}
}
