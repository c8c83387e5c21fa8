package sevenzip

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// The 7z reader allocates for every count the header declares (files,
// folders, streams, coders) before it reads the items, so a tiny archive
// declaring 2^32 files makes it ask for half a terabyte, which ends the
// process. precheck walks the header first, with the same grammar
// (7-Zip's DOC/7zFormat.txt, as the library reads it), and refuses counts
// above the limits. An encoded header (LZMA, LZMA2 or stored, as 7-Zip
// writes it) is decoded, bounded, and walked the same way.

// Property ids of the 7z header.
const (
	idEnd             = 0x00
	idHeader          = 0x01
	idMainStreamsInfo = 0x04
	idFilesInfo       = 0x05
	idPackInfo        = 0x06
	idUnpackInfo      = 0x07
	idSubStreamsInfo  = 0x08
	idSize            = 0x09
	idCRC             = 0x0a
	idFolder          = 0x0b
	idCodersUnpack    = 0x0c
	idNumUnpackStream = 0x0d
	idEncodedHeader   = 0x17
)

// maxCoders bounds coders per folder and streams per coder; 7-Zip writes at
// most four coders (BCJ2 and its LZMA streams).
const maxCoders = 64

// errHeader is wrapped by every structural error found by precheck.
var errHeader = errors.New("bad 7z header")

// hdrReader reads header bytes with bounds and counts.
type hdrReader struct {
	b     []byte
	pos   int
	limit uint64 // the most files, folders or streams accepted
}

func (h *hdrReader) errorf(format string, a ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", errHeader, h.pos, fmt.Sprintf(format, a...))
}

func (h *hdrReader) byte() (byte, error) {
	if h.pos >= len(h.b) {
		return 0, h.errorf("truncated")
	}
	h.pos++
	return h.b[h.pos-1], nil
}

func (h *hdrReader) skip(n uint64) error {
	if n > uint64(len(h.b)-h.pos) {
		return h.errorf("%d bytes past the end", n)
	}
	h.pos += int(n)
	return nil
}

// num reads 7z's variable-length number: the leading one bits of the first
// byte say how many little-endian bytes follow.
func (h *hdrReader) num() (uint64, error) {
	first, err := h.byte()
	if err != nil {
		return 0, err
	}
	l := bits.LeadingZeros8(^first)
	var v uint64
	if l < 7 {
		v = uint64(first&(1<<(7-l)-1)) << (8 * l)
	}
	for i := range l {
		b, err := h.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b) << (8 * i)
	}
	return v, nil
}

// count reads a number that sizes an allocation in the reader.
func (h *hdrReader) count(what string, limit uint64) (uint64, error) {
	n, err := h.num()
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, scan.Unscannablef("7z header declares %d %s, more than the limit of %d", n, what, limit)
	}
	return n, nil
}

func (h *hdrReader) expect(id byte) error {
	b, err := h.byte()
	if err == nil && b != id {
		err = h.errorf("property 0x%02x, want 0x%02x", b, id)
	}
	return err
}

// digests skips a digest list of n items.
func (h *hdrReader) digests(n uint64) error {
	all, err := h.byte()
	if err != nil {
		return err
	}
	defined := n
	if all == 0 {
		defined = 0
		vec := h.b[h.pos:]
		if err := h.skip((n + 7) / 8); err != nil {
			return err
		}
		for i := range n {
			if vec[i/8]&(0x80>>(i%8)) != 0 {
				defined++
			}
		}
	}
	return h.skip(4 * defined)
}

// folder describes what precheck needs of a folder.
type folder struct {
	coders  []coder
	outs    uint64
	packed  uint64
	unpacks []uint64
}

type coder struct {
	id    []byte
	props []byte
}

func (h *hdrReader) folder() (folder, error) {
	var f folder
	n, err := h.count("coders in a folder", maxCoders)
	if err != nil {
		return f, err
	}
	var ins uint64
	for range n {
		flags, err := h.byte()
		if err != nil {
			return f, err
		}
		c := coder{}
		start := h.pos
		if err := h.skip(uint64(flags & 0x0f)); err != nil {
			return f, err
		}
		c.id = h.b[start:h.pos]
		in, out := uint64(1), uint64(1)
		if flags&0x10 != 0 {
			if in, err = h.count("coder input streams", maxCoders); err != nil {
				return f, err
			}
			if out, err = h.count("coder output streams", maxCoders); err != nil {
				return f, err
			}
		}
		if flags&0x20 != 0 {
			size, err := h.num()
			if err != nil {
				return f, err
			}
			start := h.pos
			if err := h.skip(size); err != nil {
				return f, err
			}
			c.props = h.b[start:h.pos]
		}
		ins, f.outs = ins+in, f.outs+out
		f.coders = append(f.coders, c)
	}
	if f.outs == 0 || ins < f.outs || ins > maxCoders || f.outs > maxCoders {
		return f, h.errorf("folder with %d inputs and %d outputs", ins, f.outs)
	}
	for range 2 * (f.outs - 1) { // bind pairs
		if _, err := h.num(); err != nil {
			return f, err
		}
	}
	f.packed = ins - (f.outs - 1)
	if f.packed > 1 {
		for range f.packed {
			if _, err := h.num(); err != nil {
				return f, err
			}
		}
	}
	return f, nil
}

