// Package audio reads the audio of training datasets with bounded memory: a
// RIFF/WAVE header reader that reports every way a header disagrees with
// itself or with the file, and a streaming pass over the samples for the
// per-clip measures (level, clipping, DC offset, duration, content hash).
// It holds no policy and never prints.
package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Limits on what a header may make the reader do. Everything else is read
// in fixed-size buffers.
const (
	MaxChunks   = 256     // chunk headers walked before giving up
	MaxFmtSize  = 1 << 10 // bytes of a "fmt " chunk read into memory
	MaxChannels = 64
	MaxRate     = 1_536_000
)

// Sample encodings the reader decodes.
const (
	FormatPCM   = 1      // WAVE_FORMAT_PCM: signed little-endian integers (unsigned for 8 bits)
	FormatFloat = 3      // WAVE_FORMAT_IEEE_FLOAT
	formatExt   = 0xFFFE // WAVE_FORMAT_EXTENSIBLE: the real tag is in the sub-format GUID
)

// ErrNotWAV means the bytes are not a RIFF/WAVE file at all, or too broken to
// locate the samples; Header's Problems list the lesser faults.
var ErrNotWAV = errors.New("not a readable wav file")

// Problem is one way a header lies or is inconsistent.
type Problem struct {
	Code    string `json:"code"`    // stable, e.g. "riff-size"
	Message string `json:"message"` // evidence
}

// Header is what a WAV header says, checked against itself and the file.
type Header struct {
	Container     string        `json:"container,omitempty"` // "" for WAV, "flac", "mp3"
	Format        int           `json:"format"`              // FormatPCM or FormatFloat (after resolving EXTENSIBLE)
	Channels      int           `json:"channels"`
	SampleRate    int           `json:"sample_rate"`
	BitsPerSample int           `json:"bits_per_sample"`
	BlockAlign    int           `json:"block_align"`
	ByteRate      int           `json:"byte_rate"`
	DataOffset    int64         `json:"data_offset"`
	DataSize      int64         `json:"data_size"`          // bytes of samples actually present (whole frames)
	DeclaredData  int64         `json:"declared_data_size"` // what the data chunk header says
	Frames        int64         `json:"frames"`
	Duration      time.Duration `json:"duration"`
	Problems      []Problem     `json:"problems,omitempty"`
}

// SampleFormat names the encoding, e.g. "pcm16" or "float32".
func (h *Header) SampleFormat() string {
	switch h.Container {
	case "flac":
		return fmt.Sprintf("flac%d", h.BitsPerSample)
	case "mp3":
		return "mp3"
	}
	if h.Format == FormatFloat {
		return fmt.Sprintf("float%d", h.BitsPerSample)
	}
	return fmt.Sprintf("pcm%d", h.BitsPerSample)
}

func (h *Header) problem(code, format string, a ...any) {
	h.Problems = append(h.Problems, Problem{code, fmt.Sprintf(format, a...)})
}

// extensible sub-format GUIDs end in this (KSDATAFORMAT_SUBTYPE_* suffix).
var guidTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// ReadHeader parses the RIFF/WAVE header of r (size bytes long). It reads at
// most MaxChunks chunk headers and MaxFmtSize bytes of the format chunk,
// whatever the header declares. The result's Problems list every
// inconsistency; an error (wrapping ErrNotWAV) means no samples can be
// located or decoded.
func ReadHeader(r io.ReaderAt, size int64) (*Header, error) {
	var hdr [12]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("%w: %d bytes, too short for a riff header", ErrNotWAV, size)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: magic %q", ErrNotWAV, hdr[0:4])
	}
	h := &Header{}
	riff := int64(binary.LittleEndian.Uint32(hdr[4:8]))
	if riff+8 != size {
		h.problem("riff-size", "riff size says %d bytes of file, the file has %d", riff+8, size)
	}
	var fmtSeen, dataSeen bool
	off := int64(12)
	for n := 0; ; n++ {
		if n == MaxChunks {
			return nil, fmt.Errorf("%w: more than %d chunks", ErrNotWAV, MaxChunks)
		}
		var ch [8]byte
		if off+8 > size {
			if off != size {
				h.problem("trailing-bytes", "%d bytes after the last chunk", size-off)
			}
			break
		}
		if _, err := r.ReadAt(ch[:], off); err != nil {
			return nil, fmt.Errorf("%w: chunk header at %d: %v", ErrNotWAV, off, err)
		}
		id, csize := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		body := off + 8
		switch id {
		case "fmt ":
			if fmtSeen {
				h.problem("duplicate-chunk", "a second fmt chunk at %d", off)
				break
			}
			fmtSeen = true
			if dataSeen {
				h.problem("chunk-order", "fmt chunk at %d comes after the data chunk", off)
			}
			if err := h.parseFmt(r, body, csize, size); err != nil {
				return nil, err
			}
		case "data":
			if dataSeen {
				h.problem("duplicate-chunk", "a second data chunk at %d", off)
				break
			}
			dataSeen = true
			h.DataOffset, h.DeclaredData = body, csize
			avail := size - body
			h.DataSize = min(csize, avail)
			if csize > avail {
				h.problem("data-size", "data chunk says %d bytes, %d remain in the file", csize, avail)
			}
		}
		next := body + csize + csize&1 // chunks are padded to even sizes
		if next > size {
			if id != "data" {
				h.problem("chunk-size", "chunk %q at %d says %d bytes, past the end of the file", id, off, csize)
			}
			break
		}
		off = next
	}
	if !fmtSeen {
		return nil, fmt.Errorf("%w: no fmt chunk", ErrNotWAV)
	}
	if !dataSeen {
		return nil, fmt.Errorf("%w: no data chunk", ErrNotWAV)
	}
	if h.BlockAlign > 0 {
		if h.DataSize%int64(h.BlockAlign) != 0 {
			h.problem("partial-frame", "%d data bytes are not whole frames of %d bytes", h.DataSize, h.BlockAlign)
		}
		h.Frames = h.DataSize / int64(h.BlockAlign)
		h.DataSize = h.Frames * int64(h.BlockAlign)
	}
	if h.SampleRate > 0 {
		h.Duration = time.Duration(float64(h.Frames) / float64(h.SampleRate) * float64(time.Second))
	}
	return h, nil
}

