package audio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hajimehoshi/go-mp3"
)

// ErrNotMP3 means the bytes are not an MPEG audio stream that can be
// decoded.
var ErrNotMP3 = errors.New("not a readable mp3 file")

// MaxMP3Seconds caps the audio decoded from one MP3 file, as
// MaxFLACSeconds does for FLAC.
const MaxMP3Seconds = 3600

// mp3Scan bounds the bytes searched for the first frame header after an
// ID3v2 tag.
const mp3Scan = 64 << 10

// AnalyzeMP3 decodes the MPEG-1/2 Layer III stream in r (size bytes) through
// github.com/hajimehoshi/go-mp3 and measures its samples as Analyze does
// (Container "mp3", 16-bit samples as decoded). The decoder always gives two
// channels; the channel count is the first frame header's, and a mono
// stream is measured (and hashed) as its one channel. The encoder's delay
// and padding are part of the samples (go-mp3 does not read the LAME gapless
// tag), so a clip decodes a few milliseconds longer than libsndfile, which
// coqui reads MP3 through, reports. A decoder panic on hostile input is
// returned as an error.
func AnalyzeMP3(ctx context.Context, r io.ReaderAt, size int64) (h *Header, st *Stats, err error) {
	defer func() {
		if p := recover(); p != nil {
			h, st, err = nil, nil, fmt.Errorf("%w: the decoder failed: %v", ErrNotMP3, p)
		}
	}()
	chans, err := mp3Channels(r, size)
	if err != nil {
		return nil, nil, err
	}
	// a plain reader: given a Seeker, go-mp3 first walks every frame
	dec, err := mp3.NewDecoder(struct{ io.Reader }{io.NewSectionReader(r, 0, size)})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrNotMP3, err)
	}
	h = &Header{Container: "mp3", Format: FormatPCM, Channels: chans, SampleRate: dec.SampleRate(), BitsPerSample: 16}
	if h.SampleRate < 1 || h.SampleRate > MaxRate {
		return nil, nil, fmt.Errorf("%w: sample rate %d", ErrNotMP3, h.SampleRate)
	}
	acc := newStatsAcc(h.SampleRate, chans)
	limit := int64(h.SampleRate) * MaxMP3Seconds
	buf := make([]byte, 64<<10) // whole frames of 4 bytes
	out := make([]byte, 0, len(buf))
	for {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		n, rerr := io.ReadFull(dec, buf)
		frames := n / 4
		out = out[:0]
		for i := range frames {
			s := buf[4*i : 4*i+4]
			acc.add(float64(int16(binary.LittleEndian.Uint16(s[0:2]))) / 32768)
			if chans == 1 {
				out = append(out, s[0], s[1])
				continue
			}
			acc.add(float64(int16(binary.LittleEndian.Uint16(s[2:4]))) / 32768)
			out = append(out, s...)
		}
		acc.hash.Write(out)
		if h.Frames += int64(frames); h.Frames > limit {
			return nil, nil, fmt.Errorf("%w: more than %d s of audio", ErrNotMP3, MaxMP3Seconds)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return nil, nil, fmt.Errorf("%w: after %d samples: %v", ErrNotMP3, h.Frames, rerr)
		}
	}
	h.BlockAlign = 2 * chans
	h.DataSize = h.Frames * int64(h.BlockAlign)
	h.Duration = time.Duration(float64(h.Frames) / float64(h.SampleRate) * float64(time.Second))
	return h, acc.result(), nil
}

// mp3Channels reads the channel mode of the first frame header: after an
// ID3v2 tag (its size from the tag header), the first MPEG audio Layer III
// frame sync within mp3Scan bytes. 1 for mono, else 2.
func mp3Channels(r io.ReaderAt, size int64) (int, error) {
	var off int64
	var tag [10]byte
	if n, _ := r.ReadAt(tag[:], 0); n == 10 && string(tag[:3]) == "ID3" {
		for _, b := range tag[6:10] {
			if b&0x80 != 0 {
				return 0, fmt.Errorf("%w: ID3v2 tag size is not syncsafe", ErrNotMP3)
			}
		}
		off = 10 + int64(tag[6])<<21 | int64(tag[7])<<14 | int64(tag[8])<<7 | int64(tag[9])
		if tag[5]&0x10 != 0 {
			off += 10 // a footer
		}
	}
	if off >= size {
		return 0, fmt.Errorf("%w: no audio after the %d-byte ID3v2 tag", ErrNotMP3, off)
	}
	b := make([]byte, min(mp3Scan, size-off))
	n, _ := r.ReadAt(b, off)
	for i := 0; i+4 <= n; i++ {
		// sync (11 bits), version not reserved, layer III, bitrate and
		// sample rate not reserved
		if b[i] == 0xFF && b[i+1]&0xE0 == 0xE0 && b[i+1]&0x18 != 0x08 && b[i+1]&0x06 == 0x02 &&
			b[i+2]&0xF0 != 0xF0 && b[i+2]&0x0C != 0x0C {
			if b[i+3]>>6 == 3 {
				return 1, nil
			}
			return 2, nil
		}
	}
	return 0, fmt.Errorf("%w: no Layer III frame header in the first %d bytes of audio", ErrNotMP3, n)
}
