package numpy

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
)

// dtype is what the scanner needs to know of the 'descr' of a .npy header:
// the bytes one element takes, and whether any part of it is a Python object
// (then np.save wrote a pickle instead of raw data).
type dtype struct {
	itemsize  *big.Int
	hasObject bool
}

// typestr matches the array-protocol type strings numpy writes for simple
// dtypes ("<f4", "|b1", "|O", "<U10", "<M8[ns]"): byte order, kind, size,
// and a datetime unit.
var typestr = regexp.MustCompile(`^([<>|=]?)([?bBiufcOSaUVMm])([0-9]{0,10})(\[[0-9]{0,10}[A-Za-z]{1,2}\])?$`)

// parseDescr interprets a 'descr' value: a type string, or a list of
// (name, descr[, shape]) fields for a structured dtype. Anything numpy would
// not write is an error.
func parseDescr(v any, depth int) (dtype, error) {
	if depth > maxLiteralDepth {
		return dtype{}, fmt.Errorf("descr nested deeper than %d", maxLiteralDepth)
	}
	switch d := v.(type) {
	case string:
		return parseTypestr(d)
	case pyList:
		return parseFields(d, depth)
	case pyTuple:
		// (descr, shape): a subarray type, as numpy's descr_to_dtype reads it.
		if len(d) == 2 {
			return parseSubarray(d[0], d[1], depth)
		}
	}
	return dtype{}, fmt.Errorf("descr is %s, want a string or a list of fields", typeName(v))
}

func parseTypestr(s string) (dtype, error) {
	m := typestr.FindStringSubmatch(s)
	if m == nil {
		return dtype{}, fmt.Errorf("unsupported descr %q", s)
	}
	kind, digits, unit := m[2], m[3], m[4]
	size := int64(-1)
	if digits != "" {
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n > 1<<40 {
			return dtype{}, fmt.Errorf("descr %q: size out of range", s)
		}
		size = n
	}
	if unit != "" && kind != "M" && kind != "m" {
		return dtype{}, fmt.Errorf("descr %q: unit on a non-datetime type", s)
	}
	ok := false
	switch kind {
	case "O":
		// Object pointers: "O", or "O8"/"O4" from old numpy.
		return dtype{itemsize: big.NewInt(8), hasObject: true}, nil
	case "?":
		ok, size = size == -1 || size == 1, 1
	case "b", "B":
		ok = size == 1 // "b1" is bool; numpy never writes "B1"
		ok = ok && kind == "b"
	case "i", "u":
		ok = size == 1 || size == 2 || size == 4 || size == 8
	case "f":
		ok = size == 2 || size == 4 || size == 8 || size == 10 || size == 12 || size == 16
	case "c":
		ok = size == 8 || size == 16 || size == 20 || size == 24 || size == 32
	case "S", "a", "V":
		ok = size >= 0
	case "U":
		ok, size = size >= 0, size*4
	case "M", "m":
		ok = size == 8
	}
	if !ok {
		return dtype{}, fmt.Errorf("unsupported descr %q", s)
	}
	return dtype{itemsize: big.NewInt(size)}, nil
}

// parseFields reads a structured dtype: [(name, descr), (name, descr, shape), ...]
// where name is a string or a (title, name) tuple.
func parseFields(fields pyList, depth int) (dtype, error) {
	out := dtype{itemsize: new(big.Int)}
	for i, f := range fields {
		t, ok := f.(pyTuple)
		if !ok || len(t) < 2 || len(t) > 3 {
			return dtype{}, fmt.Errorf("field %d: want a (name, descr[, shape]) tuple", i)
		}
		if err := checkFieldName(t[0]); err != nil {
			return dtype{}, fmt.Errorf("field %d: %w", i, err)
		}
		var sub dtype
		var err error
		if len(t) == 3 {
			sub, err = parseSubarray(t[1], t[2], depth)
		} else {
			sub, err = parseDescr(t[1], depth+1)
		}
		if err != nil {
			return dtype{}, fmt.Errorf("field %d: %w", i, err)
		}
		clamp(out.itemsize.Add(out.itemsize, sub.itemsize))
		out.hasObject = out.hasObject || sub.hasObject
	}
	return out, nil
}

// parseSubarray reads a (descr, shape) pair: shape is an int or a tuple of ints.
func parseSubarray(descr, shape any, depth int) (dtype, error) {
	sub, err := parseDescr(descr, depth+1)
	if err != nil {
		return dtype{}, err
	}
	var dims pyTuple
	switch s := shape.(type) {
	case *big.Int:
		dims = pyTuple{s}
	case pyTuple:
		dims = s
	default:
		return dtype{}, fmt.Errorf("subarray shape is %s", typeName(shape))
	}
	n, err := elements(dims)
	if err != nil {
		return dtype{}, err
	}
	return dtype{itemsize: clamp(n.Mul(n, sub.itemsize)), hasObject: sub.hasObject}, nil
}

func checkFieldName(v any) error {
	switch n := v.(type) {
	case string:
		return nil
	case pyTuple:
		if len(n) == 2 {
			if _, ok := n[1].(string); ok {
				return nil // (title, name); the title may be any string
			}
		}
	}
	return fmt.Errorf("field name is %s, want a string or (title, name)", typeName(v))
}

// elements is the product of a shape's dimensions, each a non-negative int,
// clamped (see clamp).
func elements(shape pyTuple) (*big.Int, error) {
	n := big.NewInt(1)
	for _, d := range shape {
		i, ok := d.(*big.Int)
		if b, isBool := d.(bool); isBool {
			// isinstance(True, int) holds in Python: numpy takes it as 1.
			i, ok = big.NewInt(0), true
			if b {
				i.SetInt64(1)
			}
		}
		if !ok {
			return nil, fmt.Errorf("shape dimension is %s, want an int", typeName(d))
		}
		if i.Sign() < 0 {
			return nil, fmt.Errorf("negative shape dimension %s", i)
		}
		clamp(n.Mul(n, i))
	}
	return n, nil
}

// hugeBits bounds the sizes the scanner computes: anything at or above
// 2^hugeBits is far larger than any file, and clamping keeps hostile shapes
// with many huge dimensions from costing quadratic time.
const hugeBits = 100

// clamp caps n at 2^hugeBits (zero stays zero) and returns it.
func clamp(n *big.Int) *big.Int {
	if n.BitLen() > hugeBits {
		n.SetBit(n.SetInt64(0), hugeBits, 1)
	}
	return n
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case *big.Int:
		return "an int"
	case bool:
		return "a bool"
	case pyTuple:
		return "a tuple"
	case pyList:
		return "a list"
	case *pyDict:
		return "a dict"
	}
	return fmt.Sprintf("%T", v)
}
