package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const userAgent = "ttsguard-fetch/1"

// Download is the evidence of one completed download.
type Download struct {
	URL      string // as requested
	FinalURL string // after redirects, of the last request made
	// CertSHA256 is the hex SHA-256 of the DER leaf certificate the server of
	// the last request presented ("" for plain http, which only a URLChecker
	// may allow, e.g. for loopback).
	CertSHA256  string
	Size        int64
	SHA256      string // hex SHA-256 of the whole file
	Path        string // the file: private (0600), inside the folder given to Get
	ContentType string // of the last response
	Resumed     int    // further requests made after a cut transfer
}

// Get downloads rawURL into a new private file inside dir and returns its
// evidence. The file belongs to the caller, who renames or removes it.
//
// The URL is checked before the first request, before every resume, and
// after every redirect. A response is accepted only with status 200, or 206
// with a Content-Range starting exactly at the requested offset and ending at
// the declared total when resuming; a 200 to a Range request restarts the
// file from zero. HTML pages, encoded bodies, sizes above MaxBytes and bodies
// shorter than their declared length are refused (the last one after
// Options.Retries resumes, each sent with If-Range set to the strong ETag or
// the Last-Modified date of the first response when there was one).
//
// Hashing: every byte is hashed exactly once, in file order, as it is
// written; a resume continues the same hash, a restart resets it. SHA256
// therefore always covers the whole file, which is fsynced (unless NoSync) before Get
// returns. On any error the file is removed and nothing is left in dir.
func (c *Client) Get(ctx context.Context, rawURL, dir string) (*Download, error) {
	return c.GetAtMost(ctx, rawURL, dir, c.maxBytes)
}

// GetAtMost is Get with a lower cap than Options.MaxBytes for this one
// download: a file whose size a listing announced (a Hub repository's)
// is cut off, ErrTooLarge, one byte after it instead of after MaxBytes.
func (c *Client) GetAtMost(ctx context.Context, rawURL, dir string, maxBytes int64) (_ *Download, err error) {
	if maxBytes < 0 || maxBytes > c.maxBytes {
		maxBytes = c.maxBytes
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // it names rawURL too
			err = ue.Err
		}
		return nil, fmt.Errorf("fetch: get %q: %w", rawURL, err)
	}
	if err := c.checkURL(u); err != nil {
		return nil, getError(u, err)
	}
	f, err := os.CreateTemp(dir, "download-*.part")
	if err != nil {
		return nil, getError(u, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	d := &download{c: c, u: u, f: f, h: sha256.New(), total: -1, max: maxBytes,
		meter: meter{fn: c.progress, url: rawURL, now: c.now, start: c.now()}}
	for attempt := 0; ; attempt++ {
		err := d.attempt(ctx)
		if err == nil {
			break
		}
		var r *resumable
		if !errors.As(err, &r) || ctx.Err() != nil {
			return nil, getError(u, err)
		}
		if attempt >= c.retries {
			return nil, getError(u, fmt.Errorf("%w (after %d resumes)", r.err, attempt))
		}
		t := time.NewTimer(c.retryWait(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, getError(u, ctx.Err())
		case <-t.C:
		}
		d.resumed++
	}
	if !c.noSync {
		if err := f.Sync(); err != nil {
			return nil, getError(u, err)
		}
	}
	if err := f.Close(); err != nil {
		return nil, getError(u, err)
	}
	d.meter.report(d.off, d.total, true)
	return &Download{
		URL: rawURL, FinalURL: d.final, CertSHA256: d.cert, Size: d.off,
		SHA256: hex.EncodeToString(d.h.Sum(nil)), Path: f.Name(),
		ContentType: d.ctype, Resumed: d.resumed,
	}, nil
}

// getError is an error of Get: it names the requested URL once, here,
// unless err names it already (a URLChecker's refusal, a StatusError).
// Errors from inside Get name another URL only where a redirect led to it.
func getError(u *url.URL, err error) error {
	if mentions(err, u.Redacted()) {
		return fmt.Errorf("fetch: %w", err)
	}
	return fmt.Errorf("fetch: get %q: %w", u.Redacted(), err)
}

// mentions reports whether err's message names the URL as %q writes it.
func mentions(err error, shown string) bool {
	return strings.Contains(err.Error(), strconv.Quote(shown))
}

// download is the state of one Get across attempts.
type download struct {
	c     *Client
	u     *url.URL
	f     *os.File
	h     hash.Hash
	off   int64 // bytes written and hashed
	total int64 // expected size, -1 unknown
	max   int64 // the most bytes accepted
	// validator for If-Range, from the response that started the file
	etag, lastMod string
	sniff         htmlSniff
	final, cert   string
	at            string // "" or " (redirected to URL)": where final is not u (for errors)
	ctype         string
	resumed       int
	responded     bool // some attempt got a response: later request errors may be retried
	meter         meter
}

// resumable marks an attempt's error after which a new attempt may resume.
type resumable struct{ err error }

func (r *resumable) Error() string { return r.err.Error() }
func (r *resumable) Unwrap() error { return r.err }

// attempt makes one request and copies its body.
func (d *download) attempt(ctx context.Context) error {
	if err := d.c.checkURL(d.u); err != nil {
		return err
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(actx, http.MethodGet, d.u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept-Encoding", "identity")
	ranged := d.off > 0
	if ranged {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(d.off, 10)+"-")
		if d.etag != "" {
			req.Header.Set("If-Range", d.etag)
		} else if d.lastMod != "" {
			req.Header.Set("If-Range", d.lastMod)
		}
	}
	// The idle timer covers the wait for headers and every read of the body;
	// until a connection is ready the connect timeouts apply instead.
	idle := time.AfterFunc(2*d.c.connect+d.c.idle, func() { cancel(ErrIdleTimeout) })
	defer idle.Stop()
	req = req.WithContext(httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		GotConn:      func(httptrace.GotConnInfo) { idle.Reset(d.c.idle) },
		WroteRequest: func(httptrace.WroteRequestInfo) { idle.Reset(d.c.idle) },
	}))
	resp, err := d.c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		var re *redirectError
		if errors.As(err, &ue) {
			// Say the URL only where a redirect led to it: Get names u, and a
			// refused redirect names its target.
			err = ue.Err
			if ue.URL != d.u.String() && !errors.As(err, &re) {
				err = fmt.Errorf("redirected to %q: %w", ue.URL, err)
			}
		}
		if ctx.Err() == nil && errors.Is(context.Cause(actx), ErrIdleTimeout) {
			err = fmt.Errorf("%w: no response for %s: %w", ErrIdleTimeout, d.c.idle, err)
		}
		if d.responded && ctx.Err() == nil && transient(err) {
			return &resumable{err}
		}
		return err
	}
	defer resp.Body.Close()
	if ctx.Err() == nil && errors.Is(context.Cause(actx), ErrIdleTimeout) {
		// The transport can hand over a response that raced with the idle
		// timer's cancellation (e.g. one the server sent because it saw the
		// connection close): the attempt had already failed.
		return fmt.Errorf("%w: no response for %s", ErrIdleTimeout, d.c.idle)
	}
	d.responded = true
	idle.Reset(d.c.idle)
	if err := d.accept(resp, ranged); err != nil {
		return err
	}
	return d.copy(ctx, actx, resp.Body, idle)
}

