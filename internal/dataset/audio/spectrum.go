package audio

import (
	"math"
	"math/bits"
	"math/cmplx"
	"slices"
	"sync"
)

// Spectrum settings: frames of SpectrumSize samples (Hann window, channels
// mixed), one every 1/SpectrumFramesPerSecond s, power averaged over the
// clip. Sampling frames keeps the cost at a fixed few FFTs a second of
// audio; a narrowband tone lasting a quarter second or more is in at least
// one frame.
const (
	SpectrumSize            = 1024
	SpectrumFramesPerSecond = 4
)

// Spectrum is the mean power spectrum of a clip: Power[k] is the power at
// k·Rate/SpectrumSize Hz (k ≤ SpectrumSize/2), full scale sine = 0.5.
type Spectrum struct {
	Rate   int       `json:"rate"`
	Frames int       `json:"frames"`
	Power  []float64 `json:"power"`
}

// BinHz is the width of one bin.
func (s *Spectrum) BinHz() float64 { return float64(s.Rate) / SpectrumSize }

// Tone is the most prominent narrowband peak in a frequency band.
type Tone struct {
	Hz         float64 // centre of the peak bin
	Prominence float64 // dB of the peak (5 bins) over 5 bins at the median level around it
	Level      float64 // dB of the peak relative to the clip's whole spectrum
}

// toneNeighbours is how far (bins, each side) the level around a peak is
// taken from; the 3 bins nearest the peak on each side are left out (a
// windowed sine spreads over them).
const toneNeighbours = 24

// PeakAbove finds the most prominent narrowband peak between lo Hz and 95%
// of the Nyquist frequency (the rest is the anti-alias filter's slope).
// Prominence is measured against the median of the bins around the peak,
// so a spectrum that slopes across the band is not a peak. ok is false when
// the band is too narrow (the sample rate does not reach lo) or silent.
func (s *Spectrum) PeakAbove(lo float64) (t Tone, ok bool) {
	if s == nil || s.Frames == 0 {
		return t, false
	}
	first := int(math.Ceil(lo / s.BinHz()))
	last := SpectrumSize / 2 * 95 / 100
	if first < 1 || last-first < 16 {
		return t, false
	}
	total := 0.0
	for _, p := range s.Power {
		total += p
	}
	if total == 0 {
		return t, false
	}
	P := s.Power
	var around []float64
	best, bestSum := -math.MaxFloat64, 0.0
	for k := first; k <= last; k++ {
		sum := 0.0
		for j := max(0, k-2); j <= min(len(P)-1, k+2); j++ {
			sum += P[j]
		}
		around = around[:0]
		for j := max(1, k-toneNeighbours); j <= min(len(P)-1, k+toneNeighbours); j++ {
			if j < k-3 || j > k+3 {
				around = append(around, P[j])
			}
		}
		slices.Sort(around)
		// a floor of 1e-12 of the clip's power a bin: digital silence
		// around a rounding error is not an infinitely prominent peak
		floor := max(around[len(around)/2], total*1e-12)
		if r := sum / (5 * floor); r > best {
			best, bestSum, t.Hz = r, sum, float64(k)*s.BinHz()
		}
	}
	if bestSum == 0 {
		return Tone{}, false
	}
	t.Prominence = 10 * math.Log10(best)
	t.Level = 10 * math.Log10(bestSum/total)
	return t, true
}

// spectrumAcc gathers frames while samples stream past.
type spectrumAcc struct {
	hop   int64 // frames (sample instants) between analysed frames
	pos   int64 // sample instant being filled
	ch    int   // channel of the next sample
	chans int
	buf   [SpectrumSize]float64
	sum   float64 // channel mix of the current instant
	out   *Spectrum
}

func newSpectrumAcc(rate, chans int) *spectrumAcc {
	return &spectrumAcc{hop: max(int64(rate/SpectrumFramesPerSecond), SpectrumSize), chans: chans,
		out: &Spectrum{Rate: rate, Power: make([]float64, SpectrumSize/2+1)}}
}

// add takes the next sample (channels interleaved).
func (a *spectrumAcc) add(x float64) {
	a.sum += x
	a.ch++
	if a.ch < a.chans {
		return
	}
	i := a.pos % a.hop
	if i < SpectrumSize {
		a.buf[i] = a.sum / float64(a.chans)
		if i == SpectrumSize-1 {
			a.frame()
		}
	}
	a.ch, a.sum = 0, 0
	a.pos++
}

// frame windows the buffer and adds its power spectrum.
func (a *spectrumAcc) frame() {
	w := hann()
	var z [SpectrumSize]complex128
	for i, x := range a.buf {
		z[i] = complex(x*w[i], 0)
	}
	fft(z[:])
	// Parseval with the Hann window's power gain 0.375, one side of the
	// spectrum: a sine of amplitude A sums to A²/2 over its bins
	const norm = 2.0 / (SpectrumSize * SpectrumSize * 0.375)
	for k := range a.out.Power {
		re, im := real(z[k]), imag(z[k])
		a.out.Power[k] += (re*re + im*im) * norm
	}
	a.out.Frames++
}

// result returns the mean spectrum (nil when no whole frame was seen).
func (a *spectrumAcc) result() *Spectrum {
	if a.out.Frames == 0 {
		return nil
	}
	for k := range a.out.Power {
		a.out.Power[k] /= float64(a.out.Frames)
	}
	return a.out
}

var hann = sync.OnceValue(func() []float64 {
	w := make([]float64, SpectrumSize)
	for i := range w {
		w[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/SpectrumSize)
	}
	return w
})

// fft transforms z in place (len(z) a power of two): iterative radix-2.
func fft(z []complex128) {
	n := len(z)
	shift := 64 - bits.TrailingZeros(uint(n))
	for i := range n {
		if j := int(bits.Reverse64(uint64(i)) >> shift); j > i {
			z[i], z[j] = z[j], z[i]
		}
	}
	for size := 2; size <= n; size <<= 1 {
		step := cmplx.Exp(complex(0, -2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			w := complex(1, 0)
			for k := range size / 2 {
				a, b := z[start+k], w*z[start+k+size/2]
				z[start+k], z[start+k+size/2] = a+b, a-b
				w *= step
			}
		}
	}
}
