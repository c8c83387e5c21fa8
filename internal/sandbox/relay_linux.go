//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// commandInput is what the command reads: never a terminal (a process that
// holds the operator's terminal can read what the operator types, even
// without it being its controlling terminal), so a terminal becomes nil
// (/dev/null).
func commandInput(r io.Reader) io.Reader {
	if f, ok := r.(*os.File); ok && isTerminal(f) {
		return nil
	}
	return r
}

// relays returns what the command's standard output and error write into:
// pipes that ttsguard copies to stdout and stderr, never their descriptors
// themselves. When a destination is a terminal, control characters are
// escaped on the way (see escaper); when both are the same terminal they
// share one escaper (and so one pipe: exec.Cmd gives equal writers one),
// so that one stream cannot complete the other's escape sequence.
func relays(stdout, stderr io.Writer) (io.Writer, io.Writer) {
	wrap := func(w io.Writer) io.Writer {
		if w == nil {
			return nil
		}
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			return &escaper{w: w}
		}
		return struct{ io.Writer }{w} // not an *os.File: exec.Cmd makes a pipe
	}
	o := wrap(stdout)
	if sameTerminal(stdout, stderr) {
		return o, o
	}
	return o, wrap(stderr)
}

// sameTerminal reports whether a and b are the same terminal device.
func sameTerminal(a, b io.Writer) bool {
	fa, ok1 := a.(*os.File)
	fb, ok2 := b.(*os.File)
	if !ok1 || !ok2 || !isTerminal(fa) || !isTerminal(fb) {
		return false
	}
	sa, err1 := fa.Stat()
	sb, err2 := fb.Stat()
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// escaper passes text and escapes what a terminal would act on: every C0
// control but tab, line feed and carriage return, DEL, the C1 controls
// (U+0080..U+009F), the bidirectional controls (U+202A..U+202E,
// U+2066..U+2069, U+200E, U+200F, U+061C: they reorder what the operator
// reads), and every byte that is not part of valid UTF-8 (a lone 0x9B is a
// control sequence introducer to an 8-bit terminal). Escape sequences can
// set a terminal's title and clipboard, make it answer into its input, or
// hide text. ESC becomes "^[", other C0 controls "^X", DEL "^?", the rest
// "\u009b" or "\x9b". An incomplete UTF-8 sequence at the end of a write
// is held until the next one (escaped by Close if none completes it).
// Writes are serialized.
type escaper struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte // the start of a UTF-8 sequence cut by the last write
	buf     []byte
}

func (e *escaper) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	in := append(e.pending, p...)
	e.pending = nil
	out := e.buf[:0]
	for len(in) > 0 {
		c := in[0]
		if c < utf8.RuneSelf {
			switch {
			case c == '\t' || c == '\n' || c == '\r':
				out = append(out, c)
			case c < 0x20:
				out = append(out, '^', c+'@')
			case c == 0x7f:
				out = append(out, '^', '?')
			default:
				out = append(out, c)
			}
			in = in[1:]
			continue
		}
		r, n := utf8.DecodeRune(in)
		if r == utf8.RuneError && n <= 1 {
			if !utf8.FullRune(in) {
				e.pending = append([]byte(nil), in...) // wait for the rest
				break
			}
			out = append(out, '\\', 'x', hexDigit(c>>4), hexDigit(c&0xf))
			in = in[1:]
			continue
		}
		if (r >= 0x80 && r <= 0x9f) || unsafeFormat(r) {
			out = fmt.Appendf(out, "\\u%04x", r)
		} else {
			out = append(out, in[:n]...)
		}
		in = in[n:]
	}
	e.buf = out
	if len(out) > 0 {
		if _, err := e.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Close writes what is held, escaped.
func (e *escaper) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []byte
	for _, c := range e.pending {
		out = append(out, '\\', 'x', hexDigit(c>>4), hexDigit(c&0xf))
	}
	e.pending = nil
	if len(out) == 0 {
		return nil
	}
	_, err := e.w.Write(out)
	return err
}

// unsafeFormat reports the bidirectional controls.
func unsafeFormat(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b&0xf] }
