package dataset

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// TestRulesListed: Rules holds exactly the rule ids the sources emit.
func TestRulesListed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"((?:meta|text|audio|label|composition)/[a-z0-9-]+)"`)
	var seen []string
	for _, f := range files {
		if f == "rules.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			seen = append(seen, string(m[1]))
		}
	}
	slices.Sort(seen)
	seen = slices.Compact(seen)
	want := slices.Sorted(slices.Values(Rules))
	if !slices.Equal(seen, want) {
		t.Errorf("rules in the sources %q\nRules %q", seen, want)
	}
}

func TestThresholdsSet(t *testing.T) {
	// every name sets its own field: the defaults set one by one on a
	// zero Thresholds give the defaults
	var th Thresholds
	th.MaxSeconds = DefaultThresholds.MaxSeconds
	defaults := map[string]float64{"min_seconds": 0.3, "max_seconds": 40, "silence_dbfs": -60, "clip_fraction": 0.001,
		"dc_offset": 0.03, "rate_z": 6, "rate_min_rows": 10, "inaudible_hz": 16000, "tone_prominence_db": 15, "tone_level_db": -60, "imbalance_ratio": 0.1,
		"near_duplicate_ber": 0.25, "language_imbalance_ratio": 0.1, "rare_token_share": 0.01, "split_eval_share": 0.5}
	for _, name := range ThresholdNames() {
		if err := th.Set(name, defaults[name]); err != nil {
			t.Errorf("Set(%s): %v", name, err)
		}
	}
	if err := th.Set("min_seconds", 100); err != nil || th.Check() == nil {
		t.Errorf("min_seconds 100 above max_seconds 40: Set %v, Check passes", err)
	}
	th.MinSeconds = 0.3
	if th != DefaultThresholds {
		t.Errorf("set one by one %+v\nDefaultThresholds %+v", th, DefaultThresholds)
	}
	th = DefaultThresholds
	if err := th.Set("inaudible_hz", 18000); err != nil || th.InaudibleHz != 18000 {
		t.Errorf("inaudible_hz: %v %v", err, th.InaudibleHz)
	}
	if err := th.Set("rate_min_rows", 20); err != nil || th.RateMinRows != 20 {
		t.Errorf("rate_min_rows: %v %v", err, th.RateMinRows)
	}
	for _, bad := range []struct {
		name string
		v    float64
	}{{"rate_min_rows", 12.5}, {"silence_dbfs", 3}, {"clip_fraction", 2}, {"nope", 1}, {"min_seconds", -1}} {
		th := DefaultThresholds
		if err := th.Set(bad.name, bad.v); err == nil {
			t.Errorf("Set(%s, %g) accepted", bad.name, bad.v)
		}
	}
}

// TestPolicyApplied: dataset.severity regrades a rule, dataset.ignore moves
// the matched findings (by rule and clip pattern) to Silenced and nothing
// else.
func TestPolicyApplied(t *testing.T) {
	var d *dstest.Dataset
	for _, c := range dstest.Corpus() {
		if c.Name == "swapped-labels" {
			d = c
		}
	}
	dir := t.TempDir()
	root, err := d.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	opt := optionsFor(t, dir, d)
	opt.Ignore = []Ignore{{Rule: "label/rate-outlier", Clips: []string{"LJ001-001?"}, Reason: "read slowly on purpose"}}
	opt.Severity = map[string]scan.Severity{"label/rate-outlier": scan.High}
	rep, err := Audit(context.Background(), os.DirFS(root), root, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := findingKeys(rep); !slices.Equal(got, []string{"label/rate-outlier@LJ001-0001"}) {
		t.Errorf("findings %q, want the one on LJ001-0001", got)
	}
	if len(rep.Silenced) != 1 || rep.Silenced[0].Clip != "LJ001-0012" {
		t.Errorf("silenced %+v, want the finding on LJ001-0012", rep.Silenced)
	}
	if rep.Worst != scan.High || !rep.Failed(scan.High) {
		t.Errorf("worst %v: the severity override did not apply", rep.Worst)
	}
}

// TestInfoFindings: the info rules (not part of TestCorpus, which compares
// low and above) fire on exactly their rows: the same sentence read twice,
// a speaker with a tenth of the audio of another; the composition counts
// rows, clips and seconds per speaker.
func TestInfoFindings(t *testing.T) {
	dir := t.TempDir()
	rows := dstest.Base("LJ001-", 12)
	rows[8].Text = rows[0].Text // read twice, other audio
	rows[8].Clip.Seconds = dstest.SpeechSeconds(rows[8].Text, rows[8].Clip.Seed)
	multi := dstest.LJSpeech("multi", rows)
	coqui := dstest.Coqui("speakers", dstest.Base("LJ001-", 12))
	// spk0 has 6 rows; leave spk1 with one clip (the others' audio removed from the metadata)
	meta := "audio_file|text|speaker_name\n"
	for i, r := range dstest.Base("LJ001-", 12) {
		if i%2 == 1 && i != 1 {
			continue
		}
		meta += fmt.Sprintf("wavs/spk%d/%s.wav|%s|spk%d\n", i%2, r.ID, r.Text, i%2)
	}
	coqui.Files["metadata.csv"] = []byte(meta)
	for _, tc := range []struct {
		d    *dstest.Dataset
		want []string
	}{
		{multi, []string{"label/duplicate-text@LJ001-0009"}},
		{coqui, []string{"composition/imbalance@"}},
	} {
		root, err := tc.d.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Audit(context.Background(), os.DirFS(root), root, Options{Formatter: tc.d.Formatter, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range rep.Findings {
			if f.Severity != scan.Info {
				t.Errorf("%s: %v", tc.d.Name, f)
			}
			got = append(got, f.Rule+"@"+f.Clip)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: findings %q, want %q", tc.d.Name, got, tc.want)
		}
		if tc.d == coqui {
			if len(rep.Composition) != 2 || rep.Composition[0].Speaker != "spk0" || rep.Composition[0].Rows != 6 || rep.Composition[1].Rows != 1 ||
				rep.Composition[1].Clips != 1 || rep.Composition[0].Seconds <= 5*rep.Composition[1].Seconds {
				t.Errorf("composition %+v", rep.Composition)
			}
			if !strings.Contains(rep.Findings[0].Message, `speaker "spk1" has`) {
				t.Errorf("imbalance names %q", rep.Findings[0].Message)
			}
		}
	}
}

// TestProgress: Progress sees every decoded clip once, counting up to the
// total.
func TestProgress(t *testing.T) {
	root, err := dstest.LJSpeech("p", dstest.Base("LJ001-", 12)).Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	_, err = Audit(context.Background(), os.DirFS(root), root, Options{Formatter: "ljspeech", Workers: 3, Progress: func(done, total int) {
		if total != 12 {
			t.Errorf("total %d, want 12", total)
		}
		got = append(got, done)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; !slices.Equal(got, want) {
		t.Errorf("progress %v, want %v", got, want)
	}
}

func TestScriptRule(t *testing.T) {
	for _, tc := range []struct{ lang, text, want string }{
		{"en", "The cat sat.", ""},
		{"en-US", "The сар sat.", "text/homoglyph-word"}, // Cyrillic с, а, р: all drawn like Latin
		{"en", "The саt sat.", "text/out-of-script"},     // part Latin: also text/mixed-script's
		{"en", "The word Москва.", "text/out-of-script"},
		{"de", "Grüße aus München.", ""},
		{"ru", "Мы пошли домой.", ""},
		{"ru", "Мы пошли home.", "text/out-of-script"}, // Latin in Russian: another script, never a homoglyph word
		{"ja", "東京へ行きました。カメラ", ""},
		{"xx", "The саt sat.", ""}, // unknown language: no rule
		{"", "Москва", ""},
	} {
		var got []string
		scriptRule(Row{Text: tc.text}, tc.lang, func(f Finding) { got = append(got, f.Rule) })
		want := []string(nil)
		if tc.want != "" {
			want = []string{tc.want}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s %q: %q, want %q", tc.lang, tc.text, got, want)
		}
	}
}
