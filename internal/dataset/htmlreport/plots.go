package htmlreport

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ttsguard/ttsguard/internal/dataset"
)

// The plots are laid out here, in Go; the template only writes the numbers
// into SVG elements.

// frame is a plot area inside an SVG of W×H with margins.
type frame struct {
	W, H                     float64
	Left, Right, Top, Bottom float64 // plot area edges in SVG units
	x0, x1, y0, y1           float64 // data range
	XTicks, YTicks           []tick
	XLabel, YLabel           string
}

type tick struct {
	Pos   float64 // SVG coordinate
	Label string
}

func newFrame(w, h, x0, x1, y0, y1 float64) frame {
	return frame{W: w, H: h, Left: 56, Right: w - 16, Top: 14, Bottom: h - 40, x0: x0, x1: x1, y0: y0, y1: y1}
}

func (f *frame) X(v float64) float64 {
	return f.Left + (v-f.x0)/(f.x1-f.x0)*(f.Right-f.Left)
}

func (f *frame) Y(v float64) float64 {
	return f.Bottom - (v-f.y0)/(f.y1-f.y0)*(f.Bottom-f.Top)
}

// MidX and the label positions are used by the template.
func (f *frame) MidX() float64 { return (f.Left + f.Right) / 2 }
func (f *frame) MidY() float64 { return (f.Top + f.Bottom) / 2 }

func (f *frame) ticks(scaleX, scaleY float64, unitX, unitY string) {
	for _, v := range niceTicks(f.x0, f.x1) {
		f.XTicks = append(f.XTicks, tick{f.X(v), trim(v/scaleX) + unitX})
	}
	for _, v := range niceTicks(f.y0, f.y1) {
		f.YTicks = append(f.YTicks, tick{f.Y(v), trim(v/scaleY) + unitY})
	}
}

