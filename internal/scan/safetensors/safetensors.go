// Package safetensors checks safetensors files strictly and probes them for
// a pickle hidden in the same bytes.
//
// The layout, byte for byte (huggingface/safetensors, safetensors/src/tensor.rs):
//
//	offset 0      N, uint64 little-endian: the header length
//	offset 8      the header: N bytes of UTF-8 JSON, an object starting with '{'
//	              (writers pad it with spaces to a multiple of 8), whose keys are
//	              tensor names mapping to {"dtype": D, "shape": [...],
//	              "data_offsets": [begin, end]}, plus an optional
//	              "__metadata__" object of string to string
//	offset 8+N    the data: every tensor's bytes at [begin, end) relative to
//	              8+N, sorted, contiguous from 0, with no gap or overlap, and
//	              the last end exactly at the end of the file
//
// Everything the reference loader would refuse, and everything it would let
// through that can hide bytes (gaps, trailing data, unknown fields,
// duplicate keys) is a finding. A header that cannot be read as a JSON object
// makes the file unscannable.
package safetensors

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Rules.
const (
	RuleHeaderStart    = "safetensors/header-start"    // the header does not start with '{'
	RuleHeaderTrailing = "safetensors/header-trailing" // non-whitespace after the JSON object
	RuleDuplicateKey   = "safetensors/duplicate-key"   // a key appears twice: parsers disagree on which wins
	RuleMetadata       = "safetensors/metadata"        // __metadata__ is not an object of strings
	RuleInvalidEntry   = "safetensors/invalid-entry"   // a tensor entry the loader refuses
	RuleUnknownField   = "safetensors/unknown-field"   // a field besides dtype, shape, data_offsets
	RuleUnknownDtype   = "safetensors/unknown-dtype"
	RuleSizeMismatch   = "safetensors/size-mismatch" // end-begin is not product(shape) × dtype size
	RuleOverlap        = "safetensors/overlap"       // two tensors share bytes
	RuleGap            = "safetensors/gap"           // bytes no tensor covers
	RuleOutOfBounds    = "safetensors/out-of-bounds" // a tensor ends past the end of the file
	RuleTrailingData   = "safetensors/trailing-data" // bytes after the last tensor
	RulePicklePolyglot = "safetensors/pickle-polyglot"
)

// dtypeBits is the element size in bits of every dtype the reference
// implementation knows (Dtype::bitsize).
var dtypeBits = map[string]uint64{
	"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8,
	"F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
	"C64": 64, "F64": 64, "I64": 64, "U64": 64,
}

// Scan checks the size bytes at r as a safetensors file and reports into
// sink; then it probes the same bytes as a pickle (see probe). It returns an
// error wrapping scan.ErrUnscannable when the header length is out of bounds
// (more than c.Limits.MaxHeaderSize, or past the end of the file), the header
// is not UTF-8 or not a JSON object, or the pickle probe could not finish.
// Findings made before an error are kept.
func Scan(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	tensors, dataStart, err := readHeader(r, size, c.Limits.MaxHeaderSize, sink)
	if err != nil {
		return err
	}
	checkLayout(tensors, dataStart, size, sink)
	return probe(ctx, c, r, size, sink)
}

// Tensor is one entry of a safetensors header whose data_offsets could be
// read. DType is "" and Shape nil when they could not be read (a finding
// says why).
type Tensor struct {
	Name       string
	DType      string // as the header spells it: "F32", "BF16", ...
	Shape      []uint64
	Begin, End uint64 // relative to DataStart
}

// Header is a safetensors header: its tensors in header order (a name
// given twice: the last entry, in the first one's place) and where the data
// begins.
type Header struct {
	Tensors   []Tensor
	DataStart int64
}

// DTypeBits returns the size in bits of one element of a safetensors dtype,
// 0 when the dtype is unknown.
func DTypeBits(dtype string) uint64 { return dtypeBits[dtype] }

