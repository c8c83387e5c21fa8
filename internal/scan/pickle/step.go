package pickle

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// step executes one opcode. It returns true after STOP.
func (m *machine) step(off int, op byte) (bool, error) {
	switch op {
	case opPROTO:
		p, err := m.u8()
		if err != nil {
			return false, err
		}
		if p > 5 {
			return false, fmt.Errorf("unsupported pickle protocol: %d", p)
		}
		m.proto = int(p)
	case opFRAME:
		n, err := m.u64()
		if err != nil {
			return false, err
		}
		if n > int64(len(m.data)-m.pos) {
			m.finding(off, op, scan.High, "pickle/frame-mismatch", "", fmt.Sprintf("FRAME of %d bytes is longer than the %d bytes left", n, len(m.data)-m.pos))
			return false, truncated(m.pos+int(n), "FRAME of %d bytes", n)
		}
		if m.frameEnd != 0 && m.pos-9 < m.frameEnd && !m.frameReported {
			m.frameReported = true
			m.finding(off, op, scan.High, "pickle/frame-mismatch", "", "a new FRAME begins before the end of the current one")
		}
		m.frameEnd, m.frameOff = m.pos+int(n), off
		if n == 0 {
			m.frameEnd = 0
		}
	case opSTOP:
		v, err := m.pop()
		if err != nil {
			return false, err
		}
		m.res.Result, m.res.Int, m.res.StrList, m.res.IntText = v.k.String(), v.i, nil, ""
		switch v.k {
		case kInt:
			m.res.IntText = strconv.FormatInt(v.i, 10)
		case kBigInt:
			m.res.IntText = v.s
		}
		if m.opt.Tree {
			root, err := m.materialise(v)
			if err != nil {
				return false, err
			}
			m.res.Root = root
		}
		if v.k == kList && m.opt.KeepStrList {
			for _, it := range v.n.items {
				if it.k == kStr {
					m.res.StrList = append(m.res.StrList, m.text(it))
				}
			}
		}
		return true, nil
	case opMARK:
		if len(m.marks) >= m.lim.MaxStack {
			return false, fmt.Errorf("more than %d marks: %w", m.lim.MaxStack, ErrLimit)
		}
		m.marks = append(m.marks, len(m.stack))
	case opPOP:
		if len(m.stack) > 0 && (len(m.marks) == 0 || len(m.stack) > m.marks[len(m.marks)-1]) {
			m.stack = m.stack[:len(m.stack)-1]
		} else if len(m.marks) > 0 {
			m.marks = m.marks[:len(m.marks)-1] // CPython: POP of a mark pops the mark
		} else {
			return false, fmt.Errorf("unpickling stack underflow")
		}
	case opPOP_MARK:
		if _, err := m.popMark(); err != nil {
			return false, err
		}
	case opDUP:
		t, err := m.top()
		if err != nil {
			return false, err
		}
		return false, m.push(*t)
	case opNONE:
		return false, m.push(value{k: kNone})
	case opNEWTRUE:
		return false, m.push(value{k: kBool, i: 1})
	case opNEWFALSE:
		return false, m.push(value{k: kBool})
	case opINT, opLONG:
		line, err := m.readLine()
		if err != nil {
			return false, err
		}
		parse := intArg
		if op == opLONG {
			parse = longArg
		}
		v, err := parse(line)
		if err != nil {
			return false, err
		}
		return false, m.push(v)
	case opBININT:
		v, err := m.i32()
		if err != nil {
			return false, err
		}
		return false, m.push(value{k: kInt, i: v})
	case opBININT1:
		v, err := m.u8()
		if err != nil {
			return false, err
		}
		return false, m.push(value{k: kInt, i: v})
	case opBININT2:
		v, err := m.u16()
		if err != nil {
			return false, err
		}
		return false, m.push(value{k: kInt, i: v})
	case opLONG1, opLONG4:
		var n int64
		var err error
		if op == opLONG1 {
			n, err = m.u8()
		} else {
			n, err = m.i32()
			if err == nil && n < 0 {
				err = fmt.Errorf("LONG pickle has negative byte count")
			}
		}
		if err != nil {
			return false, err
		}
		b, err := m.read(int(n))
		if err != nil {
			return false, err
		}
		return false, m.push(longValue(b))
	case opFLOAT:
		line, err := m.readLine()
		if err != nil {
			return false, err
		}
		v, err := floatArg(line)
		if err != nil {
			return false, err
		}
		return false, m.push(v)
	case opBINFLOAT:
		b, err := m.read(8)
		if err != nil {
			return false, err
		}
		return false, m.push(value{k: kFloat, i: int64(binary.BigEndian.Uint64(b))})
	case opSTRING:
		line, err := m.readLine()
		if err != nil {
			return false, err
		}
		s, err := unquote(line)
		if err != nil {
			return false, err
		}
		return false, m.push(m.strValue([]byte(s)))
	case opBINSTRING, opSHORT_BINSTRING, opBINUNICODE, opSHORT_BINUNICODE, opBINUNICODE8:
		return false, m.stringOp(op)
	case opUNICODE:
		line, err := m.readLine()
		if err != nil {
			return false, err
		}
		s, err := rawUnicodeEscape(line)
		if err != nil {
			return false, err
		}
		return false, m.push(m.strValue([]byte(s)))
	case opBINBYTES, opSHORT_BINBYTES, opBINBYTES8, opBYTEARRAY8:
		var n int64
		var err error
		switch op {
		case opBINBYTES:
			n, err = m.u32()
		case opSHORT_BINBYTES:
			n, err = m.u8()
		default:
			n, err = m.u64()
		}
		if err != nil {
			return false, err
		}
		if n > int64(len(m.data)-m.pos) {
			return false, truncated(m.pos+int(n), "%d bytes of data", n)
		}
		m.pos += int(n)
		return false, m.push(value{k: kBytes})
	case opEMPTY_TUPLE:
		return false, m.push(value{k: kTuple, n: &node{off: int64(off)}})
	case opTUPLE:
		items, err := m.popMark()
		if err != nil {
			return false, err
		}
		return false, m.push(m.tuple(off, items))
	case opTUPLE1, opTUPLE2, opTUPLE3:
		n := int(op-opTUPLE1) + 1
		if len(m.stack) < n || (len(m.marks) > 0 && len(m.stack)-n < m.marks[len(m.marks)-1]) {
			return false, fmt.Errorf("unpickling stack underflow")
		}
		items := append([]value(nil), m.stack[len(m.stack)-n:]...)
		m.stack = m.stack[:len(m.stack)-n]
		return false, m.push(m.tuple(off, items))
	case opEMPTY_LIST:
		return false, m.push(value{k: kList, n: &node{off: int64(off)}})
	case opLIST:
		items, err := m.popMark()
		if err != nil {
			return false, err
		}
		l := value{k: kList, n: &node{off: int64(off)}}
		m.grow(off, op, l, items)
		if err := m.keep(l, items); err != nil {
			return false, err
		}
		return false, m.push(l)
	case opEMPTY_DICT:
		return false, m.push(value{k: kDict, n: &node{off: int64(off)}})
	case opDICT:
		items, err := m.popMark()
		if err != nil {
			return false, err
		}
		if len(items)%2 != 0 {
			return false, fmt.Errorf("odd number of items for DICT")
		}
		d := value{k: kDict, n: &node{off: int64(off)}}
		m.grow(off, op, d, items)
		if err := m.keep(d, items); err != nil {
			return false, err
		}
		return false, m.push(d)
	case opEMPTY_SET:
		return false, m.push(value{k: kSet, n: &node{off: int64(off)}})
	case opFROZENSET:
		items, err := m.popMark()
		if err != nil {
			return false, err
		}
		fs := value{k: kFrozenSet, n: &node{off: int64(off)}}
		if err := m.keep(fs, items); err != nil {
			return false, err
		}
		return false, m.push(fs)
	case opAPPEND, opAPPENDS, opSETITEM, opSETITEMS, opADDITEMS:
		return false, m.fill(off, op)
	case opGET, opBINGET, opLONG_BINGET:
		return false, m.memoGet(op)
	case opPUT, opBINPUT, opLONG_BINPUT, opMEMOIZE:
		return false, m.memoPut(op)
	case opGLOBAL, opINST:
		return false, m.globalOp(off, op)
	case opSTACK_GLOBAL:
		name, err := m.pop()
		if err != nil {
			return false, err
		}
		module, err := m.pop()
		if err != nil {
			return false, err
		}
		if module.k != kStr || name.k != kStr {
			m.finding(off, op, scan.Critical, "pickle/computed-global", "",
				fmt.Sprintf("STACK_GLOBAL operands are not constant strings (module: %s, name: %s): the global is chosen at load time", module.k, name.k))
			return false, m.push(value{k: kGlobal, n: &node{module: "?", name: "?", off: int64(off)}})
		}
		return false, m.push(m.globalValue(off, op, m.text(module), m.text(name)))
	case opEXT1, opEXT2, opEXT4:
		var code int64
		var err error
		switch op {
		case opEXT1:
			code, err = m.u8()
		case opEXT2:
			code, err = m.u16()
		default:
			code, err = m.i32()
		}
		if err != nil {
			return false, err
		}
		if g, ok := m.ext[code]; ok {
			return false, m.push(m.globalValue(off, op, g.module, g.name))
		}
		m.finding(off, op, scan.Critical, "pickle/extension-code", "",
			fmt.Sprintf("extension code %d names a global through copyreg's registry, which only the loading process knows", code))
		return false, m.push(value{k: kGlobal, n: &node{module: "?", name: fmt.Sprintf("ext%d", code), off: int64(off)}})
	case opREDUCE, opNEWOBJ, opNEWOBJ_EX:
		if op == opNEWOBJ_EX {
			if _, err := m.pop(); err != nil { // kwargs
				return false, err
			}
		}
		args, err := m.pop()
		if err != nil {
			return false, err
		}
		callee, err := m.pop() // the callable (REDUCE) or the class (NEWOBJ*)
		if err != nil {
			return false, err
		}
		return false, m.push(m.call(off, op, callee, args))
	case opOBJ:
		items, err := m.popMark()
		if err != nil {
			return false, err
		}
		if len(items) == 0 {
			return false, fmt.Errorf("OBJ without a class")
		}
		return false, m.push(m.call(off, op, items[0], m.tuple(off, items[1:])))
	case opBUILD:
		return false, m.build(off, op)
	case opPERSID, opBINPERSID:
		if m.opt.Plain {
			return false, errNoPersistentLoad
		}
		return false, m.persistentOp(off, op)
	case opNEXT_BUFFER, opREADONLY_BUFFER:
		if op == opREADONLY_BUFFER {
			if _, err := m.top(); err != nil {
				return false, err
			}
			return false, nil
		}
		m.finding(off, op, scan.Medium, "pickle/out-of-band-buffer", "", "out-of-band buffer: its content is not in the file")
		return false, m.push(value{k: kBuffer})
	default:
		return false, fmt.Errorf("invalid load key, %q", op)
	}
	return false, nil
}

