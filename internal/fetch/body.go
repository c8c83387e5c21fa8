package fetch

import (
	"bytes"
	"hash"
	"io"
	"mime"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// isHTMLType reports whether a Content-Type names an HTML document.
func isHTMLType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(ct))
		return strings.HasPrefix(mt, "text/html") || strings.HasPrefix(mt, "application/xhtml+xml")
	}
	return mt == "text/html" || mt == "application/xhtml+xml"
}

// htmlPrefixes are the starts of an HTML document, lower case.
var htmlPrefixes = [...]string{"<!doctype html", "<html"}

// htmlSniff decides, over a stream fed in pieces of any size, whether the
// stream starts (after whitespace and a byte order mark) with one of
// htmlPrefixes, case-insensitively. It looks at no more bytes than needed.
type htmlSniff struct {
	buf  [14]byte // len(htmlPrefixes[0])
	n    int
	done bool
}

// feed returns true once the stream is known to be HTML.
func (s *htmlSniff) feed(p []byte) bool {
	for _, b := range p {
		if s.done {
			return false
		}
		if s.n == 0 && isLeadingSpace(b) {
			continue
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		s.buf[s.n] = b
		s.n++
		cur := string(s.buf[:s.n])
		live := false
		for _, pre := range htmlPrefixes {
			if cur == pre {
				s.done = true
				return true
			}
			if strings.HasPrefix(pre, cur) {
				live = true
			}
		}
		if !live {
			s.done = true
		}
	}
	return false
}

// isLeadingSpace: HTML whitespace and the bytes of a UTF-8 byte order mark.
func isLeadingSpace(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\r', '\f', '\v', 0xef, 0xbb, 0xbf:
		return true
	}
	return false
}

// meter throttles Progress reports.
type meter struct {
	fn       func(Progress)
	url      string
	now      func() time.Time
	start    time.Time
	last     time.Time
	received int64 // bytes received by this Get, including any discarded by a restart
}

func (m *meter) report(done, total int64, final bool) {
	if m.fn == nil {
		return
	}
	t := m.now()
	if !final && t.Sub(m.last) < progressEvery {
		return
	}
	m.last = t
	p := Progress{URL: m.url, Done: done, Total: total}
	if el := t.Sub(m.start).Seconds(); el > 0 {
		p.Rate = float64(m.received) / el
	}
	if total >= 0 && p.Rate > 0 && total > done {
		p.ETA = time.Duration(float64(total-done) / p.Rate * float64(time.Second))
	}
	m.fn(p)
}

// Buffers of the body pipeline.
const (
	sinkBuffers = 4
	fillSize    = copyBufSize / 2       // a buffer is handed on once this full,
	fillWait    = 50 * time.Millisecond // or once this old
)

// sink writes and hashes chunks on its own goroutine, so that hashing
// overlaps with receiving and decrypting. Chunks are written and hashed in
// the order sent; after a write error the rest are dropped.
type sink struct {
	full   chan []byte
	free   chan []byte
	done   chan struct{}
	failed atomic.Bool
	n      int64 // bytes written and hashed; read after done
	err    error // first write error; read after done
}

func startSink(w io.Writer, h hash.Hash) *sink {
	s := &sink{full: make(chan []byte, sinkBuffers), free: make(chan []byte, sinkBuffers), done: make(chan struct{})}
	for range sinkBuffers {
		s.free <- make([]byte, copyBufSize)
	}
	f, _ := w.(*os.File)
	go func() {
		defer close(s.done)
		var unsynced int64
		first := true
		for b := range s.full {
			if first && len(b) > 0 {
				// An archive is extracted and deleted: writing it back would
				// only double the disk writes. Other files are kept, and an
				// early start makes the store's fsync at commit cheap.
				first = false
				if bytes.HasPrefix(b, []byte("PK")) || bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
					f = nil
				}
			}
			if s.err == nil {
				if _, err := w.Write(b); err != nil {
					s.err = err
					s.failed.Store(true)
				} else {
					h.Write(b)
					s.n += int64(len(b))
					if unsynced += int64(len(b)); f != nil && unsynced >= writebackStep {
						startWriteback(f, 0, 0) // dirty pages from the start to the end
						unsynced = 0
					}
				}
			}
			s.free <- b[:cap(b)]
		}
	}()
	return s
}

func (s *sink) buffer() []byte   { return <-s.free }
func (s *sink) release(b []byte) { s.free <- b[:cap(b)] }
func (s *sink) send(b []byte)    { s.full <- b }
func (s *sink) close() (int64, error) {
	close(s.full)
	<-s.done
	return s.n, s.err
}
