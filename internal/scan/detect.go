package scan

import (
	"bytes"
	"encoding/binary"
	"io"
	"unicode/utf8"
)

// Format is a file format recognised by content.
type Format string

// Formats.
const (
	FormatZip         Format = "zip"          // PyTorch zip checkpoint, .npz, any zip
	FormatTar         Format = "tar"          // legacy PyTorch tar checkpoint
	FormatTorchLegacy Format = "torch-legacy" // legacy raw PyTorch: stacked pickles after the magic number
	FormatPickle      Format = "pickle"       // raw pickle (protocol 2+ header)
	FormatNpy         Format = "npy"
	FormatSafetensors Format = "safetensors"
	FormatSevenZip    Format = "7z"
	FormatText        Format = "text"  // UTF-8 text: JSON/YAML config, or protocol 0/1 pickle
	FormatAudio       Format = "audio" // RIFF/WAVE, FLAC, OGG: data, not code
	FormatEmpty       Format = "empty"
	FormatUnknown     Format = "unknown"
)

// torchLegacyMagic is pickle protocol 2 of the long 0x1950a86a20f9469cfc6c
// (torch.serialization.MAGIC_NUMBER): PROTO 2, LONG1 10 bytes.
var torchLegacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// Detect identifies the format of the size bytes at r by their content only.
func Detect(r io.ReaderAt, size int64) Format {
	if size == 0 {
		return FormatEmpty
	}
	head := make([]byte, min(size, 512))
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return FormatZip
	case bytes.HasPrefix(head, []byte("7z\xbc\xaf\x27\x1c")):
		return FormatSevenZip
	case bytes.HasPrefix(head, []byte("\x93NUMPY")):
		return FormatNpy
	case bytes.HasPrefix(head, torchLegacyMagic):
		return FormatTorchLegacy
	case isSafetensors(head, size):
		// Before pickle: a header length of 0x180 starts with 80 01. The
		// safetensors scanner probes the bytes as a pickle too.
		return FormatSafetensors
	case len(head) >= 2 && head[0] == 0x80 && head[1] <= 5:
		return FormatPickle
	case len(head) >= 262 && bytes.Equal(head[257:262], []byte("ustar")):
		return FormatTar
	case bytes.HasPrefix(head, []byte("RIFF")) && len(head) >= 12 && bytes.Equal(head[8:12], []byte("WAVE")),
		bytes.HasPrefix(head, []byte("fLaC")), bytes.HasPrefix(head, []byte("OggS")):
		return FormatAudio
	}
	if hasZipEnd(r, size) {
		return FormatZip // a zip with bytes before its first entry still loads in torch
	}
	if looksText(r, size) {
		return FormatText
	}
	return FormatUnknown
}

func isSafetensors(head []byte, size int64) bool {
	if len(head) < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(head[:8])
	return n >= 2 && n <= uint64(size-8) && head[8] == '{'
}

// hasZipEnd looks for an end-of-central-directory record in the last 64 KiB.
func hasZipEnd(r io.ReaderAt, size int64) bool {
	const maxTail = 65535 + 22
	n := min(size, maxTail)
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return false
	}
	return bytes.LastIndex(tail, []byte("PK\x05\x06")) >= 0
}

// looksText reports whether the first 64 KiB are UTF-8 without NUL bytes.
func looksText(r io.ReaderAt, size int64) bool {
	buf := make([]byte, min(size, 64<<10))
	n, _ := r.ReadAt(buf, 0)
	buf = buf[:n]
	if bytes.IndexByte(buf, 0) >= 0 {
		return false
	}
	// A multi-byte rune may be cut at the end of the sample.
	for i := 0; i < 4 && len(buf) > 0 && !utf8.Valid(buf); i++ {
		buf = buf[:len(buf)-1]
	}
	return utf8.Valid(buf)
}