// streams is what precheck needs of a StreamsInfo.
type streams struct {
	packPos   uint64
	packSizes []uint64
	folders   []folder
}

func (h *hdrReader) streamsInfo() (*streams, error) {
	s := &streams{}
	id, err := h.byte()
	if err != nil {
		return nil, err
	}
	if id == idPackInfo {
		if s.packPos, err = h.num(); err != nil {
			return nil, err
		}
		n, err := h.count("packed streams", h.limit)
		if err != nil {
			return nil, err
		}
		if id, err = h.byte(); err == nil && id == idSize {
			for range n {
				v, err := h.num()
				if err != nil {
					return nil, err
				}
				s.packSizes = append(s.packSizes, v)
			}
			id, err = h.byte()
		}
		if err == nil && id == idCRC {
			if err = h.digests(n); err == nil {
				id, err = h.byte()
			}
		}
		if err == nil && id != idEnd {
			err = h.errorf("pack info ends with 0x%02x", id)
		}
		if err != nil {
			return nil, err
		}
		if id, err = h.byte(); err != nil {
			return nil, err
		}
	}
	if id == idUnpackInfo {
		if err := h.unpackInfo(s); err != nil {
			return nil, err
		}
		if id, err = h.byte(); err != nil {
			return nil, err
		}
	}
	if id == idSubStreamsInfo {
		if err := h.subStreamsInfo(s); err != nil {
			return nil, err
		}
		if id, err = h.byte(); err != nil {
			return nil, err
		}
	}
	if id != idEnd {
		return nil, h.errorf("streams info ends with 0x%02x", id)
	}
	return s, nil
}

func (h *hdrReader) unpackInfo(s *streams) error {
	if err := h.expect(idFolder); err != nil {
		return err
	}
	n, err := h.count("folders", h.limit)
	if err != nil {
		return err
	}
	if ext, err := h.byte(); err != nil || ext != 0 {
		return errors.Join(err, h.errorf("external folders"))
	}
	for range n {
		f, err := h.folder()
		if err != nil {
			return err
		}
		s.folders = append(s.folders, f)
	}
	if err := h.expect(idCodersUnpack); err != nil {
		return err
	}
	for i := range s.folders {
		for range s.folders[i].outs {
			v, err := h.num()
			if err != nil {
				return err
			}
			s.folders[i].unpacks = append(s.folders[i].unpacks, v)
		}
	}
	id, err := h.byte()
	if err == nil && id == idCRC {
		if err = h.digests(n); err == nil {
			id, err = h.byte()
		}
	}
	if err == nil && id != idEnd {
		err = h.errorf("unpack info ends with 0x%02x", id)
	}
	return err
}

func (h *hdrReader) subStreamsInfo(s *streams) error {
	id, err := h.byte()
	if err != nil {
		return err
	}
	per := make([]uint64, len(s.folders))
	total := uint64(0)
	for i := range per {
		per[i] = 1
		if id == idNumUnpackStream {
			if per[i], err = h.count("streams in a folder", h.limit); err != nil {
				return err
			}
		}
		if total += per[i]; total > h.limit {
			return scan.Unscannablef("7z header declares more than %d streams", h.limit)
		}
	}
	if id == idNumUnpackStream {
		if id, err = h.byte(); err != nil {
			return err
		}
	}
	if id == idSize {
		for _, k := range per {
			for j := uint64(1); j < k; j++ {
				if _, err := h.num(); err != nil {
					return err
				}
			}
		}
		if id, err = h.byte(); err != nil {
			return err
		}
	}
	if id == idCRC {
		if err := h.digests(total); err != nil {
			return err
		}
		if id, err = h.byte(); err != nil {
			return err
		}
	}
	if id != idEnd {
		return h.errorf("substreams info ends with 0x%02x", id)
	}
	return nil
}

// header walks a plain header up to the file count (everything the reader
// allocates in FilesInfo is sized by it).
func (h *hdrReader) header() error {
	id, err := h.byte()
	if err != nil {
		return err
	}
	if id == idMainStreamsInfo {
		if _, err := h.streamsInfo(); err != nil {
			return err
		}
		if id, err = h.byte(); err != nil {
			return err
		}
	}
	if id == idFilesInfo {
		_, err := h.count("files", h.limit)
		return err
	}
	if id != idEnd {
		return h.errorf("header property 0x%02x", id)
	}
	return nil
}
