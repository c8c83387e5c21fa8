package audio

import "math"

// Pitch settings: the fundamental frequency (F0) is estimated by
// normalised autocorrelation of the signal low-passed and reduced to about
// pitchRate samples a second, over pitchWindow seconds, every second hop
// of the fingerprint (20 times a second), between PitchMinHz and
// PitchMaxHz. A frame is voiced when its best correlation reaches
// pitchVoiced; the shortest period whose correlation is within
// pitchOctave of the best is taken, which avoids the usual octave-down
// error.
const (
	PitchMinHz  = 60
	PitchMaxHz  = 500
	pitchRate   = 2000
	pitchWindow = 0.03
	pitchVoiced = 0.75
	pitchOctave = 0.9
	pitchRing   = 512
)

// PitchSteps is the resolution of a Pitch value: steps per octave.
const PitchSteps = 24

// PitchHz converts a Pitch value (1..255; 0 is unvoiced) to Hz.
func PitchHz(v byte) float64 {
	return PitchMinHz * math.Exp2(float64(v-1)/PitchSteps)
}

// pitchAcc keeps the reduced signal and estimates F0 when asked.
type pitchAcc struct {
	d, n    int // reduction factor and samples since the last kept one
	rate    float64
	sum     float64
	ring    [pitchRing]float64
	pos     int // samples kept so far
	minLag  int
	maxLag  int
	win     int
	lastVal byte
}

func newPitchAcc(rate int) *pitchAcc {
	d := max(1, int(math.Round(float64(rate)/pitchRate)))
	r := float64(max(rate, 1)) / float64(d)
	p := &pitchAcc{d: d, rate: r, minLag: int(r / PitchMaxHz), maxLag: int(math.Ceil(r / PitchMinHz)), win: int(r * pitchWindow)}
	if p.minLag < 2 || p.win+p.maxLag+1 > pitchRing {
		p.maxLag = 0 // a rate too low or too high for the estimator: never voiced
	}
	return p
}

// add takes one (low-passed) sample.
func (p *pitchAcc) add(x float64) {
	p.sum += x
	p.n++
	if p.n < p.d {
		return
	}
	p.ring[p.pos%pitchRing] = p.sum / float64(p.d)
	p.pos++
	p.sum, p.n = 0, 0
}

// estimate returns the pitch of the latest window as a Pitch value (0:
// unvoiced).
func (p *pitchAcc) estimate() byte {
	if p.maxLag == 0 || p.pos < p.win+p.maxLag {
		return 0
	}
	start := p.pos - p.win - p.maxLag // oldest sample used
	at := func(i int) float64 { return p.ring[(start+i)%pitchRing] }
	e0 := 0.0
	for i := range p.win {
		v := at(i)
		e0 += v * v
	}
	if e0 < 1e-9*float64(p.win) { // silence: below -90 dBFS
		return 0
	}
	var r [pitchRing]float64
	best := 0.0
	eLag := 0.0
	for i := range p.win {
		v := at(i + p.minLag)
		eLag += v * v
	}
	for lag := p.minLag; lag <= p.maxLag; lag++ {
		c := 0.0
		for i := range p.win {
			c += at(i) * at(i+lag)
		}
		if eLag > 0 {
			r[lag] = c / math.Sqrt(e0*eLag)
		}
		best = max(best, r[lag])
		// slide the lagged window's energy by one sample
		v0, v1 := at(lag), at(lag+p.win)
		eLag += v1*v1 - v0*v0
	}
	if best < pitchVoiced {
		return 0
	}
	for lag := p.minLag + 1; lag < p.maxLag; lag++ {
		if r[lag] >= pitchOctave*best && r[lag] >= r[lag-1] && r[lag] >= r[lag+1] {
			// parabolic interpolation of the peak
			den := r[lag-1] - 2*r[lag] + r[lag+1]
			off := 0.0
			if den < 0 {
				off = 0.5 * (r[lag-1] - r[lag+1]) / den
			}
			hz := p.rate / (float64(lag) + off)
			v := 1 + math.Round(PitchSteps*math.Log2(hz/PitchMinHz))
			if !(v >= 1) { // NaN from samples that overflow
				return 0
			}
			return byte(min(255, v))
		}
	}
	return 0
}

// PitchAgreement compares two clips' Pitch with b shifted by shift frames:
// the share of the frames voiced in both whose F0 differ by at most one
// step (half a semitone), and how many frames were voiced in both.
func PitchAgreement(a, b []byte, shift int) (float64, int) {
	agree, n := 0, 0
	for i := max(0, -shift); i < len(a) && i+shift < len(b); i++ {
		x, y := a[i], b[i+shift]
		if x == 0 || y == 0 {
			continue
		}
		n++
		if max(x, y)-min(x, y) <= 1 {
			agree++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(agree) / float64(n), n
}
