package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"regexp"
	"slices"
	"strconv"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// tensor is one header entry whose data_offsets could be read.
type tensor struct {
	name       string
	begin, end uint64
	offset     int64 // file offset of the entry's key, for findings
	dtype      string
	shape      []uint64 // nil when the shape could not be read
}

// headerReader walks the header's JSON token by token, so that duplicate
// keys and unknown fields are seen (encoding/json's Unmarshal hides both).
type headerReader struct {
	dec  *json.Decoder
	hdr  []byte
	sink scan.Sink
}

// off is the file offset (the header starts at 8) of the next token: the
// decoder's position past any comma and whitespace.
func (h *headerReader) off() int64 {
	i := h.dec.InputOffset()
	for i < int64(len(h.hdr)) && bytes.IndexByte([]byte(", \t\r\n"), h.hdr[i]) >= 0 {
		i++
	}
	return 8 + i
}

func (h *headerReader) add(rule string, sev scan.Severity, off int64, field, format string, a ...any) {
	h.sink.Add(scan.Finding{Rule: rule, Severity: sev, Offset: off, Field: field, Message: fmt.Sprintf(format, a...)})
}

// parseHeader reads the header object, reporting what is wrong with it, and
// returns the tensors whose offsets could be read, later duplicates
// replacing earlier ones (serde's last-wins). Its error wraps
// scan.ErrUnscannable: the header is not one JSON object.
func parseHeader(hdr []byte, sink scan.Sink) ([]tensor, error) {
	h := &headerReader{dec: json.NewDecoder(bytes.NewReader(hdr)), hdr: hdr, sink: sink}
	h.dec.UseNumber()
	if tok, err := h.dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, scan.Unscannablef("safetensors header is not a JSON object (%v)", errOr(err, tok))
	}
	var order []string           // names, first appearance first
	last := map[string]*tensor{} // the last entry of each name; nil when its offsets are unusable
	seen := map[string]bool{}
	for h.dec.More() {
		off := h.off()
		tok, err := h.dec.Token()
		if err != nil {
			return nil, scan.Unscannablef("safetensors header: %v", err)
		}
		name := tok.(string) // object keys are always strings
		if seen[name] {
			h.add(RuleDuplicateKey, scan.High, off, name, "key %q appears more than once: parsers disagree on which one counts", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := h.metadata(off); err != nil {
				return nil, err
			}
			continue
		}
		t, ok, err := h.entry(name, off)
		if err != nil {
			return nil, err
		}
		if _, dup := last[name]; !dup {
			order = append(order, name)
		}
		last[name] = nil
		if ok {
			last[name] = &t
		}
	}
	if _, err := h.dec.Token(); err != nil { // the closing '}'
		return nil, scan.Unscannablef("safetensors header: %v", err)
	}
	end := h.dec.InputOffset()
	if rest := bytes.TrimLeft(hdr[end:], " \t\r\n"); len(rest) > 0 {
		h.add(RuleHeaderTrailing, scan.High, 8+end, "", "%d bytes after the header's JSON object, which the loader refuses and other readers may use", len(hdr)-int(end))
	}
	var tensors []tensor
	for _, name := range order {
		if t := last[name]; t != nil {
			tensors = append(tensors, *t)
		}
	}
	return tensors, nil
}

func errOr(err error, tok json.Token) any {
	if err != nil {
		return err
	}
	return fmt.Sprintf("starts with %v", tok)
}

// metadata reads "__metadata__": an object of string to string.
func (h *headerReader) metadata(off int64) error {
	tok, err := h.dec.Token()
	if err != nil {
		return scan.Unscannablef("safetensors header: %v", err)
	}
	if tok != json.Delim('{') {
		h.add(RuleMetadata, scan.Medium, off, "__metadata__", "__metadata__ is not an object of strings")
		return h.skip(tok)
	}
	bad, seen := false, map[string]bool{}
	for h.dec.More() {
		koff := h.off()
		k, err := h.dec.Token()
		if err != nil {
			return scan.Unscannablef("safetensors header: %v", err)
		}
		key := k.(string)
		if seen[key] {
			h.add(RuleDuplicateKey, scan.High, koff, "__metadata__."+key, "metadata key %q appears more than once", key)
		}
		seen[key] = true
		v, err := h.dec.Token()
		if err != nil {
			return scan.Unscannablef("safetensors header: %v", err)
		}
		if _, ok := v.(string); !ok {
			bad = true
			if err := h.skip(v); err != nil {
				return err
			}
		}
	}
	if bad {
		h.add(RuleMetadata, scan.Medium, off, "__metadata__", "__metadata__ has values that are not strings")
	}
	_, err = h.dec.Token()
	return unscannable(err)
}

// skip consumes the rest of a value whose first token is tok.
func (h *headerReader) skip(tok json.Token) error {
	depth := 0
	for {
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
		var err error
		if tok, err = h.dec.Token(); err != nil {
			return scan.Unscannablef("safetensors header: %v", err)
		}
	}
}

func unscannable(err error) error {
	if err == nil {
		return nil
	}
	return scan.Unscannablef("safetensors header: %v", err)
}

// uintRE is how serde reads a usize: digits, no sign, fraction or exponent.
var uintRE = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

