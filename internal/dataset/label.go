package dataset

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// labelRules compares transcripts with their audio across the dataset:
// speaking-rate outliers, one recording under several transcripts, and
// one recording in two groups (cross: the splits).
func labelRules(rows []RowEvidence, clips map[string]*ClipEvidence, cross crossPair, th Thresholds, emit func(Finding)) {
	rateOutliers(rows, clips, th, emit)
	duplicates(rows, clips, cross, emit)
	nearDuplicates(rows, clips, cross, th, emit)
}

// crossPair handles two rows, the earlier f and r, that hold one
// recording (exact: the same samples; else an altered copy, which how
// describes) when they lie in different groups (the splits of a dataset,
// the datasets[] entries of a config): it emits the finding on r and
// returns true. False leaves the pair to the rules within a group.
type crossPair func(f, r RowEvidence, exact bool, how string, emit func(Finding)) bool

// splitLeak is the crossPair of the splits (split names a row's: "train",
// "eval", or "" without an eval split): label/split-leak on r, the
// evaluation then scoring audio the model was trained on, and hiding what
// a poisoned training split did.
func splitLeak(split func(RowEvidence) string) crossPair {
	return func(f, r RowEvidence, _ bool, how string, emit func(Finding)) bool {
		sf, sr := split(f), split(r)
		if sf == sr || sf == "" || sr == "" {
			return false
		}
		emit(leakFinding(f, r, sf, sr, how))
		return true
	}
}

// leakFinding is label/split-leak on r, of split sr, holding the recording
// of f, of split sf (how says in what way, and where f is).
func leakFinding(f, r RowEvidence, sf, sr, how string) Finding {
	return Finding{Rule: "label/split-leak", Severity: scan.Medium, File: r.MetaFile, Line: r.Line, Clip: r.ID,
		Message: fmt.Sprintf("audio %q (%s split) is %s %s:%d (clip %q, audio %q) of the %s split: the evaluation scores audio the model was trained on",
			r.Audio, sr, how, f.MetaFile, f.Line, f.ID, f.Audio, sf)}
}

// letters counts the characters that are spoken: letters and digits.
func letters(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

// rateOutliers flags rows whose characters per second lie more than
// th.RateZ robust standard deviations (median/MAD) from the dataset's.
func rateOutliers(rows []RowEvidence, clips map[string]*ClipEvidence, th Thresholds, emit func(Finding)) {
	type pt struct {
		row     RowEvidence
		n       int
		secs, v float64
	}
	var pts []pt
	for _, r := range rows {
		c := clips[r.Audio]
		if c == nil || c.Frames == 0 {
			continue
		}
		n := letters(r.Text)
		secs := c.Seconds
		pts = append(pts, pt{r, n, secs, float64(n) / secs})
	}
	if len(pts) < th.RateMinRows {
		return
	}
	vals := make([]float64, len(pts))
	for i, p := range pts {
		vals[i] = p.v
	}
	med := median(vals)
	dev := make([]float64, len(vals))
	for i, v := range vals {
		dev[i] = math.Abs(v - med)
	}
	mad := max(median(dev), 0.05*med) // a floor keeps near-identical synthetic rates from flagging noise
	if mad == 0 {
		return
	}
	for _, p := range pts {
		z := 0.6745 * (p.v - med) / mad
		if math.Abs(z) <= th.RateZ {
			continue
		}
		emit(Finding{Rule: "label/rate-outlier", Severity: scan.Medium, File: p.row.MetaFile, Line: p.row.Line, Clip: p.row.ID,
			Message: fmt.Sprintf("transcript does not fit the audio: %d letters in %.2f s = %.1f letters/s; dataset median %.1f (MAD %.2f), robust z %.1f",
				p.n, p.secs, p.v, med, mad, z)})
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// normText is a transcript compared for duplicates: lower case, letters
// and digits only, single spaces.
func normText(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }), " ")
}

// duplicates groups rows by the hash of their samples (or their path when
// the audio was not decoded). Each row after the first of its group is a
// finding: medium when its transcript differs from the first's (one
// recording, two labels), low when it repeats it (oversampling).
func duplicates(rows []RowEvidence, clips map[string]*ClipEvidence, cross crossPair, emit func(Finding)) {
	first := map[string]RowEvidence{}
	firstText := map[string]RowEvidence{} // normalized transcript -> first row, for rows of other audio
	audioKey := map[string]string{}
	for _, r := range rows {
		if r.Audio == "" {
			continue
		}
		key := "path:" + r.Audio
		if c := clips[r.Audio]; c != nil && c.SHA256 != "" {
			key = "sha256:" + c.SHA256
		}
		audioKey[r.Audio] = key
		f, ok := first[key]
		if !ok {
			first[key] = r
			if t := normText(r.Text); t != "" {
				if ft, seen := firstText[t]; !seen {
					firstText[t] = r
				} else if audioKey[ft.Audio] != key {
					emit(Finding{Rule: "label/duplicate-text", Severity: scan.Info, File: r.MetaFile, Line: r.Line, Clip: r.ID,
						Message: fmt.Sprintf("the transcript of %s:%d (clip %q) again, read in other audio: normal for a sentence read twice, a weight on it when it repeats often", ft.MetaFile, ft.Line, ft.ID)})
				}
			}
			continue
		}
		same := "the same file"
		if f.Audio != r.Audio {
			same = fmt.Sprintf("the same samples as %q", f.Audio)
		}
		if cross(f, r, true, "the same samples as", emit) {
			continue
		}
		if normText(f.Text) != normText(r.Text) {
			emit(Finding{Rule: "label/duplicate-audio", Severity: scan.Medium, File: r.MetaFile, Line: r.Line, Clip: r.ID,
				Message: fmt.Sprintf("audio %q has %s as %s:%d (clip %q) under another transcript: %q here, %q there", r.Audio, same, f.MetaFile, f.Line, f.ID, r.Text, f.Text)})
			continue
		}
		emit(Finding{Rule: "label/oversampled", Severity: scan.Low, File: r.MetaFile, Line: r.Line, Clip: r.ID,
			Message: fmt.Sprintf("audio %q has %s as %s:%d (clip %q) with the same transcript: trained on twice", r.Audio, same, f.MetaFile, f.Line, f.ID)})
	}
}
