// Package torch scans PyTorch checkpoints: zip archives (torch.save since
// 1.6, and any zip such as .npz), legacy tar archives and legacy raw files.
// Zips are read through the central directory, the way PyTorch's reader
// (miniz) does, and every member is examined by content.
package torch

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Entry is one central-directory record.
type Entry struct {
	Name         string
	Flags        uint16
	Method       uint16
	CRC32        uint32
	CompSize     int64
	Size         int64
	HeaderOffset int64 // local header, absolute in the file
	DataOffset   int64 // first byte of the (compressed) data
}

// Zip is a parsed central directory, as one reader reads it.
type Zip struct {
	r       io.ReaderAt
	size    int64
	Reader  Reader
	Entries []Entry
	Prefix  int64 // bytes before the first local header
	End     int64 // offset of the end record chosen
	// Shift is what the reader adds to every recorded offset (zipfile: the
	// bytes in front of an archive whose offsets do not count them).
	Shift int64
	// Spans are the byte ranges the archive accounts for: local headers and
	// data (and data descriptors), the central directory, the zip64 end
	// records, the end record and its comment. Sorted, merged.
	Spans [][2]int64
	// CommentPastEnd says the end record's comment length runs past the end
	// of the file (neither reader checks it).
	CommentPastEnd bool
}

var errZip = errors.New("zip")

func zipErr(format string, a ...any) error {
	return fmt.Errorf("%w: %w: %s", scan.ErrUnscannable, errZip, fmt.Sprintf(format, a...))
}

// OpenZip reads the archive the reader rd reads in the size bytes at r: the
// end record it chooses (see Reader), the central directory it points to,
// and every local header, checked against its central record. Anomalies are
// reported into sink; an error means rd cannot read the archive (the loader
// that uses it fails before it unpickles anything).
func OpenZip(r io.ReaderAt, size int64, lim scan.Limits, rd Reader, sink scan.Sink) (*Zip, error) {
	var off int64
	var ok bool
	if rd == ReaderMiniz {
		off, ok = minizEOCD(r, size)
	} else {
		off, ok = zipfileEOCD(r, size)
	}
	if !ok {
		return nil, zipErr("%s finds no end of central directory record", rd)
	}
	end, err := readEnd(r, size, off, rd)
	if err != nil {
		return nil, err
	}
	count, cdSize, cdOff := end.count, end.cdSize, end.cdOff
	if count > int64(lim.MaxMembers) {
		return nil, zipErr("%d entries, more than %d", count, lim.MaxMembers)
	}
	z := &Zip{r: r, size: size, Reader: rd, Prefix: -1, End: off}
	if rd == ReaderZipfile {
		// concat: the end record's place minus where the directory says it ends.
		z.Shift = off - cdSize - cdOff
		if end.z64Off >= 0 {
			z.Shift -= 56 + 20
		}
		cdOff += z.Shift
	} else if cdSize < count*46 {
		return nil, zipErr("central directory of %d bytes cannot hold %d records", cdSize, count)
	}
	if cdOff < 0 || cdSize < 0 || cdOff+cdSize > size {
		return nil, zipErr("central directory at %d (+%d) lies outside the file", cdOff, cdSize)
	}
	if cdSize > lim.MaxHeaderSize {
		return nil, zipErr("central directory of %d bytes, more than %d", cdSize, lim.MaxHeaderSize)
	}
	cd := make([]byte, cdSize)
	if _, err := r.ReadAt(cd, cdOff); err != nil {
		return nil, zipErr("reading the central directory: %v", err)
	}
	z.Spans = append(z.Spans, [2]int64{cdOff, cdOff + cdSize}, [2]int64{off, min(size, off+eocdLen+end.commentLen)})
	z.CommentPastEnd = off+eocdLen+end.commentLen > size
	if end.z64Off >= 0 {
		z.Spans = append(z.Spans, [2]int64{end.z64Off, end.z64Off + end.z64Len}, [2]int64{off - 20, off})
	}
	seen := map[string]bool{}
	// miniz reads count records; zipfile reads records to the directory's size.
	for i := int64(0); (rd == ReaderMiniz && i < count) || (rd == ReaderZipfile && len(cd) > 0); i++ {
		if i >= int64(lim.MaxMembers) {
			return nil, zipErr("more than %d central records", lim.MaxMembers)
		}
		e, n, err := parseCentral(cd)
		if err != nil {
			return nil, zipErr("central record %d: %v", i, err)
		}
		cd = cd[n:]
		e.HeaderOffset += z.Shift
		if seen[e.Name] {
			sink.Add(scan.Finding{Rule: "zip/duplicate-name", Severity: scan.High, Member: e.Name, Offset: e.HeaderOffset,
				Message: "two entries with the same name: readers disagree on which one is used"})
		}
		seen[e.Name] = true
		if err := z.checkLocal(&e, sink); err != nil {
			return nil, err
		}
		if z.Prefix < 0 || e.HeaderOffset < z.Prefix {
			z.Prefix = e.HeaderOffset
		}
		z.Spans = append(z.Spans, [2]int64{e.HeaderOffset, e.DataOffset + e.CompSize + z.descriptor(e)})
		z.Entries = append(z.Entries, e)
	}
	if len(cd) != 0 {
		sink.Add(scan.Finding{Rule: "zip/central-directory", Severity: scan.Medium, Offset: cdOff,
			Message: fmt.Sprintf("%d bytes after the last of the %d central records the end record counts: zipfile reads them as more records, miniz does not", len(cd), count)})
	}
	if z.Prefix > 0 {
		sink.Add(scan.Finding{Rule: "zip/prefix", Severity: scan.High, Offset: 0,
			Message: fmt.Sprintf("%d bytes before the first entry: a polyglot (something else that is also a zip)", z.Prefix)})
	}
	z.Spans = mergeSpans(z.Spans)
	return z, nil
}

