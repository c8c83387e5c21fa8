package dataset

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"unicode"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Group is the composition of one speaker in one split (metadata file) and
// language: what a model trained on the dataset hears of them.
type Group struct {
	Speaker  string  `json:"speaker"`
	Language string  `json:"language,omitempty"`
	Split    string  `json:"split"` // the metadata file
	Rows     int     `json:"rows"`
	Clips    int     `json:"clips"` // decoded
	Seconds  float64 `json:"audio_seconds"`
	Letters  int     `json:"letters"`  // distinct letters (lower case) in the transcripts
	Coverage float64 `json:"coverage"` // Letters / the dataset's distinct letters
	// F0 (pitch) of the group: over its clips' median F0 (clips with at
	// least a quarter second of voicing), the median and the 10th and 90th
	// percentiles in Hz; F0Clips is how many clips had one.
	F0Clips  int     `json:"f0_clips"`
	F0Median float64 `json:"f0_median_hz,omitempty"`
	F0P10    float64 `json:"f0_p10_hz,omitempty"`
	F0P90    float64 `json:"f0_p90_hz,omitempty"`
}

// setF0 fills the group's F0 figures from its clips' medians.
func (g *Group) setF0(f0 []float64) {
	g.F0Clips = len(f0)
	if len(f0) == 0 {
		return
	}
	slices.Sort(f0)
	at := func(q float64) float64 { return math.Round(10*f0[int(q*float64(len(f0)-1)+0.5)]) / 10 }
	g.F0Median, g.F0P10, g.F0P90 = at(0.5), at(0.1), at(0.9)
}

// composition groups rows by speaker, language and split, and reports as
// info a speaker with less audio than th.ImbalanceRatio of the speaker with
// the most (only with two or more speakers).
func composition(rows []RowEvidence, clips map[string]*ClipEvidence, lang string, th Thresholds, rep *Report) {
	type key struct{ spk, split string }
	groups := map[key]*Group{}
	letters := map[key]map[rune]bool{}
	f0s := map[key][]float64{}
	all := map[rune]bool{}
	seen := map[string]bool{}
	for _, r := range rows {
		k := key{r.Speaker, r.MetaFile}
		g := groups[k]
		if g == nil {
			g = &Group{Speaker: r.Speaker, Language: lang, Split: r.MetaFile}
			groups[k], letters[k] = g, map[rune]bool{}
		}
		g.Rows++
		for _, c := range r.Text {
			if unicode.IsLetter(c) {
				c = unicode.ToLower(c)
				letters[k][c], all[c] = true, true
			}
		}
		if c := clips[r.Audio]; c != nil && c.Format != "" && !seen[r.Audio] {
			seen[r.Audio] = true
			g.Clips++
			g.Seconds += c.Seconds
			if f0 := medianF0(c.Pitch); f0 > 0 {
				f0s[k] = append(f0s[k], f0)
			}
		}
	}
	for k, g := range groups {
		g.setF0(f0s[k])
		g.Letters = len(letters[k])
		if len(all) > 0 {
			g.Coverage = float64(g.Letters) / float64(len(all))
		}
		rep.Composition = append(rep.Composition, *g)
	}
	slices.SortFunc(rep.Composition, func(a, b Group) int {
		return cmp.Or(cmp.Compare(a.Split, b.Split), cmp.Compare(b.Seconds, a.Seconds), cmp.Compare(a.Speaker, b.Speaker))
	})
	// speakers across splits
	secs := map[string]float64{}
	for _, g := range rep.Composition {
		secs[g.Speaker] += g.Seconds
	}
	imbalance(rep, "composition/imbalance", "speaker", secs, th.ImbalanceRatio, "the model learns them less well")
}

