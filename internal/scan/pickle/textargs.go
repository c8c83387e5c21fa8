package pickle

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// The arguments of the protocol-0 opcodes INT, LONG, FLOAT, GET and PUT are
// read here exactly as CPython 3.11's C unpickler (Modules/_pickle.c) reads
// them, because a scanner that stops at an argument CPython accepts stops
// before the opcodes that run: the rest of the stream would go unread.
// CPython copies the line, newline included, into a NUL-terminated buffer and
// hands it to C string functions, so the argument ends at the first NUL byte
// (cString); what the functions do is in the comments below. The behaviour is
// held to CPython's by testdata/textargs.json, recorded by
// scripts/differential/textargs_golden.py from /usr/bin/python3's pickle.loads.

// ErrUndecided is wrapped by errors on a text argument that CPython may read
// differently depending on its setup (locale): the scan cannot say where the
// stream stops, so a file that holds one is unscannable, never "not a pickle".
var ErrUndecided = errors.New("pickle text argument read differently by different Python setups")

// cString is the line as CPython's C functions see it: with its newline, up
// to the first NUL.
func cString(line []byte) []byte {
	s := make([]byte, len(line)+1)
	copy(s, line)
	s[len(line)] = '\n'
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// isCSpace is C's isspace in the C locale and CPython's Py_ISSPACE.
func isCSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// digitValue is CPython's _PyLong_DigitValue: 0-9, a-z/A-Z as 10-35, else 37.
func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 37
}

