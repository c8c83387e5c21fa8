package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// errJSON is wrapped by every JSON syntax error.
var errJSON = errors.New("not JSON")

// maxDepth is the deepest nesting accepted; CPython's json module fails
// near its recursion limit of 1000 anyway.
const maxDepth = 1000

// jsonParser reads JSON as Python's json.loads does (NaN, Infinity and
// -Infinity accepted, control characters in strings refused, duplicate keys
// kept), optionally treating // and /* */ comments between tokens as
// whitespace. Comments are only recognised where whitespace may be, so a
// "//" inside a string (a URL) is never taken for one.
type jsonParser struct {
	s        string
	pos      int
	comments bool
}

// parseJSON parses s as exactly one JSON value.
func parseJSON(s string, comments bool) (*node, error) {
	p := &jsonParser{s: s, comments: comments}
	if err := p.space(); err != nil {
		return nil, err
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.space(); err != nil {
		return nil, err
	}
	if p.pos != len(p.s) {
		return nil, p.errorf("extra data after the value")
	}
	return n, nil
}

// coquiFallback is the text coqui's read_json_with_comments parses when
// json.load fails: backslash-newline removed, then every "//" to the end of
// its line removed, inside strings or not (TTS/config/__init__.py).
func coquiFallback(s string) string {
	s = strings.ReplaceAll(s, "\\\n", "")
	return coquiComment.ReplaceAllString(s, "\n")
}

var coquiComment = regexp.MustCompile(`//.*\n`)

func (p *jsonParser) errorf(format string, a ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", errJSON, p.pos, fmt.Sprintf(format, a...))
}

// space skips whitespace, and comments when enabled.
func (p *jsonParser) space() error {
	for p.pos < len(p.s) {
		switch c := p.s[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case p.comments && strings.HasPrefix(p.s[p.pos:], "//"):
			end := strings.IndexByte(p.s[p.pos:], '\n')
			if end < 0 {
				p.pos = len(p.s)
			} else {
				p.pos += end + 1
			}
		case p.comments && strings.HasPrefix(p.s[p.pos:], "/*"):
			end := strings.Index(p.s[p.pos+2:], "*/")
			if end < 0 {
				return p.errorf("unterminated comment")
			}
			p.pos += 2 + end + 2
		default:
			return nil
		}
	}
	return nil
}

func (p *jsonParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errorf("nested deeper than %d", maxDepth)
	}
	if p.pos >= len(p.s) {
		return nil, p.errorf("unexpected end of input")
	}
	start := int64(p.pos)
	switch c := p.s[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		return &node{str: s, isStr: true, offset: start, end: int64(p.pos)}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	for _, lit := range []string{"true", "false", "null", "NaN", "Infinity", "-Infinity"} {
		if strings.HasPrefix(p.s[p.pos:], lit) {
			p.pos += len(lit)
			return &node{str: lit, offset: start}, nil
		}
	}
	return nil, p.errorf("unexpected character %q", p.s[p.pos])
}

func (p *jsonParser) object(depth int) (*node, error) {
	n := &node{kind: mapping, offset: int64(p.pos)}
	p.pos++ // '{'
	for first := true; ; first = false {
		if err := p.space(); err != nil {
			return nil, err
		}
		if first && p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return n, nil
		}
		if p.pos >= len(p.s) || p.s[p.pos] != '"' {
			return nil, p.errorf("want a string key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ':' {
			return nil, p.errorf("want ':'")
		}
		p.pos++
		if err := p.space(); err != nil {
			return nil, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.keys, n.vals = append(n.keys, k), append(n.vals, v)
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return n, nil
		}
		return nil, p.errorf("want ',' or '}'")
	}
}

func (p *jsonParser) array(depth int) (*node, error) {
	n := &node{kind: sequence, offset: int64(p.pos)}
	p.pos++ // '['
	for first := true; ; first = false {
		if err := p.space(); err != nil {
			return nil, err
		}
		if first && p.pos < len(p.s) && p.s[p.pos] == ']' {
			p.pos++
			return n, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.vals = append(n.vals, v)
		if err := p.space(); err != nil {
			return nil, err
		}
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.pos < len(p.s) && p.s[p.pos] == ']' {
			p.pos++
			return n, nil
		}
		return nil, p.errorf("want ',' or ']'")
	}
}

var numberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`)

func (p *jsonParser) number() (*node, error) {
	if strings.HasPrefix(p.s[p.pos:], "-Infinity") {
		p.pos += len("-Infinity")
		return &node{str: "-Infinity", offset: int64(p.pos - 9)}, nil
	}
	m := numberRE.FindString(p.s[p.pos:])
	if m == "" || m == "-" {
		return nil, p.errorf("bad number")
	}
	n := &node{str: m, offset: int64(p.pos)}
	p.pos += len(m)
	return n, nil
}

var jsonEscapes = map[byte]string{'"': "\"", '\\': "\\", '/': "/", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t"}

// str reads a string token, decoding escapes; lone surrogates become U+FFFD.
func (p *jsonParser) str() (string, error) {
	p.pos++ // '"'
	var b strings.Builder
	for {
		if p.pos >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		if p.pos+1 >= len(p.s) {
			return "", p.errorf("unterminated string")
		}
		e := p.s[p.pos+1]
		p.pos += 2
		if s, ok := jsonEscapes[e]; ok {
			b.WriteString(s)
			continue
		}
		if e != 'u' {
			return "", p.errorf("bad escape \\%c", e)
		}
		r, err := p.hex4()
		if err != nil {
			return "", err
		}
		if utf16.IsSurrogate(r) && strings.HasPrefix(p.s[p.pos:], "\\u") {
			save := p.pos
			p.pos += 2
			if r2, err := p.hex4(); err == nil && utf16.DecodeRune(r, r2) != utf8.RuneError {
				r = utf16.DecodeRune(r, r2)
			} else {
				p.pos = save
			}
		}
		b.WriteRune(r) // a lone surrogate is written as U+FFFD
	}
}

func (p *jsonParser) hex4() (rune, error) {
	if p.pos+4 > len(p.s) {
		return 0, p.errorf("truncated \\u escape")
	}
	v, err := strconv.ParseUint(p.s[p.pos:p.pos+4], 16, 32)
	if err != nil {
		return 0, p.errorf("bad \\u escape")
	}
	p.pos += 4
	return rune(v), nil
}