// imbalance reports as info each key (a speaker, a language) with less
// audio than ratio of the key with the most, when there are two or more.
func imbalance(rep *Report, rule, what string, secs map[string]float64, ratio float64, why string) {
	if len(secs) < 2 || ratio <= 0 {
		return
	}
	top, most := "", 0.0
	for s, v := range secs {
		if v > most || v == most && s < top {
			top, most = s, v
		}
	}
	for _, s := range slices.Sorted(maps.Keys(secs)) {
		if v := secs[s]; most > 0 && v < ratio*most {
			rep.add(Finding{Rule: rule, Severity: scan.Info, Field: what,
				Message: fmt.Sprintf("%s %q has %.1f s of audio, %.1f%% of %s %q's %.1f s (below %.0f%%): %s",
					what, s, v, 100*v/most, what, top, most, 100*ratio, why)})
		}
	}
}

// languageImbalance reports as info a language with less audio than
// th.LanguageRatio of the language with the most (two or more languages
// in the composition; groups without a language are left out).
func languageImbalance(rep *Report, th Thresholds) {
	secs := map[string]float64{}
	for _, g := range rep.Composition {
		if g.Language != "" {
			secs[g.Language] += g.Seconds
		}
	}
	imbalance(rep, "composition/language-imbalance", "language", secs, th.LanguageRatio, "a multilingual model speaks it less well")
}

// compositionText writes the composition table when there is more than one
// group.
func (r *Report) compositionText(w io.Writer) {
	if len(r.Composition) < 2 {
		return
	}
	fmt.Fprintln(w, "composition (speaker, split: rows, clips, audio, letters covered, F0 median and 10-90% range):")
	for _, g := range r.Composition {
		fmt.Fprintf(w, "  %s, %s", safe(g.Speaker), safe(g.Split))
		if g.Language != "" {
			fmt.Fprintf(w, " (%s)", safe(g.Language))
		}
		fmt.Fprintf(w, ": %d rows, %d clips, %.1f s, %d letters (%.0f%%)", g.Rows, g.Clips, g.Seconds, g.Letters, 100*g.Coverage)
		if g.F0Clips > 0 {
			fmt.Fprintf(w, ", F0 %.0f Hz (%.0f-%.0f, %d clips)", g.F0Median, g.F0P10, g.F0P90, g.F0Clips)
		}
		fmt.Fprintln(w)
	}
}

// splitImbalance reports as info, when the dataset has an eval split
// (meta_file_val): an eval split holding more than th.SplitEvalShare of
// the audio (the splits swapped, or the training data cut down), and each
// speaker heard only in the eval split (the model never trained on them).
func splitImbalance(rows []RowEvidence, clips map[string]*ClipEvidence, split func(RowEvidence) string, th Thresholds, rep *Report) {
	secs := map[string]float64{}
	speakers := map[string]map[string]bool{} // split -> speakers
	seen := map[string]bool{}
	for _, r := range rows {
		s := split(r)
		if s == "" {
			return
		}
		if speakers[s] == nil {
			speakers[s] = map[string]bool{}
		}
		speakers[s][r.Speaker] = true
		if c := clips[r.Audio]; c != nil && c.Format != "" && !seen[s+"\x00"+r.Audio] {
			seen[s+"\x00"+r.Audio] = true
			secs[s] += c.Seconds
		}
	}
	if total := secs["train"] + secs["eval"]; total > 0 && th.SplitEvalShare < 1 && secs["eval"] > th.SplitEvalShare*total {
		rep.add(Finding{Rule: "composition/split-imbalance", Severity: scan.Info, Field: "split",
			Message: fmt.Sprintf("the eval split (meta_file_val) has %.1f s of audio, %.1f%% of the %.1f s in both splits (above %.0f%%): are the splits swapped, or the training split cut down?",
				secs["eval"], 100*secs["eval"]/total, total, 100*th.SplitEvalShare)})
	}
	for _, s := range slices.Sorted(maps.Keys(speakers["eval"])) {
		if !speakers["train"][s] {
			rep.add(Finding{Rule: "composition/split-imbalance", Severity: scan.Info, Field: "speaker",
				Message: fmt.Sprintf("speaker %q is in the eval split only: the model never trains on them, and the evaluation scores a voice it cannot have learned", s)})
		}
	}
}