// ReadHeader reads and checks the header of the size bytes at r, as Scan
// does (without the pickle probe), reporting into sink. Its error wraps
// scan.ErrUnscannable, as Scan's.
func ReadHeader(r io.ReaderAt, size, maxHeader int64, sink scan.Sink) (*Header, error) {
	tensors, dataStart, err := readHeader(r, size, maxHeader, sink)
	if err != nil {
		return nil, err
	}
	checkLayout(tensors, dataStart, size, sink)
	h := &Header{DataStart: dataStart}
	for _, t := range tensors {
		h.Tensors = append(h.Tensors, Tensor{Name: t.name, DType: t.dtype, Shape: t.shape, Begin: t.begin, End: t.end})
	}
	return h, nil
}

func readHeader(r io.ReaderAt, size, maxHeader int64, sink scan.Sink) ([]tensor, int64, error) {
	if size < 8 {
		return nil, 0, scan.Unscannablef("safetensors file of %d bytes has no header length", size)
	}
	var pre [8]byte
	if err := readFull(r, pre[:], 0); err != nil {
		return nil, 0, scan.Unscannablef("reading safetensors header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > uint64(maxHeader) {
		return nil, 0, scan.Unscannablef("safetensors header of %d bytes is larger than the limit of %d", n, maxHeader)
	}
	if int64(n) > size-8 {
		return nil, 0, scan.Unscannablef("safetensors header of %d bytes runs past the end of the file (%d bytes)", n, size)
	}
	hdr := make([]byte, n)
	if err := readFull(r, hdr, 8); err != nil {
		return nil, 0, scan.Unscannablef("reading safetensors header: %v", err)
	}
	if !utf8.Valid(hdr) {
		return nil, 0, scan.Unscannablef("safetensors header is not valid UTF-8")
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		sink.Add(scan.Finding{Rule: RuleHeaderStart, Severity: scan.Medium, Offset: 8,
			Message: "header does not start with '{'"})
	}
	tensors, err := parseHeader(hdr, sink)
	if err != nil {
		return nil, 0, err
	}
	return tensors, 8 + int64(n), nil
}

// readFull fills buf from r at off; io.EOF with a full buffer is no error.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	k, err := r.ReadAt(buf, off)
	if k == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// checkLayout checks that the tensors (sorted by data_offsets, as the
// reference loader sorts them) cover the data from dataStart to size exactly,
// each once.
func checkLayout(tensors []tensor, dataStart, size int64, sink scan.Sink) {
	dataLen := uint64(size - dataStart)
	var next uint64 // end of the bytes covered so far
	for _, t := range sortedByOffsets(tensors) {
		switch {
		case t.begin > next:
			sink.Add(scan.Finding{Rule: RuleGap, Severity: scan.High, Offset: dataStart + int64(min(next, dataLen)), Field: t.name,
				Message: fmt.Sprintf("%d data bytes before tensor %q belong to no tensor: a place to hide a payload", t.begin-next, t.name)})
		case t.begin < next:
			sink.Add(scan.Finding{Rule: RuleOverlap, Severity: scan.Medium, Offset: t.offset, Field: t.name,
				Message: fmt.Sprintf("tensor %q starts at %d, inside the bytes of an earlier tensor (up to %d)", t.name, t.begin, next)})
		}
		if t.end > dataLen {
			sink.Add(scan.Finding{Rule: RuleOutOfBounds, Severity: scan.Medium, Offset: t.offset, Field: t.name,
				Message: fmt.Sprintf("tensor %q ends at %d, past the %d bytes of data", t.name, t.end, dataLen)})
		}
		next = max(next, t.end)
	}
	if next < dataLen {
		sink.Add(scan.Finding{Rule: RuleTrailingData, Severity: scan.High, Offset: dataStart + int64(next),
			Message: fmt.Sprintf("%d bytes after the last tensor belong to no tensor: a place to hide a payload", dataLen-next)})
	}
}