// niceTicks returns about five round values between lo and hi.
func niceTicks(lo, hi float64) []float64 {
	span := hi - lo
	if !(span > 0) || math.IsInf(span, 0) {
		return nil
	}
	step := math.Pow(10, math.Floor(math.Log10(span/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(step*m) <= 6 {
			step *= m
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		out = append(out, v)
	}
	return out
}

// niceMax rounds v up to a round multiple of a power of ten.
func niceMax(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trim(v float64) string {
	s := fmt.Sprintf("%.2f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// scatter: audio duration (x) against letters in the transcript (y).
type scatter struct {
	frame
	Points   []dot
	Outliers []dot
	Median   *line
	Rate     string
}

type dot struct {
	X, Y  float64
	Title string
}

type line struct{ X1, Y1, X2, Y2 float64 }

func newScatter(p *dataset.Plots) *scatter {
	if len(p.Points) == 0 {
		return nil
	}
	maxX, maxY := 0.0, 0.0
	for _, pt := range p.Points {
		maxX, maxY = max(maxX, pt.Seconds), max(maxY, float64(pt.Letters))
	}
	s := &scatter{frame: newFrame(720, 380, 0, niceMax(maxX*1.05), 0, niceMax(maxY*1.05))}
	s.XLabel, s.YLabel = "audio duration (s)", "letters and digits in the transcript"
	s.ticks(1, 1, "", "")
	for _, pt := range p.Points {
		d := dot{X: s.X(pt.Seconds), Y: s.Y(float64(pt.Letters))}
		if pt.Outlier {
			d.Title = fmt.Sprintf("%s (%s:%d): %d letters in %.2f s = %.1f letters/s", visible(pt.Clip), visible(pt.File), pt.Line,
				pt.Letters, pt.Seconds, float64(pt.Letters)/pt.Seconds)
			s.Outliers = append(s.Outliers, d)
		} else {
			s.Points = append(s.Points, d)
		}
	}
	if m := p.MedianRate; m > 0 {
		x2 := min(s.x1, s.y1/m)
		s.Median = &line{s.X(0), s.Y(0), s.X(x2), s.Y(m * x2)}
		s.Rate = fmt.Sprintf("%.1f", m)
	}
	return s
}

// spectrum: one flagged clip's mean power spectrum.
type spectrum struct {
	frame
	Clip, Where, Audio string
	Path               string
	BandX              float64 // left edge of the searched band
	ToneX, ToneY       float64
	Caption            string
}

func newSpectrum(c dataset.ClipSpectrum) spectrum {
	top, bottom := math.Inf(-1), math.Inf(1)
	for _, v := range c.PowerDB {
		top, bottom = max(top, v), min(bottom, v)
	}
	if math.IsInf(top, 0) {
		top, bottom = 0, -100
	}
	hi := math.Ceil((top+5)/20) * 20
	lo := max(math.Floor(bottom/20)*20, hi-140)
	nyq := float64(c.Rate) / 2
	if !(nyq > 0) {
		nyq = max(c.BinHz*float64(len(c.PowerDB)-1), 1)
	}
	s := spectrum{frame: newFrame(720, 260, 0, nyq, lo, hi)}
	s.XLabel, s.YLabel = "frequency (kHz)", "power (dB re full-scale sine)"
	s.ticks(1000, 1, "", "")
	s.Clip, s.Where, s.Audio = visible(c.Clip), fmt.Sprintf("%s:%d", visible(c.File), c.Line), visible(c.Audio)
	var b strings.Builder
	for k, v := range c.PowerDB {
		hz := float64(k) * c.BinHz
		if hz > nyq {
			break
		}
		op := 'L'
		if k == 0 {
			op = 'M'
		}
		fmt.Fprintf(&b, "%c%.1f %.1f", op, s.X(hz), s.Y(max(v, lo)))
	}
	s.Path = b.String()
	s.BandX = s.X(min(c.BandHz, nyq))
	k := int(math.Round(c.ToneHz / c.BinHz))
	s.ToneX = s.X(c.ToneHz)
	if k >= 0 && k < len(c.PowerDB) {
		s.ToneY = s.Y(max(c.PowerDB[k], lo))
	} else {
		s.ToneY = s.Bottom
	}
	s.Caption = fmt.Sprintf("narrowband peak at %.0f Hz, %.1f dB above the band around it; the shaded band (above %.0f Hz) is where the rule looks",
		c.ToneHz, c.Prominence, c.BandHz)
	return s
}

// bars: audio seconds per speaker and split.
type bars struct {
	W, H   float64
	LabelX float64
	Bars   []bar
	More   int
}

type bar struct {
	Y, W        float64
	X           float64
	Label, Full string
	Value       string
	TextX       float64
}

func newBars(groups []dataset.Group) *bars {
	if len(groups) == 0 {
		return nil
	}
	splits := map[string]bool{}
	most := 0.0
	for _, g := range groups {
		splits[g.Split] = true
		most = max(most, g.Seconds)
	}
	shown := groups
	b := &bars{W: 880, LabelX: 200}
	if len(shown) > maxBars {
		// the speakers with the most audio and those with the least
		// (where an imbalance shows)
		sorted := slices.Clone(groups)
		slices.SortStableFunc(sorted, func(a, b dataset.Group) int { return cmp.Compare(b.Seconds, a.Seconds) })
		b.More = len(shown) - maxBars
		shown = append(sorted[:maxBars/2:maxBars/2], sorted[len(sorted)-maxBars/2:]...)
	}
	const rowH, top = 22.0, 8.0
	b.H = top*2 + rowH*float64(len(shown))
	span := b.W - b.LabelX - 420
	for i, g := range shown {
		name := visible(g.Speaker)
		if name == "" {
			name = "(no speaker)"
		}
		if len(splits) > 1 {
			name += " · " + visible(g.Split)
		}
		w := 0.0
		if most > 0 {
			w = g.Seconds / most * span
		}
		b.Bars = append(b.Bars, bar{
			Y: top + rowH*float64(i) + 3, X: b.LabelX + 6, W: max(w, 1),
			Label: shorten(name, 30), Full: name,
			Value: barValue(g),
			TextX: b.LabelX + 12 + max(w, 1),
		})
	}
	return b
}

// barValue writes a group's figures beside its bar: audio, clips, rows,
// letters covered and, when its clips had voicing, its F0.
func barValue(g dataset.Group) string {
	v := fmt.Sprintf("%.1f s · %d clips · %d rows · %.0f%% of letters", g.Seconds, g.Clips, g.Rows, 100*g.Coverage)
	if g.F0Clips > 0 {
		v += fmt.Sprintf(" · F0 %.0f Hz (%.0f–%.0f)", g.F0Median, g.F0P10, g.F0P90)
	}
	return v
}
