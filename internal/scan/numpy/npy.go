// Package numpy scans NumPy .npy files the way numpy.load reads them
// (numpy/lib/format.py): a strict header check, then either a data length
// check (numeric dtypes) or a pickle scan of the body (object dtypes, which
// np.save writes as one pickle and np.load(allow_pickle=True) unpickles).
//
// .npz files are zips; the zip reader hands each member back through
// scan.Context.Examine, so they need nothing here.
//
// The .npy layout, byte for byte:
//
//	offset 0  "\x93NUMPY"
//	offset 6  major, minor version: 1.0, 2.0 or 3.0
//	offset 8  header length: uint16 LE (1.0) or uint32 LE (2.0, 3.0)
//	then      the header: a Python dict literal with exactly the keys
//	          'descr', 'fortran_order' and 'shape', latin-1 (1.0, 2.0) or
//	          UTF-8 (3.0), padded with spaces and ended by '\n'
//	then      the data: product(shape) × itemsize raw bytes, or a pickle
package numpy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"unicode/utf8"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/pickle"
)

// Rules reported by ScanNpy (pickle findings keep their own rules).
const (
	RuleObjectArray  = "numpy/object-array"         // Info: the body is a pickle and was scanned as one
	RuleTrailingData = "numpy/trailing-data"        // bytes after the array data or the pickle, which np.load ignores
	RuleDuplicateKey = "numpy/header-duplicate-key" // Medium: Python keeps the last value
)

// Magic starts every .npy file.
const Magic = "\x93NUMPY"

// Header is a parsed .npy header.
type Header struct {
	Major, Minor byte
	DataOffset   int64 // offset of the first byte after the header
	Object       bool  // the dtype holds Python objects: the body is a pickle
	Fortran      bool
	Shape        []*big.Int
	// DataSize is product(shape) × itemsize, the bytes of a numeric body
	// (meaningless when Object).
	DataSize *big.Int
}

// ScanNpy scans the size bytes at r as a .npy file and reports into sink.
// It returns an error wrapping scan.ErrUnscannable when the file could not
// be fully parsed: a header numpy would refuse or this parser does not know,
// numeric data shorter than the header says, an object body larger than
// c.Limits.MaxMemberSize, or a body that is not one complete pickle.
// Findings made before an error are kept.
func ScanNpy(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	h, err := ReadHeader(r, size, c.Limits.MaxHeaderSize, sink)
	if err != nil {
		return err
	}
	body := size - h.DataOffset
	if !h.Object {
		want := h.DataSize
		if want.Cmp(big.NewInt(body)) > 0 {
			return scan.Unscannablef("npy data is %d bytes, the header says %s", body, want)
		}
		if extra := body - want.Int64(); extra > 0 {
			sink.Add(scan.Finding{Rule: RuleTrailingData, Severity: scan.Medium, Offset: h.DataOffset + want.Int64(),
				Message: fmt.Sprintf("%d bytes after the array data, which np.load ignores: a place to hide a payload", extra)})
		}
		return nil
	}
	sink.Add(scan.Finding{Rule: RuleObjectArray, Severity: scan.Info, Offset: h.DataOffset,
		Message: "object array: np.load(allow_pickle=True) unpickles the body; contents scanned as pickle"})
	if body > c.Limits.MaxMemberSize {
		return scan.Unscannablef("npy object body is %d bytes, more than the limit of %d", body, c.Limits.MaxMemberSize)
	}
	data := make([]byte, body)
	if err := readFull(r, data, h.DataOffset); err != nil {
		return scan.Unscannablef("reading npy body: %v", err)
	}
	res, err := pickle.Scan(ctx, c, data, scan.Shifted(sink, h.DataOffset), pickle.Options{})
	if err != nil {
		if !errors.Is(err, scan.ErrUnscannable) {
			err = fmt.Errorf("%w: npy object body: %w", scan.ErrUnscannable, err)
		}
		return err
	}
	if res.End < int64(len(data)) {
		sink.Add(scan.Finding{Rule: RuleTrailingData, Severity: scan.Medium, Offset: h.DataOffset + res.End,
			Message: fmt.Sprintf("%d bytes after the pickle, which np.load never reads: a place to hide a payload", int64(len(data))-res.End)})
	}
	return nil
}

