package audio

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mewkiz/flac"
)

// ErrNotFLAC means the bytes are not a FLAC stream that can be decoded.
var ErrNotFLAC = errors.New("not a readable flac file")

// MaxFLACSeconds caps the audio decoded from one FLAC file: a frame of
// constant samples takes a few bytes for 65,535 samples, so a small file
// could otherwise make the reader decode for hours.
const MaxFLACSeconds = 3600

// AnalyzeFLAC decodes the FLAC stream in r (size bytes) frame by frame
// through github.com/mewkiz/flac and measures its samples as Analyze does.
// The Header describes the stream (Container "flac"); its Problems list
// the ways STREAMINFO disagrees with the frames: total samples, MD5 of the
// samples, frames whose rate or sample size differ (bytes after the last
// frame are not a frame: an error). The hash covers the samples as little-endian integers of
// whole bytes, the bytes a 16-, 24- or 32-bit WAV of the same samples holds.
// A decoder panic on hostile input is returned as an error.
func AnalyzeFLAC(ctx context.Context, r io.ReaderAt, size int64) (h *Header, st *Stats, err error) {
	defer func() {
		if p := recover(); p != nil {
			h, st, err = nil, nil, fmt.Errorf("%w: the decoder failed: %v", ErrNotFLAC, p)
		}
	}()
	stream, err := flac.New(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotFLAC, err)
	}
	info := stream.Info
	h = &Header{Container: "flac", Format: FormatPCM, Channels: int(info.NChannels), SampleRate: int(info.SampleRate), BitsPerSample: int(info.BitsPerSample)}
	switch {
	case h.SampleRate < 1 || h.SampleRate > MaxRate:
		return nil, nil, fmt.Errorf("%w: sample rate %d", ErrNotFLAC, h.SampleRate)
	case h.Channels < 1 || h.Channels > 8:
		return nil, nil, fmt.Errorf("%w: %d channels", ErrNotFLAC, h.Channels)
	case h.BitsPerSample < 4 || h.BitsPerSample > 32:
		return nil, nil, fmt.Errorf("%w: %d bits a sample", ErrNotFLAC, h.BitsPerSample)
	}
	nbytes := (h.BitsPerSample + 7) / 8
	acc := newStatsAcc(h.SampleRate, h.Channels)
	sum := md5.New()
	scale := float64(int64(1) << (h.BitsPerSample - 1))
	limit := int64(h.SampleRate) * MaxFLACSeconds
	var out []byte
	var mismatched int
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		f, err := stream.ParseNext()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: frame after %d samples: %v", ErrNotFLAC, h.Frames, err)
		}
		fh := f.Header
		if int(fh.Channels.Count()) != h.Channels || len(f.Subframes) != h.Channels {
			return nil, nil, fmt.Errorf("%w: a frame of %d channels in a stream of %d", ErrNotFLAC, fh.Channels.Count(), h.Channels)
		}
		if fh.BitsPerSample != 0 && int(fh.BitsPerSample) != h.BitsPerSample || fh.SampleRate != 0 && int(fh.SampleRate) != h.SampleRate {
			mismatched++
		}
		n := int(fh.BlockSize)
		if h.Frames += int64(n); h.Frames > limit {
			return nil, nil, fmt.Errorf("%w: more than %d s of audio", ErrNotFLAC, MaxFLACSeconds)
		}
		out = out[:0]
		for i := range n {
			for c := range h.Channels {
				sub := f.Subframes[c].Samples
				if i >= len(sub) {
					return nil, nil, fmt.Errorf("%w: a frame of %d samples holds %d in channel %d", ErrNotFLAC, n, len(sub), c)
				}
				v := sub[i]
				for b := range nbytes {
					out = append(out, byte(v>>(8*b)))
				}
				acc.add(float64(v) / scale)
			}
		}
		acc.hash.Write(out)
		sum.Write(out)
	}
	h.DataSize = h.Frames * int64(h.Channels*nbytes)
	h.BlockAlign = h.Channels * nbytes
	h.Duration = time.Duration(float64(h.Frames) / float64(h.SampleRate) * float64(time.Second))
	if info.NSamples != 0 && int64(info.NSamples) != h.Frames {
		h.problem("flac-samples", "STREAMINFO says %d samples, the frames hold %d", info.NSamples, h.Frames)
	}
	if info.MD5sum != [16]byte{} {
		if got := sum.Sum(nil); string(got) != string(info.MD5sum[:]) {
			h.problem("flac-md5", "STREAMINFO's MD5 of the samples is %x, the samples hash to %s", info.MD5sum, hex.EncodeToString(got))
		}
	}
	if mismatched > 0 {
		h.problem("flac-frame-format", "%d frames say another sample rate or sample size than STREAMINFO", mismatched)
	}
	return h, acc.result(), nil
}
