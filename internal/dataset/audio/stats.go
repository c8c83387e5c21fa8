package audio

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
)

// ClipLevel is the full-scale threshold above which a sample counts as
// clipped (1.0 is full scale).
const ClipLevel = 0.999

// bufSize is the read buffer of Analyze; it is a multiple of every frame
// size up to 64 channels × 8 bytes.
const bufSize = 64 * 512

// Stats are the measures of one clip's samples, all channels together.
type Stats struct {
	Samples    int64   `json:"samples"`
	Peak       float64 `json:"peak"`      // largest |sample|, 1.0 is full scale
	RMS        float64 `json:"rms"`       // root mean square, full scale 1.0
	DC         float64 `json:"dc"`        // mean sample value
	Clipped    int64   `json:"clipped"`   // samples with |x| ≥ ClipLevel
	NonFinite  int64   `json:"nonfinite"` // NaN or infinite float samples
	DataSHA256 string  `json:"data_sha256"`
	// Spectrum is the mean power spectrum (nil for clips shorter than one
	// frame of SpectrumSize samples).
	Spectrum *Spectrum `json:"-"`
	// Fingerprint is the clip's audio fingerprint (fingerprint.go): one
	// byte per 1/40 s, at most MaxFingerprintFrames.
	Fingerprint []byte `json:"-"`
	// Pitch is the F0 at each fingerprint frame (pitch.go; 0 unvoiced).
	Pitch       []byte  `json:"-"`
	PeakDBFS    float64 `json:"-"`
	RMSDBFS     float64 `json:"-"`
	ClippedFrac float64 `json:"-"`
}

// Analyze streams h.DataSize bytes of samples from r, decoding them as h
// says, in fixed-size buffers. The hash covers the sample bytes only, so two
// files that differ only in their other chunks hash the same.
func Analyze(ctx context.Context, r io.ReaderAt, h *Header) (*Stats, error) {
	bps := h.BitsPerSample / 8
	if bps < 1 || h.BlockAlign < 1 {
		return nil, fmt.Errorf("%w: no sample size", ErrNotWAV)
	}
	acc := newStatsAcc(h.SampleRate, h.Channels)
	buf := make([]byte, bufSize-bufSize%h.BlockAlign)
	for off := int64(0); off < h.DataSize; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := int(min(int64(len(buf)), h.DataSize-off))
		m, err := r.ReadAt(buf[:n], h.DataOffset+off)
		if m < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("reading samples at %d: %w", h.DataOffset+off, err)
		}
		acc.hash.Write(buf[:n])
		for i := 0; i+bps <= n; i += bps {
			acc.add(decode(buf[i:i+bps], h.Format, bps))
		}
		off += int64(n)
	}
	return acc.result(), nil
}

// statsAcc gathers Stats while samples (channels interleaved) stream past;
// the caller writes the sample bytes to hash.
type statsAcc struct {
	st      Stats
	sum, sq float64
	hash    hash.Hash
	spec    *spectrumAcc
	fp      *fpAcc
	pending []float64 // samples for fp, handed over a block at a time
}

// fpAdd queues one sample for the fingerprint.
func (a *statsAcc) fpAdd(x float64) {
	a.pending = append(a.pending, x)
	if len(a.pending) == cap(a.pending) {
		a.fp.addBlock(a.pending)
		a.pending = a.pending[:0]
	}
}

func newStatsAcc(rate, channels int) *statsAcc {
	return &statsAcc{hash: sha256.New(), spec: newSpectrumAcc(rate, channels), fp: newFPAcc(rate, channels), pending: make([]float64, 0, 4096)}
}

func (a *statsAcc) add(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		a.st.NonFinite++
		a.spec.add(0)
		a.fpAdd(0)
		return
	}
	a.spec.add(x)
	a.fpAdd(x)
	v := math.Abs(x)
	a.st.Peak = max(a.st.Peak, v)
	if v >= ClipLevel {
		a.st.Clipped++
	}
	a.sum += x
	a.sq += x * x
	a.st.Samples++
}

// result returns the measures: a copy, so the accumulator's buffers are
// not kept alive by the clip's Stats.
func (a *statsAcc) result() *Stats {
	st := new(Stats)
	*st = a.st
	st.DataSHA256 = hex.EncodeToString(a.hash.Sum(nil))
	st.Spectrum = a.spec.result()
	a.fp.addBlock(a.pending)
	a.pending = a.pending[:0]
	st.Fingerprint = slices.Clip(a.fp.out)
	st.Pitch = slices.Clip(a.fp.pitchOut)
	if st.Samples > 0 {
		st.DC = a.sum / float64(st.Samples)
		st.RMS = math.Sqrt(a.sq / float64(st.Samples))
		st.ClippedFrac = float64(st.Clipped) / float64(st.Samples)
	}
	st.PeakDBFS, st.RMSDBFS = DBFS(st.Peak), DBFS(st.RMS)
	return st
}

// DBFS converts a linear level to decibels relative to full scale (-inf for 0).
func DBFS(x float64) float64 { return 20 * math.Log10(x) }

// decode returns one little-endian sample scaled to [-1, 1] (floats as stored).
func decode(b []byte, format, bps int) float64 {
	le := binary.LittleEndian
	if format == FormatFloat {
		if bps == 4 {
			return float64(math.Float32frombits(le.Uint32(b)))
		}
		return math.Float64frombits(le.Uint64(b))
	}
	switch bps {
	case 1:
		return (float64(b[0]) - 128) / 128
	case 2:
		return float64(int16(le.Uint16(b))) / 32768
	case 3:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float64(v) / 8388608
	default:
		return float64(int32(le.Uint32(b))) / 2147483648
	}
}