// ReadHeader reads and checks the magic, version and header dict of a .npy
// file, reporting duplicate header keys into sink. maxHeader bounds the
// header length. Its error wraps scan.ErrUnscannable.
func ReadHeader(r io.ReaderAt, size, maxHeader int64, sink scan.Sink) (*Header, error) {
	pre := make([]byte, min(size, 12))
	if err := readFull(r, pre, 0); err != nil || len(pre) < 10 {
		return nil, scan.Unscannablef("npy file too short (%d bytes)", size)
	}
	if string(pre[:6]) != Magic {
		return nil, scan.Unscannablef("not an npy file: bad magic %q", pre[:6])
	}
	h := &Header{Major: pre[6], Minor: pre[7]}
	var hlen int64
	switch {
	case h.Major == 1 && h.Minor == 0:
		hlen, h.DataOffset = int64(pre[8])|int64(pre[9])<<8, 10
	case (h.Major == 2 || h.Major == 3) && h.Minor == 0:
		if len(pre) < 12 {
			return nil, scan.Unscannablef("npy file too short (%d bytes)", size)
		}
		hlen = int64(pre[8]) | int64(pre[9])<<8 | int64(pre[10])<<16 | int64(pre[11])<<24
		h.DataOffset = 12
	default:
		return nil, scan.Unscannablef("npy version %d.%d is not 1.0, 2.0 or 3.0", h.Major, h.Minor)
	}
	if hlen > maxHeader {
		return nil, scan.Unscannablef("npy header of %d bytes is larger than the limit of %d", hlen, maxHeader)
	}
	if h.DataOffset+hlen > size {
		return nil, scan.Unscannablef("npy header of %d bytes runs past the end of the file", hlen)
	}
	raw := make([]byte, hlen)
	if err := readFull(r, raw, h.DataOffset); err != nil {
		return nil, scan.Unscannablef("reading npy header: %v", err)
	}
	hdrStart := h.DataOffset
	h.DataOffset += hlen
	var text string
	if h.Major == 3 {
		if !utf8.Valid(raw) {
			return nil, scan.Unscannablef("npy 3.0 header is not valid UTF-8")
		}
		text = string(raw)
	} else {
		text = latin1(raw)
	}
	if err := h.parseDict(text, h.Major < 3, hdrStart, sink); err != nil {
		return nil, scan.Unscannablef("npy header: %v", err)
	}
	return h, nil
}

// readFull fills buf from r at off; io.EOF with a full buffer is no error.
func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// latin1 decodes ISO-8859-1 bytes.
func latin1(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

// parseDict checks the header dict as numpy's _read_array_header does and
// fills h.
func (h *Header) parseDict(text string, longSuffix bool, off int64, sink scan.Sink) error {
	v, err := parseLiteral(text, longSuffix)
	if err != nil {
		return err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return fmt.Errorf("header is %s, want a dict", typeName(v))
	}
	vals := map[string]any{}
	for i, k := range d.keys {
		ks, ok := k.(string)
		if !ok || (ks != "descr" && ks != "fortran_order" && ks != "shape") {
			return fmt.Errorf("unexpected header key %v", k)
		}
		if _, dup := vals[ks]; dup {
			sink.Add(scan.Finding{Rule: RuleDuplicateKey, Severity: scan.Medium, Offset: off, Field: ks,
				Message: fmt.Sprintf("header key %q appears more than once; Python keeps the last", ks)})
		}
		vals[ks] = d.vals[i]
	}
	if len(vals) != 3 {
		return fmt.Errorf("header has %d of the keys 'descr', 'fortran_order', 'shape'", len(vals))
	}
	if h.Fortran, ok = vals["fortran_order"].(bool); !ok {
		return fmt.Errorf("fortran_order is %s, want a bool", typeName(vals["fortran_order"]))
	}
	shape, ok := vals["shape"].(pyTuple)
	if !ok {
		return fmt.Errorf("shape is %s, want a tuple", typeName(vals["shape"]))
	}
	count, err := elements(shape)
	if err != nil {
		return err
	}
	for _, s := range shape {
		if b, isBool := s.(bool); isBool {
			s = big.NewInt(map[bool]int64{false: 0, true: 1}[b])
		}
		h.Shape = append(h.Shape, s.(*big.Int))
	}
	dt, err := parseDescr(vals["descr"], 0)
	if err != nil {
		return err
	}
	h.Object = dt.hasObject
	h.DataSize = clamp(count.Mul(count, dt.itemsize))
	return nil
}
