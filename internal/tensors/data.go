package tensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Elements streams the bytes of a tensor's elements in row-major order
// (what torch's tensor.flatten() holds), a chunk at a time; it never holds
// more than the caller's buffer, except for a compressed zip record, which
// is inflated whole (at most scan.Limits.MaxMemberSize).
type Elements struct {
	t     *Tensor
	ra    io.ReaderAt
	base  int64 // byte offset of the storage in ra
	es    int64
	total int64 // elements
	done  int64
	flat  bool    // the elements are one run of the storage
	idx   []int64 // strided: the index of the next element
	data  []byte  // the file's mapping, when it is mapped: read in place
	kept  int64   // mapped: start of the bytes not yet released, -1 before the first chunk
}

// Elements returns a reader of t's elements; an error when t has a Problem.
func (c *Checkpoint) Elements(t *Tensor) (*Elements, error) {
	if t.Problem != "" {
		return nil, fmt.Errorf("tensor %q: %s", t.Name, t.Problem)
	}
	e := &Elements{t: t, ra: c.r, base: t.st.off, es: t.DType.Size(), total: t.Params, data: c.data, kept: -1}
	if t.st.open != nil {
		e.data = nil
		b, err := t.st.open()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if int64(len(b)) < t.st.n {
			return nil, fmt.Errorf("tensor %q: its storage has %d bytes, not %d", t.Name, len(b), t.st.n)
		}
		e.ra, e.base = bytes.NewReader(b), 0
	}
	e.flat = contiguous(t.Shape, t.Stride)
	if !e.flat {
		e.idx = make([]int64, len(t.Shape))
	}
	return e, nil
}

// contiguous reports whether stride is the row-major stride of shape
// (dimensions of size 1 may have any stride).
func contiguous(shape, stride []int64) bool {
	if stride == nil {
		return true
	}
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// Len is the number of elements.
func (e *Elements) Len() int64 { return e.total }

// Next returns the bytes of the next elements, as many whole elements as
// buf holds; io.EOF after the last element. The bytes are in buf, or, for a
// file Open mapped, may be the mapping itself: they must not be written and
// are valid until the next call of Next on e. Reading a mapping faults when
// the file is truncated meanwhile: run readers with debug.SetPanicOnFault
// and recover.
func (e *Elements) Next(buf []byte) ([]byte, error) {
	if e.done >= e.total {
		if e.data != nil && e.flat && e.kept >= 0 {
			e.releaseTo(e.base+(e.t.Offset+e.total)*e.es, true) // the caller is done with the last chunk
		}
		return nil, io.EOF
	}
	n := min(int64(len(buf))/e.es, e.total-e.done)
	if n == 0 {
		return nil, fmt.Errorf("tensor %q: buffer smaller than one element", e.t.Name)
	}
	out := buf[:n*e.es]
	if e.flat {
		if e.data != nil {
			at := e.base + (e.t.Offset+e.done)*e.es
			if at < 0 || at > int64(len(e.data))-n*e.es {
				return nil, fmt.Errorf("tensor %q: %w", e.t.Name, io.ErrUnexpectedEOF)
			}
			e.done += n
			if e.kept < 0 {
				e.kept = at
			} else {
				e.releaseTo(at, false) // the caller is done with the chunks before
			}
			return e.data[at : at+n*e.es : at+n*e.es], nil
		}
		if err := e.readAt(out, (e.t.Offset+e.done)*e.es); err != nil {
			return nil, err
		}
		e.done += n
		return out, nil
	}
	// Strided: runs along the last dimension when its stride is 1, else
	// element by element.
	last := len(e.t.Shape) - 1
	filled := int64(0)
	for filled < n {
		pos := e.t.Offset
		for i, x := range e.idx {
			pos += x * e.t.Stride[i]
		}
		run := int64(1)
		if e.t.Stride[last] == 1 {
			run = min(e.t.Shape[last]-e.idx[last], n-filled)
		}
		if err := e.readAt(out[filled*e.es:(filled+run)*e.es], pos*e.es); err != nil {
			return nil, err
		}
		filled += run
		e.idx[last] += run
		for i := last; i > 0 && e.idx[i] >= e.t.Shape[i]; i-- {
			e.idx[i] = 0
			e.idx[i-1]++
		}
	}
	e.done += n
	return out, nil
}

// releaseEvery is how many bytes a mapped stream reads between releases.
const releaseEvery = 8 << 20

// releaseTo gives back the mapped pages from kept up to to, once there are
// releaseEvery bytes of them (or now, with force).
func (e *Elements) releaseTo(to int64, force bool) {
	start, end := (e.kept+4095)&^4095, to&^4095
	if end > start && (force || end-start >= releaseEvery) {
		release(e.data[start:end])
		e.kept = end
	}
}

func (e *Elements) readAt(b []byte, off int64) error {
	if e.data != nil {
		at := e.base + off
		if at < 0 || at > int64(len(e.data))-int64(len(b)) {
			return fmt.Errorf("tensor %q: %w", e.t.Name, io.ErrUnexpectedEOF)
		}
		copy(b, e.data[at:])
		return nil
	}
	k, err := e.ra.ReadAt(b, e.base+off)
	if k == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("tensor %q: %w", e.t.Name, err)
}

// Decode appends the values of the little-endian elements in b, of dtype
// d, to dst as float64. d must be a Float dtype.
func Decode(dst []float64, b []byte, d DType) []float64 {
	switch d {
	case "float32":
		for i := 0; i+4 <= len(b); i += 4 {
			dst = append(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		}
	case "bfloat16":
		for i := 0; i+2 <= len(b); i += 2 {
			dst = append(dst, float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[i:]))<<16)))
		}
	case "float16":
		for i := 0; i+2 <= len(b); i += 2 {
			dst = append(dst, halfToFloat(binary.LittleEndian.Uint16(b[i:])))
		}
	case "float64":
		for i := 0; i+8 <= len(b); i += 8 {
			dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
	}
	return dst
}

// halfToFloat converts an IEEE 754 binary16 value.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}
