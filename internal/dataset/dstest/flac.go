package dstest

import (
	"errors"
	"io"
	"math"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"
)

// FLACBytes encodes samples (the same on every channel, 16-bit) as a FLAC
// stream with github.com/mewkiz/flac, STREAMINFO complete (sample count and
// MD5 filled in at the end).
func (c Clip) FLACBytes(samples []float64) []byte {
	c.defaults()
	w := &memFile{}
	info := &meta.StreamInfo{SampleRate: uint32(c.Rate), NChannels: uint8(c.Channels), BitsPerSample: 16, BlockSizeMin: 16, BlockSizeMax: 4096}
	enc, err := flac.NewEncoder(w, info)
	if err != nil {
		panic(err)
	}
	chans := frame.ChannelsMono
	if c.Channels == 2 {
		chans = frame.ChannelsLR
	}
	for off := 0; off < len(samples); off += 4096 {
		blk := samples[off:min(off+4096, len(samples))]
		if len(blk) < 16 { // FLAC's smallest block; the tail is dropped
			break
		}
		f := &frame.Frame{Header: frame.Header{HasFixedBlockSize: true, BlockSize: uint16(len(blk)), SampleRate: uint32(c.Rate),
			Channels: chans, BitsPerSample: 16}}
		for range c.Channels {
			s := make([]int32, len(blk))
			for i, x := range blk {
				s[i] = int32(math.Round(max(-1, min(1, x)) * 32767))
			}
			f.Subframes = append(f.Subframes, &frame.Subframe{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, Samples: s, NSamples: len(s)})
		}
		if err := enc.WriteFrame(f); err != nil {
			panic(err)
		}
	}
	if err := enc.Close(); err != nil {
		panic(err)
	}
	return w.b
}

// memFile is an in-memory io.WriteSeeker.
type memFile struct {
	b   []byte
	off int
}

func (m *memFile) Write(p []byte) (int, error) {
	if need := m.off + len(p); need > len(m.b) {
		m.b = append(m.b, make([]byte, need-len(m.b))...)
	}
	copy(m.b[m.off:], p)
	m.off += len(p)
	return len(p), nil
}

func (m *memFile) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += int64(m.off)
	case io.SeekEnd:
		off += int64(len(m.b))
	}
	if off < 0 {
		return 0, errors.New("negative seek")
	}
	m.off = int(off)
	return off, nil
}
