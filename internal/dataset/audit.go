package dataset

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Thresholds are the numbers behind the audio and label rules.
type Thresholds struct {
	MinSeconds, MaxSeconds float64 // clip duration outside [min, max]: audio/duration
	SilenceDBFS            float64 // RMS below: audio/near-silent
	ClipFraction           float64 // share of samples at full scale above: audio/clipping
	DCOffset               float64 // |mean| above: audio/dc-offset
	RateZ                  float64 // robust z of letters/s beyond: label/rate-outlier
	RateMinRows            int     // fewer decoded rows: no rate statistics
	InaudibleHz            float64 // lower edge of the band searched for narrowband triggers: audio/inaudible-tone
	ToneProminenceDB       float64 // a peak in that band this far above the band's median level ...
	ToneLevelDB            float64 // ... and at least this loud relative to the whole clip
	ImbalanceRatio         float64 // a speaker with less audio than this share of the largest: composition/imbalance (info)
	RareTokenShare         float64 // a word-unlike token in at most this share of the rows (and at least 2): text/rare-token; 0 turns it off
	LanguageRatio          float64 // a language with less audio than this share of the largest: composition/language-imbalance (info)
	NearDupBER             float64 // fingerprints differing in at most this share of bits: label/near-duplicate-audio; 0 turns it off
	SplitEvalShare         float64 // the eval split holding more than this share of the audio: composition/split-imbalance (info)
}

// DefaultThresholds give no finding on ordinary clean speech corpora.
var DefaultThresholds = Thresholds{
	MinSeconds: 0.3, MaxSeconds: 40, SilenceDBFS: -60, ClipFraction: 0.001, DCOffset: 0.03,
	RateZ: 6, RateMinRows: 10,
	InaudibleHz: 16000, ToneProminenceDB: 15, ToneLevelDB: -60, ImbalanceRatio: 0.1,
	NearDupBER: 0.25, LanguageRatio: 0.1, RareTokenShare: 0.01, SplitEvalShare: 0.5,
}

// Options say how to read and judge a dataset.
type Options struct {
	Formatter string // a coqui formatter name (Formatters)
	MetaFile  string // "" for the formatter's default or discovery
	// MetaFileVal is the config's meta_file_val: the eval split, read
	// with the same formatter after MetaFile's rows ("" when none: coqui
	// then carves the eval split out of the training rows at random).
	MetaFileVal string
	SampleRate  int // the config's audio.sample_rate; 0 when unknown
	Charset     map[rune]bool
	Cleaner     string // the config's text_cleaner, named in evidence
	Language    string // the config's dataset language, for the composition
	Thresholds  Thresholds
	Workers     int // audio decoders in parallel; <1 means 1
	// Severity regrades rules (the policy's dataset.severity); Ignore
	// silences findings (dataset.ignore): they are listed in the report's
	// Silenced, not in Findings.
	Severity map[string]scan.Severity
	Ignore   []Ignore
	// Progress, when set, is called after each clip is decoded with the
	// clips done and the clips to decode (from one goroutine at a time).
	Progress func(done, total int)
	// LabelPoints, when above 0, keeps that many (duration, letters)
	// points of rows in the report's Plots, plus every rate outlier.
	LabelPoints int
	spectra     *spectrumKeeper
}

// Audit reads the dataset in fsys (named root in the report) as coqui would
// and applies every rule. Findings are evidence; the error is only for
// failures of the audit itself (bad options, I/O on the root, cancellation).
func Audit(ctx context.Context, fsys fs.FS, root string, opt Options) (*Report, error) {
	if opt.Thresholds == (Thresholds{}) {
		opt.Thresholds = DefaultThresholds
	}
	ev, err := collect(ctx, fsys, root, opt, Shard{})
	if err != nil {
		return nil, err
	}
	return judge(ev, opt), nil
}

// pathRules checks where a row's clip lies and reports whether it is a
// regular file inside the root that can be decoded.
func pathRules(fsys fs.FS, r Row, emit func(Finding)) bool {
	loc := Finding{File: r.MetaFile, Line: r.Line, Clip: r.ID}
	c := r.Clip
	bad := func(rule string, sev scan.Severity, format string, a ...any) bool {
		f := loc
		f.Rule, f.Severity, f.Message = rule, sev, fmt.Sprintf(format, a...)
		emit(f)
		return false
	}
	switch {
	case c.NUL:
		return bad("meta/path-escape", scan.High, "clip path %q holds a NUL byte: Python refuses it (ValueError) and coqui fails", c.Joined)
	case c.Absolute:
		return bad("meta/path-escape", scan.High, "absolute clip path: coqui opens %q, outside the dataset root (not read)", c.Joined)
	case c.Rel == "":
		return bad("meta/path-escape", scan.High, "clip path %q leaves the dataset root through \"..\" (not read)", c.Joined)
	case c.DotDot:
		bad("meta/path-traversal", scan.Medium, "clip path %q uses \"..\"; it stays inside the root as %q", c.Joined, c.Rel)
	}
	fi, err := lstatClip(fsys, c.Rel)
	switch {
	case errors.Is(err, errLink):
		return bad("meta/symlink", scan.High, "clip path passes through a %v: the audio lives outside what the dataset's signature covers (not read)", err)
	case errors.Is(err, fs.ErrNotExist):
		what := "coqui fails when it loads this clip"
		if r.Optional {
			what = "coqui drops the row silently"
		}
		return bad("audio/missing", scan.Medium, "audio %q does not exist: %s", c.Rel, what)
	case err != nil:
		return bad("audio/unreadable", scan.Medium, "audio %q: %v", c.Rel, err)
	case !fi.Mode().IsRegular():
		return bad("audio/not-regular", scan.High, "audio %q is not a regular file (%v)", c.Rel, fi.Mode().Type())
	}
	return true
}