func at(s []byte, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func lower(c byte) byte { return c | 0x20 }

// spaceSign skips the leading whitespace and sign that strtol and
// PyLong_FromString both accept, returning where the number starts.
func spaceSign(s []byte) (int, bool) {
	i := 0
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	neg := false
	if c := at(s, i); c == '+' || c == '-' {
		neg = c == '-'
		i++
	}
	return i, neg
}

// intMaxStrDigits is CPython's default sys.int_max_str_digits: PyLong_FromString
// refuses longer decimal literals. PYTHONINTMAXSTRDIGITS can raise the limit,
// so the scanner reads such literals on (it may then read further than CPython
// does, never less far).
const intMaxStrDigits = 4300

// pyLong is PyLong_FromString(s, NULL, base) for base 0 or 10: leading and
// trailing whitespace, a sign, with base 0 the 0x/0o/0b prefixes (one
// underscore may follow) and "old octal" (a leading 0 is only allowed for
// zero), underscores between digits, nothing else after the digits.
func pyLong(s []byte, base int) (value, error) {
	bad := fmt.Errorf("invalid literal for int() with base %d: %q", base, s)
	i, neg := spaceSign(s)
	oldOctal := false
	if base == 0 {
		switch {
		case at(s, i) != '0':
			base = 10
		case lower(at(s, i+1)) == 'x':
			base = 16
		case lower(at(s, i+1)) == 'o':
			base = 8
		case lower(at(s, i+1)) == 'b':
			base = 2
		default:
			oldOctal, base = true, 10
		}
	}
	if p := lower(at(s, i+1)); at(s, i) == '0' && ((base == 16 && p == 'x') || (base == 8 && p == 'o') || (base == 2 && p == 'b')) {
		i += 2
		if at(s, i) == '_' {
			i++
		}
	}
	if at(s, i) == '_' {
		return value{}, bad
	}
	var digits []byte
	var prev byte
	for ; i < len(s); i++ {
		c := s[i]
		if c == '_' {
			if prev == '_' {
				return value{}, bad
			}
		} else if digitValue(c) < base {
			digits = append(digits, c)
		} else {
			break
		}
		prev = c
	}
	if prev == '_' || len(digits) == 0 {
		return value{}, bad
	}
	if oldOctal && len(bytes.Trim(digits, "0")) > 0 {
		return value{}, bad
	}
	for i < len(s) && isCSpace(s[i]) {
		i++
	}
	if i != len(s) {
		return value{}, bad
	}
	v, ok := new(big.Int).SetString(string(digits), base)
	if !ok {
		return value{}, bad
	}
	if neg {
		v.Neg(v)
	}
	if v.IsInt64() {
		return value{k: kInt, i: v.Int64()}, nil
	}
	if v.BitLen() > 8*maxBigInt {
		return value{k: kBigInt}, nil
	}
	return value{k: kBigInt, s: v.String()}, nil
}

// cStrtol is glibc's strtol(s, &end, 0) in the C locale: leading whitespace,
// a sign, 0x (when a hex digit follows) or a leading 0 (octal). It returns
// the value, the index end points at (0 when there are no digits: end is s),
// and whether the value overflowed a 64-bit long (errno ERANGE).
func cStrtol(s []byte) (int64, int, bool) {
	i, neg := spaceSign(s)
	base := 10
	switch {
	case at(s, i) == '0' && lower(at(s, i+1)) == 'x' && digitValue(at(s, i+2)) < 16:
		base = 16
		i += 2
	case at(s, i) == '0':
		base = 8
	}
	start := i
	var u uint64
	over := false
	for ; i < len(s) && digitValue(s[i]) < base; i++ {
		d := uint64(digitValue(s[i]))
		if u > (math.MaxUint64-d)/uint64(base) {
			over = true
			continue
		}
		u = u*uint64(base) + d
	}
	if i == start {
		return 0, 0, false
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if over || u > limit {
		return 0, i, true
	}
	if neg {
		return int64(-u), i, false
	}
	return int64(u), i, false
}

// intArg reads the argument of INT (load_int): strtol(s, &end, 0); when it
// overflows or stops before the newline, PyLong_FromString(s, NULL, 0). A
// strtol result of 0 or 1 from a line of exactly two bytes (newline
// included: "00", "01", " 1", "+0", "1" and a NUL) is the bool False or True.
func intArg(line []byte) (value, error) {
	if len(line) == 0 {
		return value{}, errors.New("pickle data was truncated (empty INT line)")
	}
	s := cString(line)
	x, end, over := cStrtol(s)
	if !over && (end == len(s) || s[end] == '\n') {
		if len(line) == 2 && (x == 0 || x == 1) {
			return value{k: kBool, i: x}, nil
		}
		return value{k: kInt, i: x}, nil
	}
	v, err := pyLong(s, 0)
	if err != nil {
		// strtol skips isspace() in the process's locale: a byte above 0x7f
		// where the whitespace ends may be a space to it.
		i := 0
		for i < len(s) && isCSpace(s[i]) {
			i++
		}
		if at(s, i) >= 0x80 {
			return value{}, fmt.Errorf("INT argument %q: %w", line, ErrUndecided)
		}
		return value{}, errors.New("could not convert string to int")
	}
	return v, nil
}

// longArg reads the argument of LONG (load_long): an 'L' just before the
// newline is cut, then PyLong_FromString(s, NULL, 0).
func longArg(line []byte) (value, error) {
	if len(line) == 0 {
		return value{}, errors.New("pickle data was truncated (empty LONG line)")
	}
	if line[len(line)-1] == 'L' {
		line = line[: len(line)-1 : len(line)-1]
		s := line
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return pyLong(s, 0)
	}
	return pyLong(cString(line), 0)
}

// memoArg reads the argument of GET and PUT: PyLong_FromString(s, NULL, 10),
// then PyLong_AsSsize_t (an overflow is an error).
func memoArg(line []byte) (int64, error) {
	if len(line) == 0 {
		return 0, errors.New("pickle data was truncated (empty memo key line)")
	}
	v, err := pyLong(cString(line), 10)
	if err != nil {
		return 0, err
	}
	if v.k != kInt {
		return 0, errors.New("Python int too large to convert to C ssize_t")
	}
	return v.i, nil
}

// floatArg reads the argument of FLOAT (load_float): PyOS_string_to_double
// with an OverflowError, which is Python's dtoa (no leading whitespace, a
// sign, digits with at most one '.', an exponent that needs a digit) or else
// inf, infinity or nan in any case; the first byte it leaves must be the
// newline (or the NUL ending the C string).
func floatArg(line []byte) (value, error) {
	s := cString(line)
	f, end, err := pyStrtod(s)
	if err != nil {
		return value{}, err
	}
	if end != len(s) && s[end] != '\n' {
		return value{}, errors.New("could not convert string to float")
	}
	return value{k: kFloat, i: int64(math.Float64bits(f))}, nil
}

func pyStrtod(s []byte) (float64, int, error) {
	i := 0
	neg := false
	if c := at(s, 0); c == '+' || c == '-' {
		neg = c == '-'
		i++
	}
	mant := i
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, digits = i+1, digits+1
	}
	if at(s, i) == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, digits = i+1, digits+1
		}
	}
	if digits == 0 {
		// _Py_parse_inf_or_nan
		t := s[mant:]
		low := bytes.ToLower(t[:min(len(t), 8)])
		var f float64
		switch {
		case bytes.HasPrefix(low, []byte("infinity")):
			f, i = math.Inf(1), mant+8
		case bytes.HasPrefix(low, []byte("inf")):
			f, i = math.Inf(1), mant+3
		case bytes.HasPrefix(low, []byte("nan")):
			f, i = math.NaN(), mant+3
		default:
			return 0, 0, errors.New("could not convert string to float")
		}
		if neg {
			f = -f
		}
		return f, i, nil
	}
	mantEnd := i
	exp := ""
	if c := at(s, i); c == 'e' || c == 'E' {
		j := i + 1
		if c := at(s, j); c == '+' || c == '-' {
			j++
		}
		k := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j > k {
			exp = "e" + string(s[i+1:j])
			i = j
		}
	}
	lit := string(s[mant:mantEnd])
	if lit[0] == '.' {
		lit = "0" + lit
	}
	f, err := strconv.ParseFloat(lit+exp, 64)
	if err != nil && !math.IsInf(f, 0) {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return 0, 0, errors.New("could not convert string to float")
		}
	}
	if math.IsInf(f, 0) {
		return 0, 0, errors.New("value too large to convert to float")
	}
	if neg {
		f = -f
	}
	return f, i, nil
}
