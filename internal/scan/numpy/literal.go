package numpy

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The .npy header is a Python dict literal that numpy reads with
// ast.literal_eval. This file parses the subset numpy writes, strictly:
//
//	value  = dict | tuple | list | string | int | "True" | "False"
//	dict   = "{" [ value ":" value { "," value ":" value } [","] ] "}"
//	tuple  = "(" ")" | "(" value "," [ value { "," value } [","] ] ")"
//	list   = "[" [ value { "," value } [","] ] "]"
//	paren  = "(" value ")"                      (a parenthesised value, not a tuple)
//	string = ['u'|'U'] ( "'" ... "'" | '"' ... '"' )   (Python escapes)
//	int    = ["-"] ( "0" | [1-9][0-9]* )
//
// Whitespace is space, tab, newline, carriage return and form feed. Anything
// else (floats, None, bytes, implicit concatenation, comments, hex ints)
// is rejected: the caller then reports the file as unscannable, never clean.

// maxLiteralDepth bounds nesting so hostile headers cannot exhaust the stack.
const maxLiteralDepth = 64

// pyDict is a dict literal with its keys in order (duplicates kept).
type pyDict struct {
	keys []any
	vals []any
}

// pyTuple and pyList are tuple and list literals.
type (
	pyTuple []any
	pyList  []any
)

// errLiteral is wrapped by every header syntax error.
var errLiteral = errors.New("header is not a Python literal")

type litParser struct {
	s   string
	pos int
	// longSuffix accepts Python 2 long literals ("3L"), as numpy's
	// _filter_header does for version 1.0 and 2.0 headers.
	longSuffix bool
}

// parseLiteral parses s as exactly one Python literal followed only by
// whitespace. Integers come back as *big.Int, strings as string, booleans as
// bool. longSuffix accepts "3L" for 3.
func parseLiteral(s string, longSuffix bool) (any, error) {
	p := &litParser{s: s, longSuffix: longSuffix}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, p.errorf("unexpected %q after the literal", p.rest())
	}
	return v, nil
}

func (p *litParser) errorf(format string, a ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", errLiteral, p.pos, fmt.Sprintf(format, a...))
}

// rest is a short excerpt of the unparsed input for error messages.
func (p *litParser) rest() string {
	r := p.s[p.pos:]
	if len(r) > 16 {
		r = r[:16]
	}
	return r
}

func (p *litParser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r', '\f':
			p.pos++
		default:
			return
		}
	}
}

func (p *litParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *litParser) value(depth int) (any, error) {
	if depth > maxLiteralDepth {
		return nil, p.errorf("nested deeper than %d", maxLiteralDepth)
	}
	p.space()
	if p.pos >= len(p.s) {
		return nil, p.errorf("unexpected end of header")
	}
	c := p.s[p.pos]
	switch {
	case c == '{':
		return p.dict(depth)
	case c == '(':
		return p.paren(depth)
	case c == '[':
		p.pos++
		items, err := p.items(']', depth)
		return pyList(items), err
	case c == '\'' || c == '"' || ((c == 'u' || c == 'U') && p.pos+1 < len(p.s) && (p.s[p.pos+1] == '\'' || p.s[p.pos+1] == '"')):
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.int()
	case strings.HasPrefix(p.s[p.pos:], "True"):
		return p.keyword("True", true)
	case strings.HasPrefix(p.s[p.pos:], "False"):
		return p.keyword("False", false)
	}
	return nil, p.errorf("unsupported token %q", p.rest())
}

func (p *litParser) keyword(word string, v bool) (any, error) {
	end := p.pos + len(word)
	if end < len(p.s) && isIdentByte(p.s[end]) {
		return nil, p.errorf("unsupported name %q", p.rest())
	}
	p.pos = end
	return v, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func (p *litParser) dict(depth int) (any, error) {
	p.pos++ // '{'
	d := &pyDict{}
	for {
		p.space()
		if p.peek() == '}' {
			p.pos++
			return d, nil
		}
		k, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.space()
		if p.peek() != ':' {
			return nil, p.errorf("want ':' in dict, got %q", p.rest())
		}
		p.pos++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		d.keys, d.vals = append(d.keys, k), append(d.vals, v)
		p.space()
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return d, nil
		default:
			return nil, p.errorf("want ',' or '}' in dict, got %q", p.rest())
		}
	}
}

