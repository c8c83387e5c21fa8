package scan

import (
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format is a file format recognised by content.
type Format string

// Formats.
const (
	FormatZip         Format = "zip"          // PyTorch zip checkpoint, .npz, any zip
	FormatTar         Format = "tar"          // legacy PyTorch tar checkpoint
	FormatTorchLegacy Format = "torch-legacy" // legacy raw PyTorch: stacked pickles after the magic number
	FormatPickle      Format = "pickle"       // a pickle from the first byte (any protocol)
	FormatNpy         Format = "npy"
	FormatSafetensors Format = "safetensors"
	FormatSevenZip    Format = "7z"
	FormatText        Format = "text"  // UTF-8 text that no loader reads as a pickle: JSON/YAML config, or plain text
	FormatAudio       Format = "audio" // RIFF/WAVE, FLAC, OGG: data, not code
	FormatEmpty       Format = "empty"
	FormatUnknown     Format = "unknown"
)

// torchLegacyMagic is pickle protocol 2 of the long 0x1950a86a20f9469cfc6c
// (torch.serialization.MAGIC_NUMBER): PROTO 2, LONG1 10 bytes.
var torchLegacyMagic = []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// Detect identifies the format of the size bytes at r by their content only,
// by the magic bytes the loaders test first: torch.load reads a zip when the
// file starts with a local header, np.load a zip (PK\3\4 or PK\5\6) or an
// .npy (\x93NUMPY). Everything else is, to both loaders, a legacy file:
// torch.load tries a tar archive and then unpickles from the first byte;
// np.load unpickles from the first byte. For those bytes Detect only names
// what they look like (tar, torch-legacy, pickle, text, unknown): the
// walker reads them in the loaders' order, never as "text because it looks
// like text".
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
	case isSafetensors(head, size):
		// Before pickle: a header length of 0x180 starts with 80 01. The
		// safetensors scanner probes the bytes as a pickle too.
		return FormatSafetensors
	case bytes.HasPrefix(head, []byte("RIFF")) && len(head) >= 12 && bytes.Equal(head[8:12], []byte("WAVE")),
		bytes.HasPrefix(head, []byte("fLaC")), bytes.HasPrefix(head, []byte("OggS")):
		return FormatAudio
	case IsTar(head):
		return FormatTar
	case bytes.HasPrefix(head, torchLegacyMagic):
		return FormatTorchLegacy
	case len(head) >= 2 && head[0] == 0x80 && head[1] <= 5:
		return FormatPickle
	}
	if looksText(r, size) {
		return FormatText
	}
	return FormatUnknown
}

// IsTar reports whether head starts with a header block that Python's
// tarfile accepts, which is what makes torch.load's legacy path read a file
// as a tar checkpoint: 512 bytes, not all zero, whose checksum field (octal,
// or base-256) equals the unsigned or the signed sum of the block with that
// field read as spaces. No magic is needed (v7 headers have none).
func IsTar(head []byte) bool {
	if len(head) < 512 {
		return false
	}
	blk := head[:512]
	if bytes.Count(blk, []byte{0}) == 512 {
		return false
	}
	var u, sgn int64 = 256, 256
	for i, b := range blk {
		if i >= 148 && i < 156 {
			continue
		}
		u += int64(b)
		sgn += int64(int8(b))
	}
	want, ok := tarNumber(blk[148:156])
	return ok && (want == u || want == sgn)
}

// tarNumber reads a numeric header field as Python's tarfile.nti does:
// base-256 when the first byte is 0o200 or 0o377, else octal text up to the
// first NUL with surrounding whitespace ignored ("" is 0).
func tarNumber(f []byte) (int64, bool) {
	if f[0] == 0o200 || f[0] == 0o377 {
		var v int64
		for _, b := range f[1:] {
			v = v<<8 | int64(b)
		}
		if f[0] == 0o377 {
			v -= 1 << (8 * (len(f) - 1))
		}
		return v, true
	}
	if i := bytes.IndexByte(f, 0); i >= 0 {
		f = f[:i]
	}
	s := strings.TrimSpace(string(f))
	if s == "" {
		return 0, true
	}
	v, err := strconv.ParseInt(s, 8, 64)
	return v, err == nil
}

func isSafetensors(head []byte, size int64) bool {
	if len(head) < 9 {
		return false
	}
	n := binary.LittleEndian.Uint64(head[:8])
	return n >= 2 && n <= uint64(size-8) && head[8] == '{'
}

// HasZipEnd reports whether an end-of-central-directory signature lies in
// the last 64 KiB: a zip to readers that look for it there (zipfile, unzip),
// whatever comes first.
func HasZipEnd(r io.ReaderAt, size int64) bool {
	const maxTail = 65535 + 22
	n := min(size, maxTail)
	tail := make([]byte, n)
	if _, err := r.ReadAt(tail, size-n); err != nil && err != io.EOF {
		return false
	}
	return bytes.LastIndex(tail, []byte("PK\x05\x06")) >= 0
}

// LooksText reports whether the first 64 KiB are UTF-8 without NUL bytes.
func LooksText(r io.ReaderAt, size int64) bool { return looksText(r, size) }

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
