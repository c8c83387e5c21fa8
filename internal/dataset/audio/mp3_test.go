package audio

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func readMP3(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAnalyzeMP3: the fixtures libsndfile wrote (testdata/gen_mp3.py) decode
// with their rate, channels and about their duration (plus the encoder's
// delay and padding), their level and silence measured; a cut or damaged
// stream and other bytes are ErrNotMP3, never a clean clip.
func TestAnalyzeMP3(t *testing.T) {
	for _, c := range []struct {
		file          string
		rate, chans   int
		secs          float64
		rmsLo, rmsHi  float64 // dBFS
		fingerprinted bool
	}{
		{"tone-mono.mp3", 22050, 1, 1, -15, -12, true},   // 0.3 sine: -13.5 dBFS RMS
		{"tone-stereo.mp3", 22050, 2, 2, -18, -15, true}, // left -13.5, right -19.5: -15.8 together
		{"quiet-16k.mp3", 16000, 1, 1, -95, -70, false},  // noise at 1e-4: -80 dBFS
	} {
		b := readMP3(t, c.file)
		h, st, err := AnalyzeMP3(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if h.SampleRate != c.rate || h.Channels != c.chans || h.SampleFormat() != "mp3" {
			t.Errorf("%s: %d Hz, %d ch, %s", c.file, h.SampleRate, h.Channels, h.SampleFormat())
		}
		if d := h.Duration.Seconds(); d < c.secs || d > c.secs+0.15 {
			t.Errorf("%s: %.3f s, want %.0f s plus the encoder's delay", c.file, d, c.secs)
		}
		if st.Samples != h.Frames*int64(h.Channels) {
			t.Errorf("%s: %d samples, %d frames", c.file, st.Samples, h.Frames)
		}
		if st.RMSDBFS < c.rmsLo || st.RMSDBFS > c.rmsHi || math.IsNaN(st.RMSDBFS) {
			t.Errorf("%s: RMS %.1f dBFS, want %.0f to %.0f", c.file, st.RMSDBFS, c.rmsLo, c.rmsHi)
		}
		if c.fingerprinted && len(st.Fingerprint) == 0 {
			t.Errorf("%s: no fingerprint", c.file)
		}
		if st.DataSHA256 == "" {
			t.Errorf("%s: no hash", c.file)
		}
	}
	good := readMP3(t, "tone-mono.mp3")
	for name, bad := range map[string][]byte{
		"empty":        {},
		"id3 only":     []byte("ID3\x04\x00\x00\x00\x00\x00\x05hello"),
		"not syncsafe": []byte("ID3\x04\x00\x00\x80\x00\x00\x05hello"),
		"text":         []byte("this is not audio at all, just text"),
		"riff":         []byte("RIFF\x24\x00\x00\x00WAVEfmt "),
	} {
		if _, _, err := AnalyzeMP3(context.Background(), bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrNotMP3) {
			t.Errorf("%s: %v, want ErrNotMP3", name, err)
		}
	}
	// a stream cut in the middle decodes what it holds, shorter
	cut := good[:len(good)/2]
	if h, _, err := AnalyzeMP3(context.Background(), bytes.NewReader(cut), int64(len(cut))); err == nil && h.Duration.Seconds() > 0.8 {
		t.Errorf("half the stream: %.2f s", h.Duration.Seconds())
	} else if err != nil && !errors.Is(err, ErrNotMP3) {
		t.Errorf("half the stream: %v", err)
	}
}
