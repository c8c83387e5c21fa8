package pickle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"unicode"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// firstStart is the prefix First reads first; it grows while the decoder
// stopped only for want of bytes.
const firstStart = 64 << 10

// Prefix is what pickle.load reads from the first byte of a file: one stream
// up to its STOP, or the opcodes before the error that stopped it. CPython
// runs every opcode as it reads it, so what a stream did before its error
// happened all the same: the error only comes after.
type Prefix struct {
	// Findings are in the order they were made, with offsets from the first
	// byte of the file.
	Findings scan.Findings
	Result   *Result
	// Complete says a STOP was read and every global before it names a
	// module CPython can import: Result.End is the first byte after it.
	Complete bool
	// Err is why the stream stopped short when it is not complete: an
	// invalid opcode, a stack underflow, the end of the file ...
	Err error
}

// Reached returns the findings of the opcodes CPython runs before the
// stream stops: all of them for a complete stream; for one that stops short,
// those before the first global whose module CPython cannot import (not a
// dotted identifier: find_class raises there, and nothing after it runs).
// Text that is no pickle (a README, a YAML file that starts with "c") reads
// as GLOBAL of such a module and ends there.
func (p *Prefix) Reached() scan.Findings {
	if p.Result == nil || p.Result.FirstUnimportable < 0 {
		return p.Findings
	}
	var out scan.Findings
	for _, f := range p.Findings {
		if f.Offset < p.Result.FirstUnimportable {
			out = append(out, f)
		}
	}
	return out
}

// First decodes the size bytes at r from the first byte as one pickle
// stream with opt, the way pickle.load reads a file (numpy's pickle fallback,
// the first pickle of torch's legacy path). It reads a growing prefix, at
// most c.Limits.MaxMemberSize bytes, and grows it only while the decoder
// stopped for want of bytes that the file has.
//
// Its error wraps scan.ErrUnscannable: the stream is longer than the limit,
// a scan limit was reached (an expansion bomb), reading failed, or the
// context ended. Any other way the stream stops short is Prefix.Err.
func First(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, opt Options) (*Prefix, error) {
	opt.Stacked = false
	limit := min(size, c.Limits.MaxMemberSize)
	n := min(limit, firstStart)
	var buf []byte
	for {
		old := int64(len(buf))
		buf = append(buf, make([]byte, n-old)...)
		if k, err := r.ReadAt(buf[old:], old); int64(k) != n-old {
			return nil, scan.Unscannablef("reading the first pickle: %v", err)
		}
		p := &Prefix{}
		res, err := Scan(ctx, c, buf, &p.Findings, opt)
		p.Result = res
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("%w: %w", scan.ErrUnscannable, cerr)
		}
		if err == nil && res.FirstUnimportable >= 0 {
			// CPython's find_class raises at that global: the stream ends there.
			p.Err = fmt.Errorf("%w: pickle stream at offset 0: no module can be imported under the name the global at offset %d gives", scan.ErrUnscannable, res.FirstUnimportable)
			return p, nil
		}
		if err == nil {
			p.Complete = true
			return p, nil
		}
		if errors.Is(err, ErrLimit) || errors.Is(err, ErrUndecided) {
			return nil, err
		}
		need := neededBytes(err)
		if need == 0 || n == size || need > size {
			p.Err = err // the whole file would stop it the same way
			return p, nil
		}
		if n == limit {
			return nil, scan.Unscannablef("the file decodes as a pickle past its first %d bytes (%v)", n, err)
		}
		n = min(limit, max(n*4, need))
	}
}

// truncatedError is ErrTruncated with the length of data that would have
// let the decoder go on (at least).
type truncatedError struct {
	need int64
	what string
}

func (e *truncatedError) Error() string        { return ErrTruncated.Error() + " (" + e.what + ")" }
func (e *truncatedError) Is(target error) bool { return target == ErrTruncated }

func truncated(need int, format string, a ...any) error {
	return &truncatedError{need: int64(need), what: fmt.Sprintf(format, a...)}
}

// neededBytes returns how many bytes of data a stream stopped by their end
// needed at least, 0 when err does not come from the end of the data.
func neededBytes(err error) int64 {
	var t *truncatedError
	if errors.As(err, &t) {
		return t.need
	}
	return 0
}

// importable reports whether CPython's import system can find a module of
// that name at all: dotted identifiers. find_class raises on anything else
// before it looks at the name.
func importable(module string) bool {
	if module == "" {
		return false
	}
	start := true
	for _, r := range module {
		switch {
		case r == '.':
			if start {
				return false
			}
			start = true
			continue
		case r == '_' || unicode.IsLetter(r):
		case !start && (unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc, unicode.Pc)):
		default:
			return false
		}
		start = false
	}
	return !start
}
