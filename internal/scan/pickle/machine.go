package pickle

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"unicode/utf8"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// machine runs one or more pickle streams symbolically.
type machine struct {
	c             *scan.Context
	lim           scan.Limits
	sink          scan.Sink
	opt           Options
	data          []byte
	pos           int
	res           *Result
	ext           map[int64]name2 // copyreg extension codes registered earlier in the file
	frameReported bool
	weightsOnly   bool // profile weights-only: report opcodes torch's restricted unpickler refuses
	opReported    bool // once per stream
	bombReported  bool
	pending       []*node // globals whose finding waits for the end of the stream
	treeItems     int     // container items kept (Options.Tree)

	// per stream
	proto     int
	stack     []value
	marks     []int
	memo      map[int64]value
	frameEnd  int // 0: not in a frame
	frameOff  int // offset of the current FRAME opcode
	memoReads int64
	ops       int64
}

// Scan decodes the pickle stream(s) in data and reports into sink, with
// offsets relative to data[0]. With opt.Stacked it reads streams until the end
// of data; otherwise one stream. An error wraps scan.ErrUnscannable when data
// could not be fully decoded; findings made before the error are kept.
func Scan(ctx context.Context, c *scan.Context, data []byte, sink scan.Sink, opt Options) (*Result, error) {
	m := &machine{c: c, lim: c.Limits, sink: sink, opt: opt, data: data, res: &Result{FirstUnimportable: -1}, ext: map[int64]name2{},
		weightsOnly: c.Policy.Profile == scan.ProfileWeightsOnly}
	for {
		if err := ctx.Err(); err != nil {
			return m.res, err
		}
		start := m.pos
		err := m.stream()
		m.flushPending()
		if err != nil {
			return m.res, fmt.Errorf("%w: pickle stream at offset %d: %w", scan.ErrUnscannable, start, err)
		}
		m.res.Streams++
		m.res.End = int64(m.pos)
		if !opt.Stacked || m.pos >= len(data) {
			return m.res, nil
		}
	}
}

func (m *machine) add(f scan.Finding) { m.sink.Add(f) }

// finding reports at the opcode starting at off.
func (m *machine) finding(off int, op byte, sev scan.Severity, rule, global, msg string) {
	m.add(scan.Finding{Rule: rule, Severity: sev, Offset: int64(off), Opcode: opName(op), Global: global, Message: msg})
}

func (m *machine) push(v value) error {
	if len(m.stack) >= m.lim.MaxStack {
		return fmt.Errorf("stack deeper than %d entries (expansion bomb?): %w", m.lim.MaxStack, ErrLimit)
	}
	m.stack = append(m.stack, v)
	return nil
}

func (m *machine) pop() (value, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) <= m.marks[len(m.marks)-1]) {
		return value{}, fmt.Errorf("unpickling stack underflow")
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (*value, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) <= m.marks[len(m.marks)-1]) {
		return nil, fmt.Errorf("unpickling stack underflow")
	}
	return &m.stack[len(m.stack)-1], nil
}

// popMark pops everything above the last MARK and the mark itself.
func (m *machine) popMark() ([]value, error) {
	if len(m.marks) == 0 {
		return nil, fmt.Errorf("could not find MARK")
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := m.stack[k:]
	m.stack = m.stack[:k]
	return items, nil
}

// read returns the next n bytes, enforcing the data end and noting frames.
func (m *machine) read(n int) ([]byte, error) {
	if n < 0 || n > len(m.data)-m.pos {
		return nil, truncated(m.pos+n, "need %d bytes at offset %d", n, m.pos)
	}
	b := m.data[m.pos : m.pos+n]
	m.pos += n
	return b, nil
}

func (m *machine) readLine() ([]byte, error) {
	for i := m.pos; i < len(m.data); i++ {
		if m.data[i] == '\n' {
			b := m.data[m.pos:i]
			m.pos = i + 1
			return b, nil
		}
	}
	return nil, truncated(len(m.data)+1, "no newline after offset %d", m.pos)
}

// checkFrame notes opcodes that do not respect the current frame. CPython's C
// unpickler does not enforce frame boundaries, so a lying FRAME still loads;
// scanners that trust frames are bypassed by it. It is reported, once.
func (m *machine) checkFrame(start int) {
	if m.frameEnd == 0 || m.pos <= m.frameEnd {
		if m.frameEnd != 0 && m.pos == m.frameEnd {
			m.frameEnd = 0
		}
		return
	}
	if !m.frameReported {
		m.frameReported = true
		m.finding(m.frameOff, opFRAME, scan.High, "pickle/frame-mismatch", "",
			fmt.Sprintf("the %s at offset %d crosses the end of this FRAME (at %d): the frame length lies", opName(m.data[start]), start, m.frameEnd))
	}
	m.frameEnd = 0
}

func (m *machine) stream() error {
	m.proto = 0
	m.stack = m.stack[:0]
	m.marks = m.marks[:0]
	m.memo = map[int64]value{}
	m.frameEnd = 0
	m.memoReads = 0
	m.opReported = false
	for {
		if m.pos >= len(m.data) {
			return truncated(len(m.data)+1, "no STOP opcode")
		}
		m.ops++
		m.res.Opcodes++
		if m.ops > m.lim.MaxPickleOps {
			return fmt.Errorf("more than %d opcodes: %w", m.lim.MaxPickleOps, ErrLimit)
		}
		start := m.pos
		op := m.data[m.pos]
		m.pos++
		if m.weightsOnly && !weightsOnlyOps[op] && !m.opReported {
			m.opReported = true
			m.finding(start, op, scan.Medium, "pickle/weights-only-opcode", "",
				fmt.Sprintf("%s is not accepted by torch's weights-only unpickler", opName(op)))
		}
		stop, err := m.step(start, op)
		if err != nil {
			return fmt.Errorf("%s at offset %d: %w", opName(op), start, err)
		}
		m.checkFrame(start)
		if stop {
			return nil
		}
	}
}

func (m *machine) u8() (int64, error) {
	b, err := m.read(1)
	if err != nil {
		return 0, err
	}
	return int64(b[0]), nil
}

func (m *machine) u16() (int64, error) {
	b, err := m.read(2)
	if err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint16(b)), nil
}

