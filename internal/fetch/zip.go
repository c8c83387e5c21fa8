package fetch

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"
)

// zipArchive reads a zip through archive/zip, whose central directory it
// trusts for names and sizes only after checking them; the bytes produced
// are counted again while writing (archive/zip also refuses data longer or
// shorter than declared and checks the CRC-32 at the end of each entry).
type zipArchive struct {
	f    io.ReaderAt
	size int64
	lim  Limits
	zr   *zip.Reader
}

// errDirBudget: the central directory needs more reading than MaxEntries
// entries of reasonable size would.
var errDirBudget = errors.New("zip central directory too large")

// budgetReaderAt fails once more than budget bytes were read; a negative
// budget is unlimited. archive/zip reads the whole central directory into
// memory before its entries can be counted: this bounds that memory.
type budgetReaderAt struct {
	r      io.ReaderAt
	budget int64
}

func (b *budgetReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if b.budget >= 0 {
		if int64(len(p)) > b.budget {
			return 0, errDirBudget
		}
		b.budget -= int64(len(p))
	}
	return b.r.ReadAt(p, off)
}

// openZip opens a zip whose central directory reading is bounded by the
// entry limit (about 1 KiB of directory per entry, plus the 65 KiB the
// end record search reads).
func openZip(r io.ReaderAt, size int64, maxEntries int) (*zip.Reader, error) {
	br := &budgetReaderAt{r: r, budget: int64(maxEntries)*1024 + 1<<20}
	zr, err := zip.NewReader(br, size)
	if errors.Is(err, errDirBudget) {
		return nil, fmt.Errorf("%w: %w (more than %d entries?)", ErrLimit, err, maxEntries)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: zip: %w", ErrNotArchive, err)
	}
	br.budget = -1
	if len(zr.File) > maxEntries {
		return nil, fmt.Errorf("%w: %d entries, the limit is %d", ErrLimit, len(zr.File), maxEntries)
	}
	return zr, nil
}

func (z *zipArchive) scan(ctx context.Context) ([]*entry, error) {
	zr, err := openZip(z.f, z.size, z.lim.MaxEntries)
	if err != nil {
		return nil, err
	}
	z.zr = zr
	entries := make([]*entry, 0, len(zr.File))
	var total int64
	type span struct {
		off, n int64
		name   string
	}
	var spans []span
	for i, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e := &entry{name: zf.Name, zip: i}
		rel, slash, err := cleanName(zf.Name)
		mode := zf.Mode()
		switch {
		case err == errRootName && slash && mode.IsDir() && zf.UncompressedSize64 == 0:
			e.dir, e.drop = true, true
			entries = append(entries, e)
			continue
		case err != nil:
			return nil, unsafe(zf.Name, "%v", err)
		case mode&fs.ModeSymlink != 0:
			return nil, unsafe(zf.Name, "symbolic link")
		case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
			return nil, unsafe(zf.Name, "device")
		case mode&fs.ModeNamedPipe != 0:
			return nil, unsafe(zf.Name, "FIFO")
		case mode&(fs.ModeType&^fs.ModeDir) != 0:
			return nil, unsafe(zf.Name, "not a regular file or folder (mode %v)", mode)
		case mode.IsDir() != slash:
			return nil, unsafe(zf.Name, "folder attribute without a trailing slash")
		case slash && (zf.UncompressedSize64 != 0 || zf.CompressedSize64 != 0):
			return nil, unsafe(zf.Name, "folder with data")
		case zf.Flags&0x1 != 0:
			return nil, unsafe(zf.Name, "encrypted")
		case zf.Method != zip.Store && zf.Method != zip.Deflate:
			return nil, fmt.Errorf("%w: entry %q: compression method %d", ErrNotArchive, zf.Name, zf.Method)
		case zf.UncompressedSize64 > math.MaxInt64/2 || zf.CompressedSize64 > math.MaxInt64/2:
			return nil, fmt.Errorf("%w: entry %q: declared size out of range", ErrLimit, zf.Name)
		}
		e.rel, e.dir, e.size = rel, slash, int64(zf.UncompressedSize64)
		e.drop = isJunk(rel)
		entries = append(entries, e)
		csize := int64(zf.CompressedSize64)
		if !e.dir {
			off, err := zf.DataOffset()
			if err != nil || off < 0 || off > z.size || csize > z.size-off {
				return nil, unsafe(zf.Name, "data outside the archive")
			}
			if csize > 0 {
				spans = append(spans, span{off, csize, zf.Name})
			}
		}
		if e.drop {
			continue
		}
		if total += e.size; total > z.lim.MaxTotal {
			return nil, fmt.Errorf("%w: more than %d bytes declared", ErrLimit, z.lim.MaxTotal)
		}
		if e.size > z.lim.ratioCap(max(csize, 1)) {
			return nil, fmt.Errorf("%w: entry %q declares %d bytes from %d compressed (ratio above %d)", ErrLimit, zf.Name, e.size, csize, z.lim.MaxRatio)
		}
	}
	if total > z.lim.ratioCap(z.size) {
		return nil, fmt.Errorf("%w: %d bytes declared in a %d-byte archive (ratio above %d)", ErrLimit, total, z.size, z.lim.MaxRatio)
	}
	// Entries sharing compressed data multiply it without a high ratio each.
	slices.SortFunc(spans, func(a, b span) int { return int(min(max(a.off-b.off, -1), 1)) })
	for i := 1; i < len(spans); i++ {
		if spans[i].off < spans[i-1].off+spans[i-1].n {
			return nil, unsafe(spans[i].name, "its data overlaps entry %q", spans[i-1].name)
		}
	}
	return entries, nil
}

func (z *zipArchive) extract(ctx context.Context, entries []*entry, put func(*entry, io.Reader) error) error {
	for _, e := range entries {
		if e.drop {
			continue
		}
		if e.dir {
			if err := put(e, nil); err != nil {
				return err
			}
			continue
		}
		rc, err := z.zr.File[e.zip].Open()
		if err != nil {
			return fmt.Errorf("entry %q: %w", e.name, err)
		}
		err = put(e, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
