package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxLineBytes caps one physical line (up to "\n") of a metadata file; a
// longer one is reported and skipped. Python has no such limit; no real
// transcript comes near it.
const MaxLineBytes = 1 << 20

// PyLine is one line as Python's text-mode file iteration yields it:
// open(path, encoding="utf-8") (newline=None) splits after "\n", "\r\n" and
// a lone "\r", and translates all three to "\n". The same split points serve
// newline="" (the csv module), which keeps the terminators as they are.
type PyLine struct {
	No       int    // 1-based, as Python counts lines
	Physical int    // 1-based number of the "\n"-terminated line it lies in
	Offset   int64  // byte offset of its first byte in the file
	Text     string // decoded, without its terminator
	Term     string // "\n", "\r\n", "\r" or "" (last line without one)
	LoneCR   bool   // a lone "\r" ends this line or one before it in the same physical line: a "\n"-only reader joins them
	BadUTF8  int    // offset in the line of the first byte Python's strict utf-8 decoder rejects, -1 when none
	TooLong  bool   // the physical line exceeded MaxLineBytes; Text is cut there
}

// Raw is the line as newline="" passes it on: text and terminator.
func (l PyLine) Raw() string { return l.Text + l.Term }

// errStop ends a line walk early without an error.
var errStop = errors.New("stop")

// pyLines calls fn for each line of r, in order, in bounded memory.
func pyLines(r io.Reader, fn func(PyLine) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	no, phys := 0, 0
	var acc []byte
	for {
		chunk, err := br.ReadSlice('\n')
		total := int64(len(chunk))
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) {
			acc = append(acc[:0], chunk...)
			for errors.Is(err, bufio.ErrBufferFull) {
				chunk, err = br.ReadSlice('\n')
				total += int64(len(chunk))
				if room := MaxLineBytes - len(acc); len(chunk) > room {
					tooLong, chunk = true, chunk[:room]
				}
				acc = append(acc, chunk...)
			}
			chunk = acc
		}
		if len(chunk) == 0 && err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		phys++
		parts := splitCR(chunk)
		lone := len(parts) > 1
		start := off
		for _, p := range parts {
			no++
			text, term := p, ""
			switch {
			case bytes.HasSuffix(p, []byte("\r\n")):
				text, term = p[:len(p)-2], "\r\n"
			case bytes.HasSuffix(p, []byte("\n")), bytes.HasSuffix(p, []byte("\r")):
				text, term = p[:len(p)-1], string(p[len(p)-1:])
			}
			s, bad := decodePy(text)
			if ferr := fn(PyLine{No: no, Physical: phys, Offset: start, Text: s, Term: term, LoneCR: lone, BadUTF8: bad, TooLong: tooLong}); ferr != nil {
				if ferr == errStop {
					return nil
				}
				return ferr
			}
			start += int64(len(p))
		}
		off += total
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// splitCR splits a "\n"-terminated physical line after every lone "\r".
func splitCR(b []byte) [][]byte {
	var out [][]byte
	for {
		i := bytes.IndexByte(b, '\r')
		// the chunk ends at its first "\n", so "\r\n" can only end it
		if i < 0 || i == len(b)-1 || b[i+1] == '\n' {
			return append(out, b)
		}
		out = append(out, b[:i+1])
		b = b[i+1:]
	}
}

// decodePy decodes b as Python's strict utf-8 codec would, replacing what it
// rejects with U+FFFD; bad is the offset of the first rejected byte or -1.
// Go's decoder rejects exactly what Python's does: overlong forms,
// surrogates and code points above U+10FFFF.
func decodePy(b []byte) (s string, bad int) {
	if utf8.Valid(b) {
		return string(b), -1
	}
	bad = -1
	var sb strings.Builder
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			if bad < 0 {
				bad = i
			}
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[i : i+n])
		}
		i += n
	}
	return sb.String(), bad
}

// splitlinesOnly are the line boundaries of Python's str.splitlines that
// file iteration does not split on: a line holding one is a different
// number of lines to a reader that uses splitlines (or an editor that
// honours Unicode line separators).
var splitlinesOnly = map[rune]string{
	'\v': "\\v (vertical tab)", '\f': "\\f (form feed)", '\x1c': "\\x1c (file separator)",
	'\x1d': "\\x1d (group separator)", '\x1e': "\\x1e (record separator)", '\u0085': "U+0085 (next line)",
	'\u2028': "U+2028 (line separator)", '\u2029': "U+2029 (paragraph separator)",
}
