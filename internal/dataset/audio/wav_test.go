package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"
)

// wavSpec describes a test file; zero fields take the consistent value.
type wavSpec struct {
	tag, channels, rate, bits int
	byteRate, blockAlign      int
	riffDelta                 int // added to the correct riff size
	dataDelta                 int // added to the correct data size
	extensible                bool
	extra                     []byte // a chunk before data
	trailing                  []byte // after the data chunk
	samples                   []byte
}

func build(s wavSpec) []byte {
	if s.tag == 0 {
		s.tag = FormatPCM
	}
	if s.channels == 0 {
		s.channels = 1
	}
	if s.rate == 0 {
		s.rate = 16000
	}
	if s.bits == 0 {
		s.bits = 16
	}
	ba := s.channels * s.bits / 8
	if s.blockAlign == 0 {
		s.blockAlign = ba
	}
	if s.byteRate == 0 {
		s.byteRate = s.rate * ba
	}
	le := binary.LittleEndian
	var f bytes.Buffer
	fmtBody := make([]byte, 16)
	le.PutUint16(fmtBody[0:], uint16(s.tag))
	le.PutUint16(fmtBody[2:], uint16(s.channels))
	le.PutUint32(fmtBody[4:], uint32(s.rate))
	le.PutUint32(fmtBody[8:], uint32(s.byteRate))
	le.PutUint16(fmtBody[12:], uint16(s.blockAlign))
	le.PutUint16(fmtBody[14:], uint16(s.bits))
	if s.extensible {
		le.PutUint16(fmtBody[0:], formatExt)
		ext := make([]byte, 24)
		le.PutUint16(ext[0:], 22)
		le.PutUint16(ext[2:], uint16(s.bits))
		le.PutUint16(ext[8:], uint16(s.tag))
		copy(ext[10:], guidTail)
		fmtBody = append(fmtBody, ext...)
	}
	chunk := func(id string, body []byte, size int) {
		f.WriteString(id)
		binary.Write(&f, le, uint32(size))
		f.Write(body)
		if len(body)%2 == 1 {
			f.WriteByte(0)
		}
	}
	chunk("fmt ", fmtBody, len(fmtBody))
	if s.extra != nil {
		chunk("LIST", s.extra, len(s.extra))
	}
	chunk("data", s.samples, len(s.samples)+s.dataDelta)
	f.Write(s.trailing)
	out := append([]byte("RIFF\x00\x00\x00\x00WAVE"), f.Bytes()...)
	le.PutUint32(out[4:], uint32(len(out)-8+s.riffDelta))
	return out
}

