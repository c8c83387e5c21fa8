package sevenzip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/ulikunitz/xz/lzma"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Coder ids of encoded headers precheck can decode.
var (
	coderCopy  = []byte{0x00}
	coderLZMA  = []byte{0x03, 0x01, 0x01}
	coderLZMA2 = []byte{0x21}
	coderAES   = []byte{0x06, 0xf1, 0x07, 0x01}
)

// decodeHeader decodes the single-coder folder that holds an encoded header.
// The packed bytes start at 32+packPos.
func decodeHeader(r io.ReaderAt, size int64, s *streams, maxHeader int64) ([]byte, error) {
	if len(s.folders) != 1 || len(s.packSizes) != 1 || len(s.folders[0].unpacks) == 0 {
		return nil, scan.Unscannablef("7z encoded header is not one packed stream")
	}
	f := s.folders[0]
	unpack := f.unpacks[len(f.unpacks)-1]
	if unpack > uint64(maxHeader) {
		return nil, scan.Unscannablef("7z header of %d bytes is larger than the limit of %d", unpack, maxHeader)
	}
	packed := s.packSizes[0]
	if s.packPos > uint64(size) || packed > uint64(size)-s.packPos || 32+s.packPos+packed > uint64(size) {
		return nil, scan.Unscannablef("7z encoded header lies past the end of the file")
	}
	src := io.NewSectionReader(r, int64(32+s.packPos), int64(packed))
	var dec io.Reader
	for _, c := range f.coders {
		if bytes.Equal(c.id, coderAES) {
			return nil, scan.Unscannablef("encrypted 7z archive: its contents cannot be examined")
		}
	}
	switch c := f.coders[0]; {
	case len(f.coders) != 1:
		return nil, scan.Unscannablef("7z encoded header uses %d coders", len(f.coders))
	case bytes.Equal(c.id, coderCopy):
		dec = src
	case bytes.Equal(c.id, coderLZMA) && len(c.props) == 5:
		// The classic LZMA header: properties, dictionary size, unpacked size.
		hdr := binary.LittleEndian.AppendUint64(bytes.Clone(c.props), unpack)
		lr, err := lzma.NewReader(io.MultiReader(bytes.NewReader(hdr), src))
		if err != nil {
			return nil, scan.Unscannablef("7z encoded header: %v", err)
		}
		dec = lr
	case bytes.Equal(c.id, coderLZMA2) && len(c.props) == 1:
		// Matches never reach back past the start of the output, so the
		// output size is dictionary enough.
		lr, err := lzma.Reader2Config{DictCap: max(lzma.MinDictCap, int(unpack))}.NewReader2(src)
		if err != nil {
			return nil, scan.Unscannablef("7z encoded header: %v", err)
		}
		dec = lr
	default:
		return nil, scan.Unscannablef("7z encoded header uses coder %x, which the header check does not decode", c.id)
	}
	out, err := io.ReadAll(io.LimitReader(dec, int64(unpack)+1))
	if err != nil || uint64(len(out)) != unpack {
		return nil, scan.Unscannablef("7z encoded header: %d of %d bytes decoded (%v)", len(out), unpack, err)
	}
	return out, nil
}

// precheck validates the counts of the header the signature header points
// at (offset off, n bytes after the 32-byte signature header).
func precheck(r io.ReaderAt, size int64, off, n uint64, lim scan.Limits) error {
	buf := make([]byte, n)
	if k, err := r.ReadAt(buf, int64(32+off)); uint64(k) != n {
		return scan.Unscannablef("reading 7z header: %v", err)
	}
	limit := uint64(max(lim.MaxMembers, 1))
	h := &hdrReader{b: buf, limit: limit}
	id, err := h.byte()
	if err != nil {
		return scan.Unscannablef("7z: %v", err)
	}
	if id == idEncodedHeader {
		s, err := h.streamsInfo()
		if err != nil {
			return wrapHeader(err)
		}
		if buf, err = decodeHeader(r, size, s, lim.MaxHeaderSize); err != nil {
			return err
		}
		h = &hdrReader{b: buf, limit: limit}
		if id, err = h.byte(); err != nil {
			return scan.Unscannablef("7z: %v", err)
		}
	}
	if id != idHeader {
		return scan.Unscannablef("7z header starts with property 0x%02x", id)
	}
	return wrapHeader(h.header())
}

func wrapHeader(err error) error {
	if err == nil || errors.Is(err, scan.ErrUnscannable) {
		return err
	}
	return scan.Unscannablef("7z: %v", err)
}