func sigAt(r io.ReaderAt, off int64, sig string) bool {
	b := make([]byte, 4)
	if off < 0 {
		return false
	}
	_, err := r.ReadAt(b, off)
	return err == nil && string(b) == sig
}

func parseCentral(b []byte) (Entry, int, error) {
	if len(b) < 46 || !bytes.Equal(b[:4], []byte("PK\x01\x02")) {
		return Entry{}, 0, errors.New("bad signature")
	}
	e := Entry{
		Flags:        binary.LittleEndian.Uint16(b[8:10]),
		Method:       binary.LittleEndian.Uint16(b[10:12]),
		CRC32:        binary.LittleEndian.Uint32(b[16:20]),
		CompSize:     int64(binary.LittleEndian.Uint32(b[20:24])),
		Size:         int64(binary.LittleEndian.Uint32(b[24:28])),
		HeaderOffset: int64(binary.LittleEndian.Uint32(b[42:46])),
	}
	nl, el, cl := int(binary.LittleEndian.Uint16(b[28:30])), int(binary.LittleEndian.Uint16(b[30:32])), int(binary.LittleEndian.Uint16(b[32:34]))
	if len(b) < 46+nl+el+cl {
		return Entry{}, 0, errors.New("truncated record")
	}
	e.Name = string(b[46 : 46+nl])
	extra := b[46+nl : 46+nl+el]
	// zip64 extended information: the fields that are 0xFFFFFFFF, in order.
	for len(extra) >= 4 {
		id, sz := binary.LittleEndian.Uint16(extra[:2]), int(binary.LittleEndian.Uint16(extra[2:4]))
		if 4+sz > len(extra) {
			break
		}
		if id == 1 {
			f := extra[4 : 4+sz]
			next := func() int64 {
				if len(f) < 8 {
					return -1
				}
				v := int64(binary.LittleEndian.Uint64(f[:8]) & (1<<62 - 1))
				f = f[8:]
				return v
			}
			if e.Size == 0xFFFFFFFF {
				e.Size = next()
			}
			if e.CompSize == 0xFFFFFFFF {
				e.CompSize = next()
			}
			if e.HeaderOffset == 0xFFFFFFFF {
				e.HeaderOffset = next()
			}
		}
		extra = extra[4+sz:]
	}
	if e.Size < 0 || e.CompSize < 0 || e.HeaderOffset < 0 {
		return Entry{}, 0, errors.New("bad zip64 sizes")
	}
	return e, 46 + nl + el + cl, nil
}