// transient reports whether a request error is a network failure worth
// another try. TLS verification and policy errors are never transient.
func transient(err error) bool {
	if errors.Is(err, ErrNotAllowed) {
		return false
	}
	var ne net.Error
	return errors.Is(err, ErrIdleTimeout) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || (errors.As(err, &ne) && ne.Timeout())
}

// accept checks a response before its body is read.
func (d *download) accept(resp *http.Response, ranged bool) error {
	final := resp.Request.URL
	at := ""
	if final.Redacted() != d.u.Redacted() {
		at = fmt.Sprintf(" (redirected to %q)", final.Redacted())
	}
	cert := ""
	if final.Scheme == "https" {
		if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
			return fmt.Errorf("%w: no TLS connection state%s", ErrBadResponse, at)
		}
		sum := sha256.Sum256(resp.TLS.PeerCertificates[0].Raw)
		cert = hex.EncodeToString(sum[:])
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if d.off > 0 { // the server ignored Range or If-Range failed: start over
			if err := d.restart(); err != nil {
				return err
			}
		}
		d.total = resp.ContentLength
		d.etag, d.lastMod = "", resp.Header.Get("Last-Modified")
		if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
			d.etag = et
		}
	case http.StatusPartialContent:
		if !ranged {
			return fmt.Errorf("%w: 206 to a request without Range%s", ErrBadResponse, at)
		}
		cr := resp.Header.Get("Content-Range")
		start, end, size, ok := parseContentRange(cr)
		if !ok || start != d.off || end != size-1 || (resp.ContentLength >= 0 && resp.ContentLength != size-start) {
			return fmt.Errorf("%w: Content-Range %q does not continue at byte %d%s", ErrBadResponse, cr, d.off, at)
		}
		if d.total >= 0 && size != d.total {
			return fmt.Errorf("%w: size changed from %d to %d%s", ErrBadResponse, d.total, size, at)
		}
		if et := resp.Header.Get("ETag"); d.etag != "" && et != "" && et != d.etag {
			return fmt.Errorf("%w: ETag changed from %q to %q%s", ErrBadResponse, d.etag, et, at)
		}
		d.total = size
	default:
		return &StatusError{URL: final.Redacted(), Code: resp.StatusCode, Status: resp.Status}
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return fmt.Errorf("%w: Content-Encoding %q%s", ErrBadResponse, ce, at)
	}
	ct := resp.Header.Get("Content-Type")
	if isHTMLType(ct) {
		return fmt.Errorf("%w: Content-Type %q%s", ErrHTML, ct, at)
	}
	if d.total > d.max {
		return fmt.Errorf("%w: %d bytes declared, the limit is %d%s", ErrTooLarge, d.total, d.max, at)
	}
	d.final, d.cert, d.ctype, d.at = final.String(), cert, ct, at
	return nil
}

