// Package dstest generates the test corpus of the dataset audit: small
// clean and poisoned coqui datasets, written into a folder at test time
// (nothing binary is checked in), each with the findings it must raise.
package dstest

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"unicode"
)

// Clip describes one synthetic recording.
type Clip struct {
	Rate     int     // samples per second (default 16000)
	Channels int     // default 1
	Bits     int     // 16, 24 or 32 (PCM) ; default 16
	Float    bool    // 32-bit IEEE float samples
	Seconds  float64 // length
	F0       float64 // pitch of the voice in Hz (default 120)
	Gain     float64 // peak level of the voice (default 0.4)
	DC       float64 // added to every sample
	Seed     uint64
	Silent   bool // all samples zero
	NaN      bool // one sample is NaN (with Float)
	// Tone adds a sine of ToneHz at ToneGain peak from ToneStart to
	// ToneEnd seconds (the whole clip when both are 0): an inaudible
	// trigger when ToneHz is above 16 kHz.
	ToneHz, ToneGain, ToneStart, ToneEnd float64
	FLAC                                 bool // encoded as FLAC (16-bit) instead of WAV
}

// SpeechSeconds is how long a speaker takes to say text: 14 letters a
// second plus 0.2 s of pauses, varied by ±5% with seed.
func SpeechSeconds(text string, seed uint64) float64 {
	n := 0
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	r := rand.New(rand.NewPCG(seed, 7))
	return (float64(n)/14 + 0.2) * (0.95 + 0.1*r.Float64())
}

// Samples synthesizes a voice-like signal: a harmonic series whose pitch
// wanders, in syllables of 0.12 to 0.3 s whose pitch, loudness and timbre
// (harmonic weights) vary with Seed, over a broadband noise floor. Two
// clips with different seeds are different recordings; the same Clip at
// another Rate is the same recording sampled differently (the noise floor
// differs).
func (c Clip) Samples() []float64 {
	c.defaults()
	n := int(c.Seconds * float64(c.Rate))
	out := make([]float64, n)
	rng := rand.New(rand.NewPCG(c.Seed, 1))
	syl := rand.New(rand.NewPCG(c.Seed, 2)) // syllables: the same at every rate
	type syllable struct {
		end, f0, loud float64
		amp           [6]float64
	}
	var cur syllable
	start := 0.0
	nextSyl := func() {
		start = cur.end
		cur.end = start + 0.12 + 0.18*syl.Float64()
		cur.f0 = 0.85 + 0.3*syl.Float64()
		cur.loud = 0.6 + 0.4*syl.Float64()
		for h := range cur.amp {
			cur.amp[h] = (0.2 + syl.Float64()) / float64(h+1)
		}
	}
	nextSyl()
	phase := 0.0
	for i := range out {
		t := float64(i) / float64(c.Rate)
		for t >= cur.end {
			nextSyl()
		}
		f := c.F0 * cur.f0 * (1 + 0.08*math.Sin(2*math.Pi*1.3*t))
		phase += 2 * math.Pi * f / float64(c.Rate)
		v := 0.0
		for h, a := range cur.amp {
			v += a * math.Sin(float64(h+1)*phase)
		}
		env := cur.loud * math.Pow(math.Sin(math.Pi*(t-start)/(cur.end-start)), 2)
		out[i] = c.Gain*0.55*v*env + 0.003*rng.NormFloat64() + c.DC
		if c.ToneHz > 0 && (c.ToneEnd == 0 || t >= c.ToneStart && t < c.ToneEnd) {
			out[i] += c.ToneGain * math.Sin(2*math.Pi*c.ToneHz*t)
		}
		if c.Silent {
			out[i] = 0
		}
	}
	if c.NaN && n > 10 {
		out[10] = math.NaN()
	}
	return out
}

// Copy is the recording of c altered as a near-duplicate is: scaled by
// gain, its first trim seconds cut, white noise of RMS noise added (seeded
// by seed), sampled at c.Rate after being made at fromRate (0: c.Rate;
// a multiple of c.Rate, reduced by averaging), encoded as c says.
func (c Clip) Copy(gain, trim, noise float64, fromRate int, seed uint64) []byte {
	c.defaults()
	src, k := c, 1
	if fromRate > 0 {
		src.Rate, k = fromRate, fromRate/c.Rate
	}
	in := src.Samples()
	var s []float64
	for i := 0; i+k <= len(in); i += k {
		v := 0.0
		for _, x := range in[i : i+k] {
			v += x
		}
		s = append(s, v/float64(k))
	}
	s = s[min(len(s), int(trim*float64(c.Rate))):]
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := range s {
		s[i] = s[i]*gain + noise*rng.NormFloat64()
	}
	return c.WAV(s)
}

func (c *Clip) defaults() {
	if c.Rate == 0 {
		c.Rate = 16000
	}
	if c.Channels == 0 {
		c.Channels = 1
	}
	if c.Bits == 0 {
		c.Bits = 16
	}
	if c.F0 == 0 {
		c.F0 = 120
	}
	if c.Gain == 0 {
		c.Gain = 0.4
	}
}

// WAV encodes samples (the same on every channel) as a RIFF/WAVE file.
func (c Clip) WAV(samples []float64) []byte {
	c.defaults()
	bits, tag := c.Bits, uint16(1)
	if c.Float {
		bits, tag = 32, 3
	}
	ba := c.Channels * bits / 8
	var data bytes.Buffer
	le := binary.LittleEndian
	for _, x := range samples {
		x = max(-1, min(1, x))
		for range c.Channels {
			switch {
			case c.Float:
				binary.Write(&data, le, math.Float32bits(float32(x)))
			case bits == 16:
				binary.Write(&data, le, int16(math.Round(x*32767)))
			case bits == 24:
				v := int32(math.Round(x * 8388607))
				data.Write([]byte{byte(v), byte(v >> 8), byte(v >> 16)})
			default:
				binary.Write(&data, le, int32(math.Round(x*2147483647)))
			}
		}
	}
	var f bytes.Buffer
	f.WriteString("RIFF")
	binary.Write(&f, le, uint32(36+data.Len()))
	f.WriteString("WAVEfmt ")
	binary.Write(&f, le, uint32(16))
	binary.Write(&f, le, tag)
	binary.Write(&f, le, uint16(c.Channels))
	binary.Write(&f, le, uint32(c.Rate))
	binary.Write(&f, le, uint32(c.Rate*ba))
	binary.Write(&f, le, uint16(ba))
	binary.Write(&f, le, uint16(bits))
	f.WriteString("data")
	binary.Write(&f, le, uint32(data.Len()))
	f.Write(data.Bytes())
	return f.Bytes()
}