// paren parses "(" ... ")": the empty tuple, a tuple (it has a comma), or a
// parenthesised value.
func (p *litParser) paren(depth int) (any, error) {
	p.pos++ // '('
	p.space()
	if p.peek() == ')' {
		p.pos++
		return pyTuple{}, nil
	}
	first, err := p.value(depth + 1)
	if err != nil {
		return nil, err
	}
	p.space()
	switch p.peek() {
	case ')':
		p.pos++
		return first, nil
	case ',':
		p.pos++
		rest, err := p.items(')', depth)
		if err != nil {
			return nil, err
		}
		return append(pyTuple{first}, rest...), nil
	}
	return nil, p.errorf("want ',' or ')', got %q", p.rest())
}

// items parses comma-separated values up to the closing byte, allowing one
// trailing comma; the opening byte has been consumed.
func (p *litParser) items(closing byte, depth int) ([]any, error) {
	var out []any
	for {
		p.space()
		if p.peek() == closing {
			p.pos++
			return out, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		switch p.peek() {
		case ',':
			p.pos++
		case closing:
			p.pos++
			return out, nil
		default:
			return nil, p.errorf("want ',' or %q, got %q", closing, p.rest())
		}
	}
}

func (p *litParser) int() (any, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
		p.space() // Python allows "- 3"
	}
	digits := p.pos
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	if p.pos == digits {
		return nil, p.errorf("want digits after '-'")
	}
	num := p.s[digits:p.pos]
	if p.longSuffix && (p.peek() == 'L' || p.peek() == 'l') {
		p.pos++
	}
	if p.pos < len(p.s) && (isIdentByte(p.s[p.pos]) || p.s[p.pos] == '.') {
		return nil, p.errorf("unsupported number %q", p.s[start:min(p.pos+1, len(p.s))])
	}
	if len(num) > 1 && num[0] == '0' && strings.Trim(num, "0") != "" {
		return nil, p.errorf("leading zeros in %q", num)
	}
	if len(num) > 64 {
		return nil, p.errorf("integer too long")
	}
	n, _ := new(big.Int).SetString(num, 10)
	if p.s[start] == '-' {
		n.Neg(n)
	}
	return n, nil
}

// str parses a quoted string with Python's escape rules. Triple quotes and
// raw or byte prefixes are rejected.
func (p *litParser) str() (any, error) {
	if c := p.peek(); c == 'u' || c == 'U' {
		p.pos++
	}
	q := p.s[p.pos]
	if strings.HasPrefix(p.s[p.pos:], strings.Repeat(string(q), 3)) {
		return nil, p.errorf("triple-quoted strings are not supported")
	}
	p.pos++
	var b strings.Builder
	for {
		if p.pos >= len(p.s) {
			return nil, p.errorf("unterminated string")
		}
		c := p.s[p.pos]
		switch {
		case c == q:
			p.pos++
			return b.String(), nil
		case c == '\n' || c == '\r':
			return nil, p.errorf("newline in string")
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		if err := p.escape(&b); err != nil {
			return nil, err
		}
	}
}

// simpleEscapes are Python's one-character escapes (backslash-newline is a
// line continuation).
var simpleEscapes = map[byte]string{'\\': "\\", '\'': "'", '"': "\"", 'n': "\n", 't': "\t", 'r': "\r",
	'a': "\a", 'b': "\b", 'f': "\f", 'v': "\v", '\n': ""}

// escape decodes one backslash escape; unknown escapes keep the backslash,
// as Python does.
func (p *litParser) escape(b *strings.Builder) error {
	p.pos++ // '\'
	if p.pos >= len(p.s) {
		return p.errorf("unterminated string")
	}
	c := p.s[p.pos]
	p.pos++
	if s, ok := simpleEscapes[c]; ok {
		b.WriteString(s)
		return nil
	}
	hexLen := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
	switch {
	case hexLen > 0:
		if p.pos+hexLen > len(p.s) {
			return p.errorf("truncated \\%c escape", c)
		}
		v, err := strconv.ParseUint(p.s[p.pos:p.pos+hexLen], 16, 32)
		if err != nil || v > utf8.MaxRune {
			return p.errorf("bad \\%c escape", c)
		}
		p.pos += hexLen
		b.WriteRune(rune(v))
	case c >= '0' && c <= '7':
		v := int(c - '0')
		for i := 0; i < 2 && p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '7'; i++ {
			v = v*8 + int(p.s[p.pos]-'0')
			p.pos++
		}
		b.WriteRune(rune(v))
	case c == 'N':
		return p.errorf("\\N{...} escapes are not supported")
	default:
		b.WriteByte('\\')
		b.WriteByte(c)
	}
	return nil
}