// restart empties the file and the hash.
func (d *download) restart() error {
	if err := d.f.Truncate(0); err != nil {
		return err
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	d.h.Reset()
	d.off, d.total, d.sniff = 0, -1, htmlSniff{}
	return nil
}

// copy streams the body into the file and the hash. ctx is the caller's,
// actx the attempt's (cancelled with ErrIdleTimeout by the idle timer).
// Whatever arrived before an error is kept (TLS authenticated it): d.off
// always counts the bytes in the file, which are the bytes hashed.
func (d *download) copy(ctx, actx context.Context, body io.Reader, idle *time.Timer) error {
	s := startSink(d.f, d.h)
	// Never read more than one byte past the limit.
	err := d.pump(ctx, actx, io.LimitReader(body, d.max-d.off+1), idle, s)
	n, werr := s.close()
	d.off += n
	if werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if d.total >= 0 && d.off != d.total {
		return &resumable{fmt.Errorf("%w: ended at byte %d of %d%s", ErrTruncated, d.off, d.total, d.at)}
	}
	return nil
}

// pump reads the body into sink buffers, each handed on once it holds
// fillSize bytes or once fillWait has passed since its first read.
func (d *download) pump(ctx, actx context.Context, body io.Reader, idle *time.Timer, s *sink) error {
	pos := d.off
	for !s.failed.Load() {
		buf := s.buffer()
		n, start := 0, time.Now()
		var rerr error
		for n < fillSize && rerr == nil && (n == 0 || time.Since(start) < fillWait) {
			var m int
			m, rerr = body.Read(buf[n:])
			if m > 0 {
				idle.Reset(d.c.idle)
				n += m
			}
		}
		if n > 0 {
			if pos+int64(n) > d.max {
				s.release(buf)
				return fmt.Errorf("%w: more than %d bytes%s", ErrTooLarge, d.max, d.at)
			}
			if d.sniff.feed(buf[:n]) {
				s.release(buf)
				return fmt.Errorf("%w: the body starts as HTML%s", ErrHTML, d.at)
			}
			s.send(buf[:n])
			pos += int64(n)
			d.meter.received += int64(n)
			d.meter.report(pos, d.total, false)
		} else {
			s.release(buf)
		}
		switch {
		case rerr == io.EOF && pos != d.total && ctx.Err() == nil && errors.Is(context.Cause(actx), ErrIdleTimeout):
			// An end of body that raced with the idle timer's cancellation
			// is not trusted to be the end (unless the declared length is
			// all there): a new attempt resumes from here.
			return &resumable{fmt.Errorf("%w: nothing received for %s (at byte %d)%s", ErrIdleTimeout, d.c.idle, pos, d.at)}
		case rerr == io.EOF:
			return nil
		case rerr == nil:
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(context.Cause(actx), ErrIdleTimeout):
			return &resumable{fmt.Errorf("%w: nothing received for %s (at byte %d)%s", ErrIdleTimeout, d.c.idle, pos, d.at)}
		default:
			return &resumable{fmt.Errorf("%w: at byte %d of %d%s: %w", ErrTruncated, pos, d.total, d.at, rerr)}
		}
	}
	return nil // the sink's error is reported by close
}

// parseContentRange parses "bytes START-END/SIZE" (a known size only).
func parseContentRange(s string) (start, end, size int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, sz, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	size, err3 = strconv.ParseInt(sz, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end < start || size <= end {
		return 0, 0, 0, false
	}
	return start, end, size, true
}
