package dataset

import (
	"cmp"
	"fmt"
	"io"
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
}

// composition groups rows by speaker, language and split, and reports as
// info a speaker with less audio than th.ImbalanceRatio of the speaker with
// the most (only with two or more speakers).
func composition(rows []Row, clips map[string]*clipResult, lang string, th Thresholds, rep *Report) {
	type key struct{ spk, split string }
	groups := map[key]*Group{}
	letters := map[key]map[rune]bool{}
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
		if c := clips[r.Clip.Rel]; c != nil && c.format != "" && !seen[r.Clip.Rel] {
			seen[r.Clip.Rel] = true
			g.Clips++
			g.Seconds += c.hdr.Duration.Seconds()
		}
	}
	for k, g := range groups {
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
	if len(secs) < 2 {
		return
	}
	top, most := "", 0.0
	for s, v := range secs {
		if v > most || v == most && s < top {
			top, most = s, v
		}
	}
	for _, s := range slices.Sorted(func(yield func(string) bool) {
		for s := range secs {
			if !yield(s) {
				return
			}
		}
	}) {
		if v := secs[s]; most > 0 && v < th.ImbalanceRatio*most {
			rep.add(Finding{Rule: "composition/imbalance", Severity: scan.Info, Field: "speaker",
				Message: fmt.Sprintf("speaker %q has %.1f s of audio, %.1f%% of speaker %q's %.1f s (below %.0f%%): the model learns them less well",
					s, v, 100*v/most, top, most, 100*th.ImbalanceRatio)})
		}
	}
}

// compositionText writes the composition table when there is more than one
// group.
func (r *Report) compositionText(w io.Writer) {
	if len(r.Composition) < 2 {
		return
	}
	fmt.Fprintln(w, "composition (speaker, split: rows, clips, audio, letters covered):")
	for _, g := range r.Composition {
		fmt.Fprintf(w, "  %s, %s: %d rows, %d clips, %.1f s, %d letters (%.0f%%)\n", safe(g.Speaker), safe(g.Split), g.Rows, g.Clips, g.Seconds, g.Letters, 100*g.Coverage)
	}
}
