package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Location says where a file's bytes are.
type Location struct {
	File File
	// URL is where to GET the bytes: the resolve URL, a same-origin URL it
	// redirects to (the resolve cache), or the first URL on another host (a
	// signed CDN URL, whose query is a credential: show it redacted).
	URL string
	// Authorized: URL is on the endpoint's origin and the Client has a
	// token, so the bytes must be fetched with Client.Download; otherwise
	// any downloader that checks the policy on every redirect will do.
	Authorized bool
	Commit     string // X-Repo-Commit, "" when absent
	ETag       string // X-Linked-Etag, else ETag, without W/ and quotes; "" when absent
	Size       int64  // X-Linked-Size, -1 when absent
}

// Locate asks where a file of a commit is: HEAD on its resolve URL with the
// token, following redirects on the endpoint's origin and stopping at the
// first one to another host, as huggingface_hub's get_hf_file_metadata does.
// The first answer's X-Repo-Commit must be commit; its X-Linked-Etag (or
// ETag) must be the file's LFS SHA-256, or its git blob id for a file
// outside LFS; its X-Linked-Size the file's size. A difference wraps
// ErrMismatch.
func (c *Client) Locate(ctx context.Context, repo, commit string, f File) (*Location, error) {
	what := fmt.Sprintf("repository %q commit %s file %q", repo, commit, f.Path)
	u, err := url.Parse(c.ResolveURL(repo, commit, f.Path))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, chain, at, err := c.follow(ctx, http.MethodHead, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	drain(resp)
	if isRedirect(resp.StatusCode) {
		chain = append(chain, resp)
	} else if err := c.statusError(resp, at, what); err != nil {
		return nil, err
	}
	first := resp
	if len(chain) > 0 {
		first = chain[0]
	}
	loc := &Location{File: f, URL: at.String(), Commit: first.Header.Get("X-Repo-Commit"), Size: -1,
		ETag: normalizeETag(first.Header.Get("X-Linked-Etag"))}
	if loc.ETag == "" {
		loc.ETag = normalizeETag(first.Header.Get("ETag"))
	}
	if s := first.Header.Get("X-Linked-Size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s: X-Linked-Size %q", ErrBadResponse, what, clip(s))
		}
		loc.Size = n
	}
	if isRedirect(resp.StatusCode) {
		next, _ := at.Parse(resp.Header.Get("Location"))
		loc.URL = next.String()
	} else {
		loc.Authorized = c.token.IsSet()
	}
	// The etag is the LFS SHA-256 (X-Linked-Etag) or, for a file outside
	// LFS, the git blob id; a plain ETag of an LFS file may be its pointer's.
	want, alt := f.BlobID, f.BlobID
	if f.LFS != nil {
		want = f.LFS.SHA256
		if first.Header.Get("X-Linked-Etag") != "" {
			alt = want
		}
	}
	switch {
	case loc.Commit != "" && loc.Commit != commit:
		return nil, fmt.Errorf("%w: %s: the Hub answers for commit %q", ErrMismatch, what, clip(loc.Commit))
	case loc.ETag != "" && loc.ETag != want && loc.ETag != alt:
		return nil, fmt.Errorf("%w: %s: the Hub's etag %q is not the listed %s", ErrMismatch, what, clip(loc.ETag), want)
	case loc.Size >= 0 && loc.Size != f.Size:
		return nil, fmt.Errorf("%w: %s: the Hub says %d bytes, the listing %d", ErrMismatch, what, loc.Size, f.Size)
	}
	return loc, nil
}

// normalizeETag drops a weak marker and quotes, as huggingface_hub does.
func normalizeETag(s string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(s), "W/"), `"`)
}

// Download is the evidence of a file fetched by Client.Download.
type Download struct {
	URL        string // as requested
	CertSHA256 string // hex SHA-256 of the server's leaf certificate ("" over http)
	SHA256     string // hex SHA-256 of the bytes
	Size       int64
	Path       string // a private file inside the folder given to Download
}