// parseFmt reads the format chunk at off (csize bytes declared).
func (h *Header) parseFmt(r io.ReaderAt, off, csize, size int64) error {
	if csize < 16 {
		return fmt.Errorf("%w: fmt chunk of %d bytes, want at least 16", ErrNotWAV, csize)
	}
	n := min(csize, MaxFmtSize, size-off)
	if n < 16 {
		return fmt.Errorf("%w: fmt chunk truncated", ErrNotWAV)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return fmt.Errorf("%w: fmt chunk: %v", ErrNotWAV, err)
	}
	le := binary.LittleEndian
	tag := int(le.Uint16(b[0:2]))
	h.Channels = int(le.Uint16(b[2:4]))
	h.SampleRate = int(le.Uint32(b[4:8]))
	h.ByteRate = int(le.Uint32(b[8:12]))
	h.BlockAlign = int(le.Uint16(b[12:14]))
	h.BitsPerSample = int(le.Uint16(b[14:16]))
	if tag == formatExt {
		if n < 40 || le.Uint16(b[16:18]) < 22 {
			return fmt.Errorf("%w: extensible fmt chunk without its sub-format", ErrNotWAV)
		}
		if valid := int(le.Uint16(b[18:20])); valid != 0 && valid != h.BitsPerSample {
			h.problem("valid-bits", "%d valid bits in %d-bit containers", valid, h.BitsPerSample)
		}
		guid := b[24:40]
		if string(guid[2:]) != string(guidTail) {
			return fmt.Errorf("%w: unknown extensible sub-format % x", ErrNotWAV, guid)
		}
		tag = int(le.Uint16(guid[0:2]))
	}
	h.Format = tag
	switch {
	case tag == FormatPCM && (h.BitsPerSample == 8 || h.BitsPerSample == 16 || h.BitsPerSample == 24 || h.BitsPerSample == 32):
	case tag == FormatFloat && (h.BitsPerSample == 32 || h.BitsPerSample == 64):
	default:
		return fmt.Errorf("%w: unsupported encoding (format tag %#x, %d bits)", ErrNotWAV, tag, h.BitsPerSample)
	}
	if h.Channels < 1 || h.Channels > MaxChannels {
		return fmt.Errorf("%w: %d channels", ErrNotWAV, h.Channels)
	}
	if h.SampleRate < 1 || h.SampleRate > MaxRate {
		return fmt.Errorf("%w: sample rate %d", ErrNotWAV, h.SampleRate)
	}
	want := h.Channels * h.BitsPerSample / 8
	if h.BlockAlign != want {
		h.problem("block-align", "block align says %d bytes a frame, %d channels of %d bits need %d", h.BlockAlign, h.Channels, h.BitsPerSample, want)
		h.BlockAlign = want // decode by what the encoding needs
	}
	if wantRate := h.SampleRate * want; h.ByteRate != wantRate {
		h.problem("byte-rate", "byte rate says %d, %d Hz × %d bytes a frame is %d", h.ByteRate, h.SampleRate, want, wantRate)
	}
	return nil
}