func pcm16(vals ...int16) []byte {
	b := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

func problemCodes(h *Header) []string {
	var c []string
	for _, p := range h.Problems {
		c = append(c, p.Code)
	}
	return c
}

func TestReadHeader(t *testing.T) {
	one := pcm16(0, 100, -100, 200)
	f32 := make([]byte, 8)
	binary.LittleEndian.PutUint32(f32, math.Float32bits(0.5))
	tests := []struct {
		name     string
		data     []byte
		err      bool
		format   string
		frames   int64
		problems []string
	}{
		{"pcm16", build(wavSpec{samples: one}), false, "pcm16", 4, nil},
		{"pcm24 stereo", build(wavSpec{bits: 24, channels: 2, samples: make([]byte, 12)}), false, "pcm24", 2, nil},
		{"pcm32", build(wavSpec{bits: 32, samples: make([]byte, 8)}), false, "pcm32", 2, nil},
		{"float32", build(wavSpec{tag: FormatFloat, bits: 32, samples: f32}), false, "float32", 2, nil},
		{"extensible pcm", build(wavSpec{extensible: true, samples: one}), false, "pcm16", 4, nil},
		{"odd LIST chunk is padded", build(wavSpec{extra: []byte("abc"), samples: one}), false, "pcm16", 4, nil},
		{"riff size lies", build(wavSpec{riffDelta: 1000, samples: one}), false, "pcm16", 4, []string{"riff-size"}},
		{"data size lies", build(wavSpec{dataDelta: 1 << 20, samples: one}), false, "pcm16", 4, []string{"data-size"}},
		{"byte rate lies", build(wavSpec{byteRate: 44100, samples: one}), false, "pcm16", 4, []string{"byte-rate"}},
		{"block align lies", build(wavSpec{blockAlign: 4, byteRate: 32000, samples: one}), false, "pcm16", 4, []string{"block-align"}},
		{"partial frame", build(wavSpec{samples: append(one, 1)}), false, "pcm16", 4, []string{"partial-frame"}},
		{"trailing bytes", build(wavSpec{samples: one, trailing: []byte{1, 2, 3}}), false, "pcm16", 4, []string{"trailing-bytes"}},
		{"not riff", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), true, "", 0, nil},
		{"short", []byte("RIFF"), true, "", 0, nil},
		{"no data chunk", build(wavSpec{samples: one})[:36], true, "", 0, nil},
		{"8-bit float", build(wavSpec{tag: FormatFloat, bits: 8, samples: one}), true, "", 0, nil},
		{"too many channels", build(wavSpec{channels: 0xFFFF, samples: one}), true, "", 0, nil},
		{"a-law", build(wavSpec{tag: 6, bits: 8, samples: one}), true, "", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ReadHeader(bytes.NewReader(tc.data), int64(len(tc.data)))
			if tc.err {
				if !errors.Is(err, ErrNotWAV) {
					t.Fatalf("err = %v, want ErrNotWAV", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := h.SampleFormat(); got != tc.format {
				t.Errorf("format = %s, want %s", got, tc.format)
			}
			if h.Frames != tc.frames {
				t.Errorf("frames = %d, want %d", h.Frames, tc.frames)
			}
			if got := problemCodes(h); !equal(got, tc.problems) {
				t.Errorf("problems = %v (%v), want %v", got, h.Problems, tc.problems)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAnalyze(t *testing.T) {
	nan := make([]byte, 8)
	binary.LittleEndian.PutUint32(nan, math.Float32bits(float32(math.NaN())))
	binary.LittleEndian.PutUint32(nan[4:], math.Float32bits(-0.25))
	tests := []struct {
		name              string
		spec              wavSpec
		peak, rms, dc     float64
		clipped, nonfinte int64
	}{
		{"silence", wavSpec{samples: pcm16(0, 0, 0, 0)}, 0, 0, 0, 0, 0},
		{"full-scale square", wavSpec{samples: pcm16(-32768, -32768, 32767, 32767)}, 1, 1, 0, 4, 0},
		{"dc offset", wavSpec{samples: pcm16(16384, 16384, 16384, 16384)}, 0.5, 0.5, 0.5, 0, 0},
		{"pcm24 negative", wavSpec{bits: 24, samples: []byte{0, 0, 0xC0, 0, 0, 0xC0}}, 0.5, 0.5, -0.5, 0, 0},
		{"float nan", wavSpec{tag: FormatFloat, bits: 32, samples: nan}, 0.25, 0.25, -0.25, 0, 1},
		{"pcm8 midpoint", wavSpec{bits: 8, samples: []byte{128, 128}}, 0, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := build(tc.spec)
			h, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			st, err := Analyze(context.Background(), bytes.NewReader(data), h)
			if err != nil {
				t.Fatal(err)
			}
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-3 }
			if !near(st.Peak, tc.peak) || !near(st.RMS, tc.rms) || !near(st.DC, tc.dc) {
				t.Errorf("peak %v rms %v dc %v, want %v %v %v", st.Peak, st.RMS, st.DC, tc.peak, tc.rms, tc.dc)
			}
			if st.Clipped != tc.clipped || st.NonFinite != tc.nonfinte {
				t.Errorf("clipped %d nonfinite %d, want %d %d", st.Clipped, st.NonFinite, tc.clipped, tc.nonfinte)
			}
		})
	}
}

func TestDurationAndHash(t *testing.T) {
	a := build(wavSpec{rate: 8000, samples: make([]byte, 16000)})
	b := build(wavSpec{rate: 8000, extra: []byte("INFOxxxx"), samples: make([]byte, 16000)})
	var sums []string
	for _, data := range [][]byte{a, b} {
		h, err := ReadHeader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if h.Duration != time.Second {
			t.Errorf("duration = %v, want 1s", h.Duration)
		}
		st, err := Analyze(context.Background(), bytes.NewReader(data), h)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, st.DataSHA256)
	}
	if sums[0] != sums[1] {
		t.Errorf("same samples, different hashes %v", sums)
	}
}