// idleTimeout bounds the wait for every next byte of a download.
const idleTimeout = 60 * time.Second

// Download fetches an Authorized location with the token into a new private
// file in dir: GET with no redirect followed, status 200, no content
// encoding, never more than the listed size; then Verify. On any error the
// file is removed.
func (c *Client) Download(ctx context.Context, loc *Location, dir string) (_ *Download, err error) {
	u, err := url.Parse(loc.URL)
	if err != nil || !loc.Authorized || !c.sameOrigin(u) {
		return nil, fmt.Errorf("hub: download %q: not an authorized location on the endpoint", loc.File.Path)
	}
	what := fmt.Sprintf("file %q", loc.File.Path)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(idleTimeout, func() { cancel(fmt.Errorf("no data for %s", idleTimeout)) })
	defer idle.Stop()
	resp, err := c.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if isRedirect(resp.StatusCode) {
		return nil, fmt.Errorf("%w: %s: %q redirects again", ErrBadResponse, what, redacted(u))
	}
	if err := c.statusError(resp, u, what); err != nil {
		return nil, err
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return nil, fmt.Errorf("%w: %s: Content-Encoding %q", ErrBadResponse, what, clip(ce))
	}
	if resp.ContentLength >= 0 && resp.ContentLength != loc.File.Size {
		return nil, fmt.Errorf("%w: %s: %d bytes announced, %d listed", ErrMismatch, what, resp.ContentLength, loc.File.Size)
	}
	f, err := os.CreateTemp(dir, "hub-*.part")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	sum := sha256.New()
	body := &idleReader{r: resp.Body, t: idle}
	n, err := io.Copy(io.MultiWriter(f, sum), io.LimitReader(body, loc.File.Size+1))
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		return nil, fmt.Errorf("hub: %s: %w", what, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	d := &Download{URL: loc.URL, SHA256: hex.EncodeToString(sum.Sum(nil)), Size: n, Path: f.Name()}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		cs := sha256.Sum256(resp.TLS.PeerCertificates[0].Raw)
		d.CertSHA256 = hex.EncodeToString(cs[:])
	}
	if err := Verify(loc.File, d.Path, d.SHA256, d.Size); err != nil {
		return nil, err
	}
	return d, nil
}

type idleReader struct {
	r io.Reader
	t *time.Timer
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.t.Reset(idleTimeout)
	return n, err
}

// Verify checks a downloaded file against its listing: the size, then the
// LFS SHA-256 (sha256Hex, computed while it was written) or, for a file
// outside LFS, its git blob id (SHA-1 of "blob <size>\x00" and the bytes of
// the file at path). A difference wraps ErrMismatch.
func Verify(f File, path, sha256Hex string, size int64) error {
	what := fmt.Sprintf("file %q", f.Path)
	if size != f.Size {
		return fmt.Errorf("%w: %s: %d bytes, the listing says %d", ErrMismatch, what, size, f.Size)
	}
	if f.LFS != nil {
		if sha256Hex != f.LFS.SHA256 {
			return fmt.Errorf("%w: %s: sha256 %s, the listing says %s", ErrMismatch, what, sha256Hex, f.LFS.SHA256)
		}
		return nil
	}
	got, err := gitBlobID(path, size)
	if err != nil {
		return fmt.Errorf("hub: %s: %w", what, err)
	}
	if got != f.BlobID {
		return fmt.Errorf("%w: %s: git blob id %s, the listing says %s", ErrMismatch, what, got, f.BlobID)
	}
	return nil
}

// gitBlobID hashes a file as git does; the file must hold exactly size bytes.
func gitBlobID(path string, size int64) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	var h hash.Hash = sha1.New()
	fmt.Fprintf(h, "blob %d\x00", size)
	n, err := io.Copy(h, io.LimitReader(fh, size+1))
	if err != nil {
		return "", err
	}
	if n != size {
		return "", fmt.Errorf("%d bytes on disk, want %d", n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
