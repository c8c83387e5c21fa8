package audio

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

func TestFFT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 64
	z := make([]complex128, n)
	for i := range z {
		z[i] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	want := make([]complex128, n)
	for k := range want {
		for j, x := range z {
			want[k] += x * cmplx.Exp(complex(0, -2*math.Pi*float64(j*k)/n))
		}
	}
	fft(z)
	for k := range z {
		if cmplx.Abs(z[k]-want[k]) > 1e-9 {
			t.Fatalf("bin %d: %v, the DFT gives %v", k, z[k], want[k])
		}
	}
}

// spectrumOf runs samples through the accumulator as Analyze does.
func spectrumOf(rate int, x []float64) *Spectrum {
	a := newSpectrumAcc(rate, 1)
	for _, v := range x {
		a.add(v)
	}
	return a.result()
}

func TestPeakAbove(t *testing.T) {
	const rate = 44100
	rng := rand.New(rand.NewPCG(3, 4))
	noise := func(i int) float64 { return 0.003 * rng.NormFloat64() }
	gen := func(f func(i int) float64) []float64 {
		x := make([]float64, 2*rate)
		for i := range x {
			x[i] = f(i)
		}
		return x
	}
	sine := func(hz, a float64) func(i int) float64 {
		return func(i int) float64 { return a * math.Sin(2*math.Pi*hz*float64(i)/rate) }
	}
	// a sine at full scale sums to 0.5 over its bins
	s := spectrumOf(rate, gen(sine(1000, 1)))
	sum := 0.0
	for _, p := range s.Power {
		sum += p
	}
	if math.Abs(sum-0.5) > 0.01 {
		t.Errorf("full-scale sine: power %.4f, want 0.5", sum)
	}

	tone, ok := spectrumOf(rate, gen(func(i int) float64 { return noise(i) + sine(18500, 0.005)(i) })).PeakAbove(16000)
	if !ok || math.Abs(tone.Hz-18500) > 2*rate/SpectrumSize || tone.Prominence < 15 {
		t.Errorf("18.5 kHz tone in noise: %+v %v", tone, ok)
	}
	tone, ok = spectrumOf(rate, gen(noise)).PeakAbove(16000)
	if !ok || tone.Prominence > 6 {
		t.Errorf("white noise: %+v %v, want a prominence under 6 dB", tone, ok)
	}
	// noise through a first difference rises 6 dB an octave: a slope, not a peak
	prev := 0.0
	tone, _ = spectrumOf(rate, gen(func(i int) float64 { x := noise(i); d := x - prev; prev = x; return d })).PeakAbove(16000)
	if tone.Prominence > 6 {
		t.Errorf("sloped noise: %+v, want a prominence under 6 dB", tone)
	}
	if _, ok := spectrumOf(16000, gen(noise)).PeakAbove(16000); ok {
		t.Error("16 kHz audio has no band above 16 kHz")
	}
	if s := spectrumOf(rate, make([]float64, SpectrumSize-1)); s != nil {
		t.Error("a clip shorter than a frame has a spectrum")
	}
	if _, ok := spectrumOf(rate, make([]float64, rate)).PeakAbove(16000); ok {
		t.Error("digital silence has a peak")
	}
}
