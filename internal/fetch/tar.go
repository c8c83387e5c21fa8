package fetch

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// tarArchive reads a tar or tar.gz twice: scan reads every header (and, for
// tar.gz, decompresses everything, bounded by the ratio limit) before
// anything is written; extract reads it again and refuses any header that
// differs from the scanned one.
type tarArchive struct {
	f    *os.File
	size int64
	lim  Limits
	gz   bool
}

// errInflated: the decompressed stream exceeds the ratio limit.
var errInflated = errors.New("decompressed stream too large")

// capReader fails once more than max bytes were read.
type capReader struct {
	r        io.Reader
	n, max   int64
	exceeded bool
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.exceeded = true
		return 0, errInflated
	}
	return n, err
}

// open starts reading the archive from its first byte.
func (t *tarArchive) open(ctx context.Context) (*tar.Reader, *capReader, error) {
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	var r io.Reader = bufio.NewReaderSize(t.f, 256<<10)
	cr := &capReader{r: r, max: 1<<63 - 1}
	if t.gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %w", ErrNotArchive, err)
		}
		cr = &capReader{r: zr, max: t.lim.ratioCap(t.size)}
	}
	return tar.NewReader(&ctxReader{ctx: ctx, r: cr}), cr, nil
}

// next reads one header and names a ratio overflow as such.
func (t *tarArchive) next(tr *tar.Reader, cr *capReader) (*tar.Header, error) {
	hdr, err := tr.Next()
	switch {
	case err == nil || err == io.EOF:
		return hdr, err
	case cr.exceeded:
		return nil, fmt.Errorf("%w: more than %d bytes decompressed from a %d-byte archive (ratio above %d)", ErrLimit, cr.max, t.size, t.lim.MaxRatio)
	case errors.Is(err, tar.ErrInsecurePath) && hdr != nil:
		return nil, unsafe(hdr.Name, "%v", err)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return nil, err
	}
	return nil, fmt.Errorf("%w: tar: %w", ErrNotArchive, err)
}

func (t *tarArchive) scan(ctx context.Context) ([]*entry, error) {
	tr, cr, err := t.open(ctx)
	if err != nil {
		return nil, err
	}
	var entries []*entry
	var total int64
	for {
		hdr, err := t.next(tr, cr)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(entries) >= t.lim.MaxEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrLimit, t.lim.MaxEntries)
		}
		e := &entry{name: hdr.Name, flag: hdr.Typeflag, size: hdr.Size}
		entries = append(entries, e)
		if err := t.check(e, hdr); err != nil {
			return nil, err
		}
		if !e.drop && !e.dir {
			if total += e.size; total > t.lim.MaxTotal {
				return nil, fmt.Errorf("%w: more than %d bytes declared", ErrLimit, t.lim.MaxTotal)
			}
		}
	}
	// Drain what follows the end marker so that the ratio covers the file.
	if _, err := io.Copy(io.Discard, &ctxReader{ctx: ctx, r: cr}); err != nil {
		if cr.exceeded {
			return nil, fmt.Errorf("%w: more than %d bytes decompressed from a %d-byte archive (ratio above %d)", ErrLimit, cr.max, t.size, t.lim.MaxRatio)
		}
		if t.gz {
			return nil, fmt.Errorf("%w: gzip: %w", ErrNotArchive, err)
		}
		return nil, err
	}
	return entries, nil
}

// check validates one header and fills in e.
func (t *tarArchive) check(e *entry, hdr *tar.Header) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader: // archive-wide pax records: nothing to write
		e.drop = true
		return nil
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeSymlink:
		return unsafe(hdr.Name, "symbolic link to %q", hdr.Linkname)
	case tar.TypeLink:
		return unsafe(hdr.Name, "hard link to %q", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return unsafe(hdr.Name, "device")
	case tar.TypeFifo:
		return unsafe(hdr.Name, "FIFO")
	case tar.TypeGNUSparse:
		return unsafe(hdr.Name, "sparse file")
	default:
		return unsafe(hdr.Name, "entry type %q", hdr.Typeflag)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return unsafe(hdr.Name, "sparse file")
		}
	}
	dir := hdr.Typeflag == tar.TypeDir
	rel, slash, err := cleanName(hdr.Name)
	switch {
	case err == errRootName && dir && hdr.Size == 0:
		e.dir, e.drop = true, true
		return nil
	case err != nil:
		return unsafe(hdr.Name, "%v", err)
	case slash && !dir:
		return unsafe(hdr.Name, "file with a folder name")
	case hdr.Size < 0 || dir && hdr.Size != 0:
		return unsafe(hdr.Name, "size %d", hdr.Size)
	}
	e.rel, e.dir, e.drop = rel, dir, isJunk(rel)
	return nil
}

func (t *tarArchive) extract(ctx context.Context, entries []*entry, put func(*entry, io.Reader) error) error {
	tr, cr, err := t.open(ctx)
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		hdr, err := t.next(tr, cr)
		if err == io.EOF {
			if i != len(entries) {
				return fmt.Errorf("%w: the archive changed while extracting", ErrNotArchive)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if i >= len(entries) {
			return fmt.Errorf("%w: the archive changed while extracting", ErrNotArchive)
		}
		e := entries[i]
		if hdr.Name != e.name || hdr.Typeflag != e.flag || hdr.Size != e.size {
			return fmt.Errorf("%w: entry %q changed while extracting", ErrNotArchive, hdr.Name)
		}
		if e.drop {
			continue
		}
		if err := put(e, tr); err != nil {
			return err
		}
	}
}
