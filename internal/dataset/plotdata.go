package dataset

import (
	"cmp"
	"hash/fnv"
	"math"
	"slices"
	"sync"

	"github.com/ttsguard/ttsguard/internal/dataset/audio"
)

// MaxSpectra is how many flagged clips' spectra a report keeps (the most
// prominent tones): each is SpectrumSize/2+1 numbers.
const MaxSpectra = 8

// Plots is the bounded per-clip data behind the HTML report's plots
// (internal/dataset/htmlreport): a sample of (duration, letters) points
// and the spectra of clips with an audio/inaudible-tone finding.
type Plots struct {
	// Points are rows with decoded audio: every rate outlier and a
	// deterministic sample of the rest (the clips whose path hashes
	// lowest, so shards of one dataset sample alike), at most
	// Options.LabelPoints of each. PointsTotal counts them all.
	Points      []LabelPoint `json:"label_points,omitempty"`
	PointsTotal int          `json:"label_points_total"`
	// MedianRate is the median letters per second over every point (the
	// centre of the rate-outlier rule).
	MedianRate float64 `json:"median_letters_per_second,omitempty"`
	// Spectra are the mean power spectra of clips with an
	// audio/inaudible-tone finding, most prominent tone first, at most
	// MaxSpectra; SpectraTotal counts those findings.
	Spectra      []ClipSpectrum `json:"spectra,omitempty"`
	SpectraTotal int            `json:"spectra_total"`
}

// LabelPoint is one row's transcript length against its audio's duration.
type LabelPoint struct {
	Clip    string  `json:"clip"`
	File    string  `json:"file"`
	Line    int     `json:"line"`
	Seconds float64 `json:"seconds"`
	Letters int     `json:"letters"`
	Outlier bool    `json:"outlier,omitempty"` // the row has a label/rate-outlier finding
}

// ClipSpectrum is the mean power spectrum of one flagged clip.
type ClipSpectrum struct {
	Clip       string  `json:"clip"`
	File       string  `json:"file"`
	Line       int     `json:"line"`
	Audio      string  `json:"audio"` // relative to the dataset root
	Rate       int     `json:"rate"`
	BinHz      float64 `json:"bin_hz"`
	BandHz     float64 `json:"band_hz"` // lower edge of the band searched (thresholds' inaudible_hz)
	ToneHz     float64 `json:"tone_hz"`
	Prominence float64 `json:"prominence_db"`
	// PowerDB[k] is the power at k·BinHz in dB relative to a full-scale
	// sine (0.1 dB steps, floored at SpectrumFloorDB).
	PowerDB []float64 `json:"power_db"`
}

// SpectrumFloorDB is the lowest level a ClipSpectrum holds (digital
// silence would be -inf).
const SpectrumFloorDB = -160

// spectrumKeeper holds, while clips decode in parallel, the spectra of the
// MaxSpectra clips with the most prominent tones that pass the inaudible
// tone thresholds; memory stays bounded however many clips carry one.
type spectrumKeeper struct {
	mu   sync.Mutex
	th   Thresholds
	kept []KeptSpectrum
}

// KeptSpectrum is a spectrum the keeper holds: Spectrum.Audio names the
// clip (Clip, File and Line are filled when the report is drawn) and
// Prominence is its tone's, unrounded (the order the keeper keeps).
type KeptSpectrum struct {
	Prominence float64      `json:"prominence_db"`
	Spectrum   ClipSpectrum `json:"spectrum"`
}

// worseSpectrum orders kept spectra: the most prominent tone first, then
// by clip path.
func worseSpectrum(a, b KeptSpectrum) int {
	return cmp.Or(cmp.Compare(b.Prominence, a.Prominence), cmp.Compare(a.Spectrum.Audio, b.Spectrum.Audio))
}

