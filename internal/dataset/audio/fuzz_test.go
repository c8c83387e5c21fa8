package audio

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

// FuzzReadHeader: any bytes give a header or ErrNotWAV, never a panic; the
// samples located lie inside the input; the whole input analyses without
// reading past it.
func FuzzReadHeader(f *testing.F) {
	f.Add(build(wavSpec{samples: pcm16(1, 2, 3)}))
	f.Add(build(wavSpec{extensible: true, bits: 24, channels: 2, samples: make([]byte, 12)}))
	f.Add(build(wavSpec{dataDelta: 1 << 30, samples: pcm16(1)}))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		h, err := ReadHeader(r, int64(len(data)))
		if err != nil {
			return
		}
		if h.DataOffset < 0 || h.DataSize < 0 || h.DataOffset+h.DataSize > int64(len(data)) {
			t.Fatalf("samples [%d, +%d) outside %d bytes", h.DataOffset, h.DataSize, len(data))
		}
		st, err := Analyze(context.Background(), r, h)
		if err != nil {
			t.Fatalf("analyze a located data chunk: %v", err)
		}
		if st.Samples+st.NonFinite != h.Frames*int64(h.Channels) {
			t.Fatalf("%d samples decoded, header has %d frames × %d channels", st.Samples+st.NonFinite, h.Frames, h.Channels)
		}
	})
}

// FuzzAnalyzeFLAC: any bytes decode or give ErrNotFLAC (a decoder panic is
// caught and named), never a crash; what decodes has as many samples as its
// frames say, and no more than MaxFLACSeconds of them.
func FuzzAnalyzeFLAC(f *testing.F) {
	c := dstest.Clip{Seconds: 0.05, Seed: 1, Rate: 8000}
	good := c.FLACBytes(c.Samples())
	f.Add(good)
	c.Channels = 2
	f.Add(c.FLACBytes(c.Samples()))
	f.Add(good[:len(good)/2])
	f.Add([]byte("fLaC\x80\x00\x00\x22"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, st, err := AnalyzeFLAC(context.Background(), bytes.NewReader(data), int64(len(data)))
		checkDecoded(t, h, st, err, ErrNotFLAC, MaxFLACSeconds)
	})
}

// checkDecoded is what a decoder fuzz target asks of any input: an error
// that is the decoder's own (notIt), or samples that match the frames,
// within the decode cap.
func checkDecoded(t *testing.T, h *Header, st *Stats, err, notIt error, maxSeconds int64) {
	if err != nil {
		if !errors.Is(err, notIt) {
			t.Fatalf("error %v is not %v", err, notIt)
		}
		return
	}
	if st.Samples+st.NonFinite != h.Frames*int64(h.Channels) {
		t.Fatalf("%d samples decoded, %d frames × %d channels", st.Samples+st.NonFinite, h.Frames, h.Channels)
	}
	if h.Frames > int64(h.SampleRate)*maxSeconds {
		t.Fatalf("%d frames at %d Hz: more than %d s", h.Frames, h.SampleRate, maxSeconds)
	}
}

// FuzzAnalyzeMP3: any bytes decode or give ErrNotMP3 (decoder panics
// caught), the samples match the frames, the decode cap holds.
func FuzzAnalyzeMP3(f *testing.F) {
	for _, name := range []string{"tone-mono.mp3", "tone-stereo.mp3", "quiet-16k.mp3"} {
		b := readMP3(f, name)
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add([]byte("ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, st, err := AnalyzeMP3(context.Background(), bytes.NewReader(data), int64(len(data)))
		checkDecoded(t, h, st, err, ErrNotMP3, MaxMP3Seconds)
	})
}