// checkLocal reads the local header of e and reports where it disagrees
// with the central record.
func (z *Zip) checkLocal(e *Entry, sink scan.Sink) error {
	h := make([]byte, 30)
	if e.HeaderOffset+30 > z.size {
		return zipErr("entry %q: local header at %d outside the file", e.Name, e.HeaderOffset)
	}
	if _, err := z.r.ReadAt(h, e.HeaderOffset); err != nil || !bytes.Equal(h[:4], []byte("PK\x03\x04")) {
		return zipErr("entry %q: no local header at %d", e.Name, e.HeaderOffset)
	}
	nl, el := int64(binary.LittleEndian.Uint16(h[26:28])), int64(binary.LittleEndian.Uint16(h[28:30]))
	name := make([]byte, nl)
	if _, err := z.r.ReadAt(name, e.HeaderOffset+30); err != nil {
		return zipErr("entry %q: truncated local header", e.Name)
	}
	if string(name) != e.Name {
		sink.Add(scan.Finding{Rule: "zip/name-mismatch", Severity: scan.High, Member: e.Name, Offset: e.HeaderOffset,
			Message: fmt.Sprintf("local header names %q: readers disagree on the member's name", name)})
	}
	if lf := binary.LittleEndian.Uint16(h[6:8]); lf != e.Flags {
		sink.Add(scan.Finding{Rule: "zip/flags", Severity: scan.Medium, Member: e.Name, Offset: e.HeaderOffset,
			Message: fmt.Sprintf("local flags %#x differ from central flags %#x", lf, e.Flags)})
	}
	if e.Flags&0x1 != 0 {
		sink.Add(scan.Finding{Rule: "zip/flags", Severity: scan.High, Member: e.Name, Offset: e.HeaderOffset, Message: "encrypted entry: its content cannot be examined"})
	}
	if e.Flags&^uint16(0x0808|0x0006|0x0001) != 0 {
		sink.Add(scan.Finding{Rule: "zip/flags", Severity: scan.Medium, Member: e.Name, Offset: e.HeaderOffset, Message: fmt.Sprintf("unusual flag bits %#x", e.Flags)})
	}
	e.DataOffset = e.HeaderOffset + 30 + nl + el
	if e.DataOffset+e.CompSize > z.size {
		return zipErr("entry %q: data (%d bytes at %d) runs past the end of the file", e.Name, e.CompSize, e.DataOffset)
	}
	return nil
}

// Read returns the member's uncompressed bytes (at most max), checking its
// CRC. A CRC mismatch is reported and the bytes are still returned.
func (z *Zip) Read(e Entry, max int64, sink scan.Sink) ([]byte, error) {
	if e.Size > max {
		return nil, zipErr("entry %q: %d bytes, more than the %d-byte limit", e.Name, e.Size, max)
	}
	sr := io.NewSectionReader(z.r, e.DataOffset, e.CompSize)
	var rd io.Reader
	switch e.Method {
	case 0:
		if e.CompSize != e.Size {
			return nil, zipErr("entry %q: stored with compressed size %d != size %d", e.Name, e.CompSize, e.Size)
		}
		rd = sr
	case 8:
		fr := flate.NewReader(sr)
		defer fr.Close()
		rd = fr
	default:
		return nil, zipErr("entry %q: compression method %d", e.Name, e.Method)
	}
	buf := make([]byte, 0, e.Size)
	b := bytes.NewBuffer(buf)
	n, err := io.Copy(b, io.LimitReader(rd, e.Size+1))
	if err != nil {
		return nil, zipErr("entry %q: %v", e.Name, err)
	}
	if n != e.Size {
		return nil, zipErr("entry %q: %d bytes, the directory says %d", e.Name, n, e.Size)
	}
	if crc32.ChecksumIEEE(b.Bytes()) != e.CRC32 {
		sink.Add(scan.Finding{Rule: "zip/crc", Severity: scan.High, Member: e.Name, Offset: e.HeaderOffset,
			Message: "CRC-32 mismatch: the member was altered after the archive was written (PyTorch does not check it)"})
	}
	return b.Bytes(), nil
}

// Section returns a reader over a stored member's bytes without reading them.
func (z *Zip) Section(e Entry) (*io.SectionReader, bool) {
	if e.Method != 0 || e.CompSize != e.Size {
		return nil, false
	}
	return io.NewSectionReader(z.r, e.DataOffset, e.Size), true
}
