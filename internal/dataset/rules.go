package dataset

import (
	"fmt"
	"math"
	"path"
	"slices"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Rules are the ids of every rule the audit has (TestRulesListed keeps the
// list complete).
var Rules = []string{
	"audio/clipping", "audio/dc-offset", "audio/duration", "audio/empty", "audio/format-mismatch",
	"audio/header-lie", "audio/inaudible-tone", "audio/missing", "audio/near-silent", "audio/non-finite",
	"audio/not-decoded", "audio/not-regular", "audio/sample-rate", "audio/unreadable",
	"composition/imbalance", "composition/language-imbalance", "composition/split-imbalance",
	"label/duplicate-audio", "label/duplicate-text", "label/near-duplicate-audio", "label/oversampled", "label/rate-outlier",
	"label/split-leak",
	"meta/csv-error", "meta/duplicate-column", "meta/encoding", "meta/extra-columns", "meta/extra-lines",
	"meta/header", "meta/header-row", "meta/layout", "meta/line-break", "meta/line-too-long",
	"meta/no-metadata", "meta/path-escape", "meta/path-traversal", "meta/short-row", "meta/skipped-file",
	"meta/split-differs", "meta/symlink", "meta/unreadable",
	"text/bidi-control", "text/control-char", "text/homoglyph-word", "text/invisible", "text/mixed-script", "text/out-of-charset", "text/out-of-script", "text/rare-token",
	"text/terminal-escape",
}

// threshold is one of Thresholds by its policy name, with its valid range.
type threshold struct {
	name     string
	field    func(*Thresholds) *float64 // nil for RateMinRows
	min, max float64
}

var thresholds = []threshold{
	{"min_seconds", func(t *Thresholds) *float64 { return &t.MinSeconds }, 0, 3600},
	{"max_seconds", func(t *Thresholds) *float64 { return &t.MaxSeconds }, 0, 86400},
	{"silence_dbfs", func(t *Thresholds) *float64 { return &t.SilenceDBFS }, -200, 0},
	{"clip_fraction", func(t *Thresholds) *float64 { return &t.ClipFraction }, 0, 1},
	{"dc_offset", func(t *Thresholds) *float64 { return &t.DCOffset }, 0, 1},
	{"rate_z", func(t *Thresholds) *float64 { return &t.RateZ }, 1, 1000},
	{"rate_min_rows", nil, 3, 1e9},
	{"inaudible_hz", func(t *Thresholds) *float64 { return &t.InaudibleHz }, 1000, 1e6},
	{"tone_prominence_db", func(t *Thresholds) *float64 { return &t.ToneProminenceDB }, 3, 200},
	{"tone_level_db", func(t *Thresholds) *float64 { return &t.ToneLevelDB }, -200, 0},
	{"imbalance_ratio", func(t *Thresholds) *float64 { return &t.ImbalanceRatio }, 0, 1},
	{"language_imbalance_ratio", func(t *Thresholds) *float64 { return &t.LanguageRatio }, 0, 1},
	{"rare_token_share", func(t *Thresholds) *float64 { return &t.RareTokenShare }, 0, 1},
	{"near_duplicate_ber", func(t *Thresholds) *float64 { return &t.NearDupBER }, 0, 0.45},
	{"split_eval_share", func(t *Thresholds) *float64 { return &t.SplitEvalShare }, 0, 1},
}

// ThresholdNames are the names Set takes, as the policy's dataset.thresholds
// spells them.
func ThresholdNames() []string {
	var out []string
	for _, th := range thresholds {
		out = append(out, th.name)
	}
	return out
}

// Set changes the threshold called name (ThresholdNames) to v, checked
// against its range.
func (t *Thresholds) Set(name string, v float64) error {
	i := slices.IndexFunc(thresholds, func(th threshold) bool { return th.name == name })
	if i < 0 {
		return fmt.Errorf("unknown threshold %q", name)
	}
	th := thresholds[i]
	switch {
	case math.IsNaN(v) || v < th.min || v > th.max:
		return fmt.Errorf("%s: %g is outside %g to %g", name, v, th.min, th.max)
	case th.field == nil && v != math.Trunc(v):
		return fmt.Errorf("%s: want a whole number, got %g", name, v)
	case th.field == nil:
		t.RateMinRows = int(v)
	default:
		*th.field(t) = v
	}
	return nil
}

// Check reports thresholds that contradict each other.
func (t Thresholds) Check() error {
	if t.MinSeconds > t.MaxSeconds {
		return fmt.Errorf("min_seconds %g is above max_seconds %g", t.MinSeconds, t.MaxSeconds)
	}
	return nil
}

// Ignore silences one rule's findings: on every clip, or on the clips whose
// id (or metadata file, for findings without a clip) matches one of Clips
// (path.Match patterns).
type Ignore struct {
	Rule   string
	Clips  []string
	Reason string
}

// Matches reports whether the ignore silences f.
func (ig Ignore) Matches(f Finding) bool {
	if ig.Rule != f.Rule {
		return false
	}
	if len(ig.Clips) == 0 {
		return true
	}
	key := f.Clip
	if key == "" {
		key = f.File
	}
	for _, p := range ig.Clips {
		if ok, _ := path.Match(p, key); ok {
			return true
		}
	}
	return false
}

// applyPolicy regrades findings by opt.Severity and moves the ones an
// Ignore matches out of Findings into Silenced.
func (r *Report) applyPolicy(opt Options) {
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if s, ok := opt.Severity[f.Rule]; ok {
			f.Severity = s
		}
		if slices.ContainsFunc(opt.Ignore, func(ig Ignore) bool { return ig.Matches(f) }) {
			r.Silenced = append(r.Silenced, f)
			continue
		}
		kept = append(kept, f)
	}
	r.Findings = kept
}

// ParseSeverity reads a severity name (info, low, medium, high, critical).
func ParseSeverity(s string) (scan.Severity, error) {
	for v := scan.Info; v <= scan.Critical; v++ {
		if v.String() == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: want info, low, medium, high or critical", s)
}
