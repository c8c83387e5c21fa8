package audio

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

// TestAnalyzeFLAC: a FLAC of the same samples as a 16-bit WAV measures the
// same and hashes the same; a STREAMINFO that lies is a Problem; broken
// streams are errors.
func TestAnalyzeFLAC(t *testing.T) {
	for _, ch := range []int{1, 2} {
		c := dstest.Clip{Seconds: 1.3, Seed: 5, Channels: ch, Rate: 22050}
		s := c.Samples()
		s = s[:len(s)/4096*4096] // whole FLAC blocks: both files hold the same samples
		wav, fl := c.WAV(s), c.FLACBytes(s)
		hw, err := ReadHeader(bytes.NewReader(wav), int64(len(wav)))
		if err != nil {
			t.Fatal(err)
		}
		sw, err := Analyze(context.Background(), bytes.NewReader(wav), hw)
		if err != nil {
			t.Fatal(err)
		}
		hf, sf, err := AnalyzeFLAC(context.Background(), bytes.NewReader(fl), int64(len(fl)))
		if err != nil {
			t.Fatal(err)
		}
		if len(hf.Problems) > 0 || hf.Frames != hw.Frames || hf.Channels != ch || hf.SampleRate != 22050 || hf.SampleFormat() != "flac16" {
			t.Errorf("%d ch: flac header %+v, wav %+v", ch, hf, hw)
		}
		if sf.DataSHA256 != sw.DataSHA256 || sf.Samples != sw.Samples || sf.Peak != sw.Peak || sf.Clipped != sw.Clipped {
			t.Errorf("%d ch: flac stats %+v, wav %+v", ch, sf, sw)
		}
		if d := sf.RMS - sw.RMS; d > 1e-12 || d < -1e-12 {
			t.Errorf("%d ch: rms %v vs %v", ch, sf.RMS, sw.RMS)
		}
	}

	c := dstest.Clip{Seconds: 0.6, Seed: 6}
	fl := c.FLACBytes(c.Samples())
	// STREAMINFO: 4 "fLaC" + 4 block header; its bytes 10-17 end in the
	// sample count, 18-33 are the MD5
	lie := bytes.Clone(fl)
	lie[8+18+12] ^= 0xFF
	lie[8+17] ^= 0x01
	h, _, err := AnalyzeFLAC(context.Background(), bytes.NewReader(lie), int64(len(lie)))
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, p := range h.Problems {
		codes[p.Code] = true
	}
	if !codes["flac-md5"] || !codes["flac-samples"] {
		t.Errorf("problems %+v, want flac-md5 and flac-samples", h.Problems)
	}
	for name, b := range map[string][]byte{
		"truncated":  fl[:len(fl)-100],
		"no magic":   append([]byte("fLaX"), fl[4:]...),
		"garbage":    append(bytes.Clone(fl[:60]), bytes.Repeat([]byte{0xA5}, 500)...),
		"only magic": []byte("fLaC"),
	} {
		if _, _, err := AnalyzeFLAC(context.Background(), bytes.NewReader(b), int64(len(b))); !errors.Is(err, ErrNotFLAC) {
			t.Errorf("%s: %v, want ErrNotFLAC", name, err)
		}
	}
}
