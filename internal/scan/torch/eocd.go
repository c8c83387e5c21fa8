package torch

import (
	"bytes"
	"encoding/binary"
	"io"
)

// Reader is a zip reader whose choices the scanner follows: the end record it
// picks decides which archive a file is.
type Reader string

// Readers.
const (
	// ReaderMiniz is PyTorch's reader (miniz 3.0.2, which
	// caffe2/serialize/inline_container.cc uses for every torch.load of a zip,
	// from a path or a file object): the last end-record signature with 22
	// bytes after it, comment length ignored; offsets taken as they are.
	ReaderMiniz Reader = "miniz"
	// ReaderZipfile is CPython 3.11's zipfile (np.load of an .npz, coqui's
	// downloader): the last 22 bytes when they are an end record without a
	// comment, else the last signature in the final 64 KiB + 22 bytes (one
	// with fewer than 22 bytes after it is no zip); offsets shifted by the
	// bytes in front of the archive; central records read to the directory's
	// size, not its count.
	ReaderZipfile Reader = "zipfile"
)

const (
	eocdLen    = 22
	eocdSig    = "PK\x05\x06"
	minizBuf   = 4096
	maxComment = 65535
	// minizReach is how far before the end miniz's backward search goes:
	// windows of 4096 bytes, each 4093 before the last, until one starts
	// 65535+22 bytes or more before the end.
	minizReach = minizBuf + 16*(minizBuf-3)
	// zipfileReach is how far before the end zipfile's search goes.
	zipfileReach = 1<<16 + eocdLen
)

// tail reads the last n bytes (fewer in a smaller file) and returns them
// with the offset of their first byte.
func tail(r io.ReaderAt, size, n int64) ([]byte, int64, error) {
	n = min(n, size)
	b := make([]byte, n)
	if k, err := r.ReadAt(b, size-n); int64(k) != n {
		return nil, 0, err
	}
	return b, size - n, nil
}

// minizEOCD returns where miniz's mz_zip_reader_locate_header_sig finds the
// end record: scanning windows of 4096 bytes from the end towards the start,
// each window from its last possible signature down, the first signature
// with at least 22 bytes after it; giving up after the window that starts
// 65557 or more bytes before the end, or at the start of the file.
func minizEOCD(r io.ReaderAt, size int64) (int64, bool) {
	if size < eocdLen {
		return 0, false
	}
	buf, base, err := tail(r, size, minizReach)
	if err != nil {
		return 0, false
	}
	cur := max(size-minizBuf, 0)
	for {
		n := min(minizBuf, size-cur)
		for i := n - 4; i >= 0; i-- {
			p := cur + i
			if string(buf[p-base:p-base+4]) == eocdSig && size-p >= eocdLen {
				return p, true
			}
		}
		if cur == 0 || size-cur >= maxComment+eocdLen {
			return 0, false
		}
		cur = max(cur-(minizBuf-3), 0)
	}
}

// zipfileEOCD returns where CPython 3.11's zipfile._EndRecData finds the end
// record.
func zipfileEOCD(r io.ReaderAt, size int64) (int64, bool) {
	if size < eocdLen {
		return 0, false
	}
	buf, base, err := tail(r, size, zipfileReach)
	if err != nil {
		return 0, false
	}
	last := buf[len(buf)-eocdLen:]
	if string(last[:4]) == eocdSig && last[20] == 0 && last[21] == 0 {
		return size - eocdLen, true
	}
	i := bytes.LastIndex(buf, []byte(eocdSig))
	if i < 0 || int64(len(buf)-i) < eocdLen {
		return 0, false // no record, or the last signature is cut short: "not a zip file"
	}
	return base + int64(i), true
}

// eocdSignatures lists every end-record signature either reader's search
// reaches, in file order.
func eocdSignatures(r io.ReaderAt, size int64) []int64 {
	buf, base, err := tail(r, size, max(minizReach, zipfileReach))
	if err != nil {
		return nil
	}
	var out []int64
	for i := 0; ; {
		j := bytes.Index(buf[i:], []byte(eocdSig))
		if j < 0 {
			return out
		}
		out = append(out, base+int64(i+j))
		i += j + 1
	}
}

// endRecord is a parsed end-of-central-directory record.
type endRecord struct {
	off        int64 // where it starts
	count      int64 // central records (zip64: from the zip64 end record)
	cdSize     int64
	cdOff      int64
	commentLen int64
	z64Off     int64 // zip64 end record, -1 when none
	z64Len     int64 // its length (56 + extensible data)
}

func readEnd(r io.ReaderAt, size, off int64, rd Reader) (*endRecord, error) {
	b := make([]byte, eocdLen)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, zipErr("reading the end record at %d: %v", off, err)
	}
	e := &endRecord{off: off, z64Off: -1,
		count:      int64(binary.LittleEndian.Uint16(b[10:12])),
		cdSize:     int64(binary.LittleEndian.Uint32(b[12:16])),
		cdOff:      int64(binary.LittleEndian.Uint32(b[16:20])),
		commentLen: int64(binary.LittleEndian.Uint16(b[20:22])),
	}
	if disk, cdDisk := binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]); (disk|cdDisk) != 0 && (disk != 1 || cdDisk != 1) {
		return nil, zipErr("multi-disk archive")
	}
	if off < 20 {
		return e, nil
	}
	loc := make([]byte, 20)
	if _, err := r.ReadAt(loc, off-20); err != nil || string(loc[:4]) != "PK\x06\x07" {
		return e, nil
	}
	// miniz reads the zip64 end record where the locator says; zipfile
	// assumes it lies right before the locator.
	z64 := int64(binary.LittleEndian.Uint64(loc[8:16]) & (1<<62 - 1))
	if rd == ReaderZipfile {
		z64 = off - 20 - 56
	}
	rec := make([]byte, 56)
	if z64 < 0 || z64+56 > size {
		if rd == ReaderMiniz {
			return nil, zipErr("zip64 end record offset %d out of range", z64)
		}
		return e, nil
	}
	if _, err := r.ReadAt(rec, z64); err != nil || string(rec[:4]) != "PK\x06\x06" {
		return e, nil
	}
	u := func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b) & (1<<62 - 1)) }
	e.z64Off, e.z64Len = z64, 12+u(rec[4:12])
	e.count, e.cdSize, e.cdOff = u(rec[32:40]), u(rec[40:48]), u(rec[48:56])
	return e, nil
}