// offer considers the spectrum of clip rel with tone t.
func (k *spectrumKeeper) offer(rel string, t audio.Tone, s *audio.Spectrum) {
	if k == nil || s == nil || t.Prominence < k.th.ToneProminenceDB || t.Level < k.th.ToneLevelDB {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	cand := KeptSpectrum{Prominence: t.Prominence, Spectrum: ClipSpectrum{Audio: rel}}
	if !k.wants(cand) {
		return
	}
	db := make([]float64, len(s.Power))
	for i, p := range s.Power {
		v := SpectrumFloorDB * 1.0
		if p > 0 {
			v = max(10*math.Log10(p/0.5), SpectrumFloorDB)
		}
		db[i] = math.Round(v*10) / 10
	}
	cand.Spectrum = ClipSpectrum{Audio: rel, Rate: s.Rate, BinHz: s.BinHz(), BandHz: k.th.InaudibleHz,
		ToneHz: t.Hz, Prominence: math.Round(t.Prominence*10) / 10, PowerDB: db}
	k.keep(cand)
}

// wants reports whether c would be kept (the keeper's lock held).
func (k *spectrumKeeper) wants(c KeptSpectrum) bool {
	return len(k.kept) < MaxSpectra || worseSpectrum(c, k.kept[len(k.kept)-1]) < 0
}

// keep adds c and drops the least prominent past MaxSpectra (the keeper's
// lock held, or the keeper not shared).
func (k *spectrumKeeper) keep(c KeptSpectrum) {
	k.kept = append(k.kept, c)
	slices.SortFunc(k.kept, worseSpectrum)
	if len(k.kept) > MaxSpectra {
		k.kept = k.kept[:MaxSpectra]
	}
}

// plots fills rep.Plots once the findings are final (after the policy):
// label points (when maxPoints > 0) and the kept spectra of clips whose
// audio/inaudible-tone finding survived.
func (rep *Report) plots(rows []RowEvidence, clips map[string]*ClipEvidence, maxPoints int, k *spectrumKeeper) {
	type loc struct {
		file string
		line int
	}
	flagged := map[string]map[loc]bool{}
	for _, f := range rep.Findings {
		if f.Rule == "label/rate-outlier" || f.Rule == "audio/inaudible-tone" {
			if flagged[f.Rule] == nil {
				flagged[f.Rule] = map[loc]bool{}
			}
			flagged[f.Rule][loc{f.File, f.Line}] = true
		}
	}
	p := &Plots{}
	if maxPoints > 0 {
		type cand struct {
			pt   LabelPoint
			hash uint64
		}
		var outliers, rest []cand
		var rates []float64
		for _, r := range rows {
			c := clips[r.Audio]
			if c == nil || c.Frames == 0 {
				continue
			}
			pt := LabelPoint{Clip: r.ID, File: r.MetaFile, Line: r.Line, Seconds: c.Seconds, Letters: letters(r.Text),
				Outlier: flagged["label/rate-outlier"][loc{r.MetaFile, r.Line}]}
			rates = append(rates, float64(pt.Letters)/pt.Seconds)
			h := fnv.New64a()
			h.Write([]byte(r.Audio))
			h.Write([]byte{0})
			h.Write([]byte(r.MetaFile))
			if pt.Outlier {
				outliers = append(outliers, cand{pt, h.Sum64()})
			} else {
				rest = append(rest, cand{pt, h.Sum64()})
			}
		}
		p.PointsTotal = len(rates)
		p.MedianRate = median(rates)
		for _, set := range [][]cand{outliers, rest} {
			slices.SortFunc(set, func(a, b cand) int {
				return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.pt.File, b.pt.File), cmp.Compare(a.pt.Line, b.pt.Line))
			})
			for _, c := range set[:min(len(set), maxPoints)] {
				p.Points = append(p.Points, c.pt)
			}
		}
		slices.SortFunc(p.Points, func(a, b LabelPoint) int { return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line)) })
	}
	if k != nil {
		p.SpectraTotal = len(flagged["audio/inaudible-tone"])
		byRel := map[string]RowEvidence{}
		for _, r := range rows {
			if _, ok := byRel[r.Audio]; !ok {
				byRel[r.Audio] = r
			}
		}
		for _, ks := range k.kept {
			r, ok := byRel[ks.Spectrum.Audio]
			if !ok || !flagged["audio/inaudible-tone"][loc{r.MetaFile, r.Line}] {
				continue
			}
			s := ks.Spectrum
			s.Clip, s.File, s.Line = r.ID, r.MetaFile, r.Line
			p.Spectra = append(p.Spectra, s)
		}
	}
	if p.PointsTotal > 0 || p.SpectraTotal > 0 {
		rep.Plots = p
	}
}

// mergePlots adds the plot data of one dataset of several (AuditParts) to
// acc, its files prefixed by the dataset's name as the report's metadata
// files are: points and spectra side by side (spectra re-bounded to the
// MaxSpectra most prominent), the median rate that of every point kept (a
// sample's: each dataset's rate rule uses its own).
func mergePlots(acc, p *Plots, name string) *Plots {
	if p == nil {
		return acc
	}
	if acc == nil {
		acc = &Plots{}
	}
	for _, pt := range p.Points {
		pt.File = name + ":" + pt.File
		acc.Points = append(acc.Points, pt)
	}
	acc.PointsTotal += p.PointsTotal
	rates := make([]float64, len(acc.Points))
	for i, pt := range acc.Points {
		rates[i] = float64(pt.Letters) / pt.Seconds
	}
	acc.MedianRate = median(rates)
	for _, s := range p.Spectra {
		s.File = name + ":" + s.File
		acc.Spectra = append(acc.Spectra, s)
	}
	slices.SortStableFunc(acc.Spectra, func(a, b ClipSpectrum) int { return cmp.Compare(b.Prominence, a.Prominence) })
	acc.Spectra = acc.Spectra[:min(len(acc.Spectra), MaxSpectra)]
	acc.SpectraTotal += p.SpectraTotal
	return acc
}