func (m *machine) stringOp(op byte) error {
	var n int64
	var err error
	switch op {
	case opBINSTRING:
		n, err = m.i32()
		if err == nil && n < 0 {
			err = fmt.Errorf("BINSTRING pickle has negative byte count")
		}
	case opSHORT_BINSTRING, opSHORT_BINUNICODE:
		n, err = m.u8()
	case opBINUNICODE:
		n, err = m.u32()
	default:
		n, err = m.u64()
	}
	if err != nil {
		return err
	}
	if n > int64(len(m.data)-m.pos) {
		return truncated(m.pos+int(n), "string of %d bytes", n)
	}
	start := m.pos
	b, _ := m.read(int(n))
	if op == opBINUNICODE || op == opSHORT_BINUNICODE || op == opBINUNICODE8 {
		if err := checkUTF8(b); err != nil {
			return err
		}
	}
	// Python 3 decodes BINSTRING/SHORT_BINSTRING as ASCII by default: a str.
	return m.push(m.strRef(start, int(n)))
}

func (m *machine) tuple(off int, items []value) value {
	n := &node{off: int64(off)}
	m.grow(off, opTUPLE, value{k: kTuple, n: n}, items)
	if m.opt.Tree && m.treeItems+len(items) <= m.lim.MaxTreeItems {
		m.treeItems += len(items)
		n.items = append([]value(nil), items...)
		n.long = len(items) > maxTupleItems
	} else if len(items) > maxTupleItems {
		n.items = append([]value(nil), items[:maxTupleItems]...)
		n.truncated = true
	} else {
		n.items = append([]value(nil), items...)
	}
	return value{k: kTuple, n: n}
}

