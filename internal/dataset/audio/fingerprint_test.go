package audio_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/audio"
	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

func fingerprint(t testing.TB, wav []byte) []byte {
	t.Helper()
	return analyze(t, wav).Fingerprint
}

func analyze(t testing.TB, wav []byte) *audio.Stats {
	t.Helper()
	r := bytes.NewReader(wav)
	h, err := audio.ReadHeader(r, int64(len(wav)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := audio.Analyze(context.Background(), r, h)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// bestBER is the lowest bit error rate of b against a over shifts of up to
// ±8 frames, with the frames compared and the shift.
func bestBER(a, b []byte) (float64, int, int) {
	best, bn, bs := 1.0, 0, 0
	for s := -8; s <= 8; s++ {
		if v, n := audio.FingerprintBER(a, b, s); n > 0 && v < best {
			best, bn, bs = v, n, s
		}
	}
	return best, bn, bs
}

// TestFingerprintRobust: a recording's fingerprint survives a gain change,
// a trim, added noise and resampling (bit error rate ≤ 0.2, the default
// near_duplicate_ber is 0.25), and other recordings of the same length and
// pitch of the synthetic voice differ (≥ 0.3; unrelated audio is near 0.5).
func TestFingerprintRobust(t *testing.T) {
	c := dstest.Clip{Rate: 16000, Seconds: 3, Seed: 11, F0: 120}
	ost := analyze(t, c.WAV(c.Samples()))
	orig := ost.Fingerprint
	if len(orig) < 100 {
		t.Fatalf("%d frames for 3 s", len(orig))
	}
	copies := map[string][]byte{
		"gain 0.3":         c.Copy(0.3, 0, 0, 0, 1),
		"trim 0.13 s":      c.Copy(1, 0.13, 0, 0, 1),
		"noise -40 dBFS":   c.Copy(1, 0, 0.01, 0, 1),
		"from 48 kHz":      c.Copy(1, 0, 0, 48000, 1),
		"all of them":      c.Copy(0.5, 0.07, 0.005, 48000, 2),
		"44.1 kHz, 24-bit": dstest.Clip{Rate: 44100, Bits: 24, Seconds: 3, Seed: 11, F0: 120}.Copy(0.8, 0, 0, 0, 1),
	}
	for name, wav := range copies {
		st := analyze(t, wav)
		ber, n, shift := bestBER(orig, st.Fingerprint)
		pa, pn := audio.PitchAgreement(ost.Pitch, st.Pitch, shift)
		t.Logf("%s: BER %.3f over %d frames, pitch agrees in %.2f of %d", name, ber, n, pa, pn)
		if pa < 0.93 || pn < 50 {
			t.Errorf("%s: pitch agrees in %.2f of %d voiced frames, want ≥ 0.93", name, pa, pn)
		}
		if ber > 0.2 {
			t.Errorf("%s: BER %.3f, want ≤ 0.2", name, ber)
		}
	}
	for seed := uint64(20); seed < 30; seed++ {
		o := dstest.Clip{Rate: 16000, Seconds: 3, Seed: seed, F0: 120}
		ber, n, _ := bestBER(orig, fingerprint(t, o.WAV(o.Samples())))
		t.Logf("seed %d: BER %.3f over %d frames", seed, ber, n)
		if ber < 0.3 {
			t.Errorf("another recording (seed %d): BER %.3f, want ≥ 0.3", seed, ber)
		}
	}
}

// TestPitch: the estimator finds the synthetic voice's F0 (its syllables
// vary it by 0.85-1.15 and a slow ±8% wave) at every sample rate, and
// finds nothing voiced in noise.
func TestPitch(t *testing.T) {
	for _, rate := range []int{16000, 22050, 44100, 48000} {
		for _, f0 := range []float64{90, 150, 220} {
			c := dstest.Clip{Rate: rate, Seconds: 2, Seed: 5, F0: f0}
			st := analyze(t, c.WAV(c.Samples()))
			var hz []float64
			for _, v := range st.Pitch {
				if v > 0 {
					hz = append(hz, audio.PitchHz(v))
				}
			}
			slices.Sort(hz)
			if len(hz) < len(st.Pitch)/3 {
				t.Errorf("%d Hz, F0 %.0f: %d of %d frames voiced", rate, f0, len(hz), len(st.Pitch))
				continue
			}
			if med := hz[len(hz)/2]; med < 0.8*f0 || med > 1.25*f0 {
				t.Errorf("%d Hz, F0 %.0f: median estimate %.1f Hz", rate, f0, med)
			}
		}
	}
	c := dstest.Clip{Rate: 16000, Seconds: 2, Seed: 5, Silent: true}
	s := c.Copy(1, 0, 0.05, 0, 9) // white noise only
	for i, v := range analyze(t, s).Pitch {
		if v != 0 {
			t.Fatalf("noise voiced at frame %d (%.0f Hz)", i, audio.PitchHz(v))
		}
	}
}