func (m *machine) u32() (int64, error) {
	b, err := m.read(4)
	if err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint32(b)), nil
}

func (m *machine) i32() (int64, error) {
	b, err := m.read(4)
	if err != nil {
		return 0, err
	}
	return int64(int32(binary.LittleEndian.Uint32(b))), nil
}

func (m *machine) u64() (int64, error) {
	b, err := m.read(8)
	if err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(b)
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("length %d too large", v)
	}
	return int64(v), nil
}

// strValue makes a str value, keeping the text when short.
func (m *machine) strValue(b []byte) value {
	if len(b) > m.lim.MaxStringInMemo {
		return value{k: kLongStr}
	}
	return value{k: kStr, s: string(b)}
}

// strRef makes a str value for the n bytes at start of the data without
// copying them: most strings of a checkpoint are never looked at.
func (m *machine) strRef(start, n int) value {
	if n > m.lim.MaxStringInMemo || n >= 1<<13 {
		return value{k: kLongStr}
	}
	return value{k: kStr, i: int64(start)<<13 | int64(n) + 1}
}

// text returns the content of a kStr value.
func (m *machine) text(v value) string {
	if v.i > 0 {
		p := v.i - 1
		start, n := p>>13, p&(1<<13-1)
		return string(m.data[start : start+n])
	}
	return v.s
}

// maxBigInt is the largest integer (in bytes of two's complement) whose
// value is kept: enough for torch's legacy magic number.
const maxBigInt = 64

// longValue decodes a little-endian two's-complement integer (LONG1/LONG4).
func longValue(b []byte) value {
	if len(b) == 0 {
		return value{k: kInt}
	}
	if len(b) <= 8 {
		var u uint64
		for i := len(b) - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return value{k: kInt, i: int64(u<<shift) >> shift}
	}
	if len(b) > maxBigInt {
		return value{k: kBigInt}
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return value{k: kBigInt, s: v.String()}
}

// globalValue resolves a (module, name) pair read from a GLOBAL, INST,
// STACK_GLOBAL or EXT opcode and reports it when the policy does not allow it.
func (m *machine) globalValue(off int, op byte, module, name string) value {
	if m.proto < 3 {
		module, name = fixImports(module, name)
	}
	n := &node{module: module, name: name, off: int64(off)}
	if m.res.FirstUnimportable < 0 && !importable(module) {
		m.res.FirstUnimportable = int64(off)
	}
	if len(m.res.Globals) < 64 {
		m.res.Globals = append(m.res.Globals, module+"."+name)
	}
	n.allowed = m.c.Policy.Allowed(module, name)
	n.op = op
	switch {
	case n.allowed:
	case factories[module+"."+name] && m.c.Policy.Allowed("collections", "defaultdict"):
		n.pending = true
		m.pending = append(m.pending, n)
	default:
		m.reportGlobal(n)
	}
	return value{k: kGlobal, n: n}
}

// weightOf is how many objects v stands for when shared references are
// expanded (saturating).
func weightOf(v value) int64 {
	if v.n != nil && v.n.weight > 0 {
		return v.n.weight
	}
	return 1
}

// grow adds the expanded size of items to container c and reports, once, a
// structure that expands past maxExpanded objects: harmless to unpickle (it
// shares references) but a denial of service for anything that walks it.
func (m *machine) grow(off int, op byte, c value, items []value) {
	if c.n == nil {
		return
	}
	w := c.n.weight
	if w == 0 {
		w = 1
	}
	for _, it := range items {
		w += weightOf(it)
		if w > maxExpanded<<8 {
			w = maxExpanded << 8
		}
	}
	c.n.weight = w
	if w > maxExpanded && !m.bombReported {
		m.bombReported = true
		m.finding(off, op, scan.Medium, "pickle/expansion-bomb", "",
			fmt.Sprintf("shared references expand to more than %d objects when the result is traversed", int64(maxExpanded)))
	}
}

const maxExpanded = 1 << 30

// decodeName decodes a GLOBAL/INST line strictly as UTF-8, as CPython does.
func decodeName(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", fmt.Errorf("module or name %q is not valid UTF-8", b)
	}
	return string(b), nil
}
