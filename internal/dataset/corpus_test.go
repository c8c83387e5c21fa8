package dataset

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// findingKeys lists "rule@key" for findings at or above low (key: clip id,
// else FILE:LINE, else FILE), sorted.
func findingKeys(rep *Report) []string {
	var out []string
	for _, f := range rep.Findings {
		if f.Severity < scan.Low {
			continue
		}
		key := f.Clip
		switch {
		case key != "":
		case f.Line > 0:
			key = f.File + ":" + itoa(f.Line)
		default:
			key = f.File
		}
		out = append(out, f.Rule+"@"+key)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// optionsFor builds audit options the way the CLI does from a config.
func optionsFor(t *testing.T, dir string, d *dstest.Dataset) Options {
	opt := Options{Formatter: d.Formatter, MetaFile: d.MetaFile, Workers: 2}
	if d.Config == "" {
		return opt
	}
	f, err := os.Open(filepath.Join(dir, d.Name+".config.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := ReadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	opt.SampleRate, opt.Charset, opt.Cleaner = cfg.Audio.SampleRate, cfg.Charset(), cfg.TextCleaner
	if len(cfg.Datasets) > 0 {
		opt.Language = cfg.Datasets[0].Language
	}
	return opt
}

// TestCorpus: every generated poisoned dataset is flagged on exactly the
// clips (or lines) that carry the poison, by the rule that names it; every
// clean one has no finding at or above low.
func TestCorpus(t *testing.T) {
	dir := t.TempDir()
	for _, d := range dstest.Corpus() {
		t.Run(d.Name, func(t *testing.T) {
			root, err := d.Write(dir)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Audit(context.Background(), os.DirFS(root), root, optionsFor(t, dir, d))
			if err != nil {
				t.Fatal(err)
			}
			got := findingKeys(rep)
			want := slices.Sorted(slices.Values(d.Want))
			if !slices.Equal(got, want) {
				var sb strings.Builder
				rep.Text(&sb)
				t.Errorf("findings %q, want %q\n%s", got, want, sb.String())
			}
			if len(want) == 0 && rep.Rows < 10 {
				t.Errorf("only %d rows read", rep.Rows)
			}
			if clean := len(want) == 0; clean && rep.Failed(scan.Medium) {
				t.Errorf("clean dataset fails the default threshold")
			}
		})
	}
}
