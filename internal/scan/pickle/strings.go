package pickle

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

var errBadString = errors.New("bad string literal")

// unquote decodes the argument of the STRING opcode: a Python 2 str repr in
// single or double quotes, with Python's string escapes (codecs.escape_decode).
func unquote(line []byte) (string, error) {
	if len(line) < 2 || line[0] != line[len(line)-1] || (line[0] != '\'' && line[0] != '"') {
		return "", errors.New("the STRING opcode argument must be quoted")
	}
	return escapeDecode(line[1 : len(line)-1])
}

func escapeDecode(s []byte) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errBadString // trailing backslash
		}
		switch c = s[i]; c {
		case '\n':
		case '\\', '\'', '"':
			b.WriteByte(c)
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case 'x':
			if i+2 >= len(s) {
				return "", errBadString
			}
			v, err := strconv.ParseUint(string(s[i+1:i+3]), 16, 8)
			if err != nil {
				return "", errBadString
			}
			b.WriteByte(byte(v))
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i
			for j < len(s) && j < i+3 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(string(s[i:j]), 8, 16)
			b.WriteByte(byte(v))
			i = j - 1
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// rawUnicodeEscape decodes the argument of the UNICODE opcode as CPython's
// raw-unicode-escape codec does: a run of backslashes followed by u or U is an
// escape only when the run is odd (its last backslash starts \uXXXX or
// \UXXXXXXXX, hex digits required, at most U+10FFFF); other bytes are Latin-1.
// Lone surrogates are kept, encoded as UTF-8 encodes other code points.
func rawUnicodeEscape(s []byte) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b.WriteRune(rune(c))
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '\\' {
			j++
		}
		run := j - i
		if run%2 == 0 || j >= len(s) || (s[j] != 'u' && s[j] != 'U') {
			b.WriteString(strings.Repeat("\\", run))
			i = j
			continue
		}
		b.WriteString(strings.Repeat("\\", run-1))
		n := 4
		if s[j] == 'U' {
			n = 8
		}
		j++
		if j+n > len(s) {
			return "", errBadString // truncated \uXXXX escape
		}
		var ch uint32
		for _, h := range s[j : j+n] {
			d := digitValue(h)
			if d >= 16 {
				return "", errBadString
			}
			ch = ch<<4 | uint32(d)
		}
		if ch > utf8.MaxRune {
			return "", errBadString // \Uxxxxxxxx out of range
		}
		if ch >= 0xD800 && ch <= 0xDFFF {
			b.Write([]byte{byte(0xE0 | ch>>12), byte(0x80 | (ch>>6)&0x3F), byte(0x80 | ch&0x3F)})
		} else {
			b.WriteRune(rune(ch))
		}
		i = j + n
	}
	return b.String(), nil
}

// checkUTF8 validates like Python's 'utf-8' with 'surrogatepass' (BINUNICODE):
// invalid UTF-8 is an error; encoded surrogates are accepted.
func checkUTF8(b []byte) error {
	if utf8.Valid(b) {
		return nil
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			// Surrogates U+D800..U+DFFF encoded as ED A0..BF xx.
			if i+2 < len(b) && b[i] == 0xED && b[i+1] >= 0xA0 && b[i+1] <= 0xBF && b[i+2] >= 0x80 && b[i+2] <= 0xBF {
				i += 3
				continue
			}
			return errors.New("invalid UTF-8 in a unicode string")
		}
		i += n
	}
	return nil
}
