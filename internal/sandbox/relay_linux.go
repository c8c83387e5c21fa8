//go:build linux && (amd64 || arm64)

package sandbox

import (
	"io"
	"os"

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

// relay wraps w so that the command writes into a pipe that ttsguard copies
// to w, never into w's descriptor itself; when w is a terminal, control
// characters are escaped on the way (see escaper).
func relay(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		return &escaper{w: w}
	}
	return struct{ io.Writer }{w} // not an *os.File: exec.Cmd makes a pipe
}

// escaper passes text and escapes terminal control characters: every C0
// control but tab, line feed and carriage return, DEL, and the C1 controls
// (U+0080..U+009F, in UTF-8 0xC2 0x80..0x9F), which start escape sequences
// that can set a terminal's title and clipboard, answer back into its
// input, or hide text. ESC becomes "^[", other controls "^X" or "\x9b".
type escaper struct {
	w       io.Writer
	pending bool // the last byte written was 0xC2
	buf     []byte
}

func (e *escaper) Write(p []byte) (int, error) {
	out := e.buf[:0]
	for _, c := range p {
		if e.pending {
			e.pending = false
			if c >= 0x80 && c <= 0x9f {
				out = append(out, '\\', 'x', hexDigit(c>>4), hexDigit(c&0xf))
				continue
			}
			out = append(out, 0xc2)
		}
		switch {
		case c == 0xc2:
			e.pending = true
		case c == '\t' || c == '\n' || c == '\r':
			out = append(out, c)
		case c < 0x20:
			out = append(out, '^', c+'@')
		case c == 0x7f:
			out = append(out, '^', '?')
		default:
			out = append(out, c)
		}
	}
	e.buf = out
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func hexDigit(b byte) byte { return "0123456789abcdef"[b&0xf] }