// memoIndex reads the memo index of GET/PUT (decimal line), BINGET/BINPUT
// (1 byte) or LONG_BINGET/LONG_BINPUT (4 bytes); MEMOIZE uses the memo size.
func (m *machine) memoIndex(op byte) (int64, error) {
	switch op {
	case opGET, opPUT:
		line, err := m.readLine()
		if err != nil {
			return 0, err
		}
		return memoArg(line)
	case opBINGET, opBINPUT:
		return m.u8()
	case opLONG_BINGET, opLONG_BINPUT:
		return m.u32()
	}
	return int64(len(m.memo)), nil // MEMOIZE
}

func (m *machine) memoGet(op byte) error {
	idx, err := m.memoIndex(op)
	if err != nil {
		return err
	}
	m.memoReads++
	if m.memoReads > m.lim.MaxMemoReads {
		return fmt.Errorf("more than %d memo reads (expansion bomb?): %w", m.lim.MaxMemoReads, ErrLimit)
	}
	v, ok := m.memo[idx]
	if !ok {
		return fmt.Errorf("memo value not found at index %d", idx)
	}
	return m.push(v)
}

func (m *machine) memoPut(op byte) error {
	idx, err := m.memoIndex(op)
	if err != nil {
		return err
	}
	if idx < 0 {
		return fmt.Errorf("negative PUT argument")
	}
	t, err := m.top()
	if err != nil {
		return err
	}
	if _, exists := m.memo[idx]; !exists && len(m.memo) >= m.lim.MaxMemo {
		return fmt.Errorf("more than %d memo entries: %w", m.lim.MaxMemo, ErrLimit)
	}
	m.memo[idx] = *t
	return nil
}

func (m *machine) globalOp(off int, op byte) error {
	ml, err := m.readLine()
	if err != nil {
		return err
	}
	nl, err := m.readLine()
	if err != nil {
		return err
	}
	module, err := decodeName(ml)
	if err == nil {
		var name string
		if name, err = decodeName(nl); err == nil {
			return m.globalDone(off, op, module, name)
		}
	}
	m.finding(off, op, scan.High, "pickle/invalid-name", "", "module or name is not valid UTF-8: CPython refuses to load it, other readers may not")
	return err
}

func (m *machine) globalDone(off int, op byte, module, name string) error {
	g := m.globalValue(off, op, module, name)
	if op == opGLOBAL {
		return m.push(g)
	}
	items, err := m.popMark() // INST: the arguments
	if err != nil {
		return err
	}
	return m.push(m.call(off, op, g, m.tuple(off, items)))
}