// uints reads a JSON array of non-negative integers. ok is false when the
// value is not such an array (it is consumed all the same).
func (h *headerReader) uints() (vals []uint64, ok bool, err error) {
	tok, err := h.dec.Token()
	if err != nil {
		return nil, false, unscannable(err)
	}
	if tok != json.Delim('[') {
		return nil, false, h.skip(tok)
	}
	ok = true
	for h.dec.More() {
		v, err := h.dec.Token()
		if err != nil {
			return nil, false, unscannable(err)
		}
		num, isNum := v.(json.Number)
		u, perr := strconv.ParseUint(string(num), 10, 64)
		if !isNum || !uintRE.MatchString(string(num)) || perr != nil {
			ok = false
			if err := h.skip(v); err != nil {
				return nil, false, err
			}
			continue
		}
		vals = append(vals, u)
	}
	_, err = h.dec.Token()
	return vals, ok, unscannable(err)
}

// entry reads one tensor entry. ok says whether its data_offsets could be
// read; everything else wrong with it is reported.
func (h *headerReader) entry(name string, off int64) (t tensor, ok bool, err error) {
	t = tensor{name: name, offset: off}
	tok, err := h.dec.Token()
	if err != nil {
		return t, false, unscannable(err)
	}
	if tok != json.Delim('{') {
		h.add(RuleInvalidEntry, scan.Medium, off, name, "entry %q is not an object", name)
		return t, false, h.skip(tok)
	}
	var (
		dtype              string
		shape, offs        []uint64
		hasDtype, shapeOK  bool
		offsOK, dtypeKnown bool
		seen               = map[string]bool{}
	)
	for h.dec.More() {
		foff := h.off()
		k, err := h.dec.Token()
		if err != nil {
			return t, false, unscannable(err)
		}
		field := k.(string)
		if seen[field] {
			h.add(RuleDuplicateKey, scan.High, foff, name+"."+field, "field %q of tensor %q appears more than once", field, name)
		}
		seen[field] = true
		switch field {
		case "dtype":
			v, err := h.dec.Token()
			if err != nil {
				return t, false, unscannable(err)
			}
			dtype, hasDtype = v.(string)
			if !hasDtype {
				if err := h.skip(v); err != nil {
					return t, false, err
				}
			}
		case "shape":
			if shape, shapeOK, err = h.uints(); err != nil {
				return t, false, err
			}
		case "data_offsets":
			if offs, offsOK, err = h.uints(); err != nil {
				return t, false, err
			}
			offsOK = offsOK && len(offs) == 2
		default:
			h.add(RuleUnknownField, scan.Medium, foff, name+"."+field, "tensor %q has an unknown field %q", name, field)
			v, err := h.dec.Token()
			if err != nil {
				return t, false, unscannable(err)
			}
			if err := h.skip(v); err != nil {
				return t, false, err
			}
		}
	}
	if _, err := h.dec.Token(); err != nil {
		return t, false, unscannable(err)
	}
	_, dtypeKnown = dtypeBits[dtype]
	switch {
	case !hasDtype || !shapeOK || !offsOK:
		h.add(RuleInvalidEntry, scan.Medium, off, name,
			"tensor %q needs a string dtype, a shape of non-negative integers and data_offsets [begin, end]", name)
	case !dtypeKnown:
		h.add(RuleUnknownDtype, scan.Medium, off, name, "tensor %q has unknown dtype %q", name, dtype)
	}
	if !offsOK {
		return t, false, nil
	}
	t.begin, t.end = offs[0], offs[1]
	if hasDtype {
		t.dtype = dtype
	}
	if shapeOK {
		t.shape = append([]uint64{}, shape...)
	}
	if t.end < t.begin {
		h.add(RuleInvalidEntry, scan.Medium, off, name, "tensor %q ends (%d) before it begins (%d)", name, t.end, t.begin)
		return t, false, nil
	}
	if shapeOK && dtypeKnown {
		h.checkSize(t, shape, dtypeBits[dtype])
	}
	return t, true, nil
}

// checkSize compares end-begin with product(shape) × bits / 8, as the
// reference validate() does.
func (h *headerReader) checkSize(t tensor, shape []uint64, bitsize uint64) {
	n := bitsize
	for _, d := range shape {
		hi, lo := bits.Mul64(n, d)
		if hi != 0 {
			h.add(RuleSizeMismatch, scan.Medium, t.offset, t.name, "tensor %q: shape %v overflows", t.name, shape)
			return
		}
		n = lo
	}
	switch {
	case n%8 != 0:
		h.add(RuleSizeMismatch, scan.Medium, t.offset, t.name, "tensor %q: %d bits do not end on a byte boundary", t.name, n)
	case n/8 != t.end-t.begin:
		h.add(RuleSizeMismatch, scan.Medium, t.offset, t.name,
			"tensor %q: shape %v needs %d bytes, data_offsets give %d", t.name, shape, n/8, t.end-t.begin)
	}
}

// sortedByOffsets returns the tensors sorted by (begin, end).
func sortedByOffsets(ts []tensor) []tensor {
	out := slices.Clone(ts)
	slices.SortStableFunc(out, func(a, b tensor) int {
		if a.begin != b.begin {
			return cmpU(a.begin, b.begin)
		}
		return cmpU(a.end, b.end)
	})
	return out
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
