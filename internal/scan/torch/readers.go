package torch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Rules of the choice of archive.
const (
	// RuleMultipleEOCD, High: more than one end record where the readers
	// search for one: which archive the file is depends on the reader.
	RuleMultipleEOCD = "zip/multiple-eocd"
	// RuleUnaccounted, High: bytes after the first entry that no record of
	// the archive accounts for (a second archive, a hidden payload).
	RuleUnaccounted = "zip/unaccounted"
	// RuleReaders, High: torch.load's reader (miniz) and np.load's
	// (zipfile) read different archives from the same bytes, or only one of
	// them reads one.
	RuleReaders = "zip/reader-disagreement"
	// RuleComment, Medium: the end record's comment runs past the end of the file.
	RuleComment = "zip/comment-length"
)

// descriptor is the length of e's data descriptor (flag bit 3): 12 or 16
// bytes with its optional signature, 20 or 24 for zip64 sizes.
func (z *Zip) descriptor(e Entry) int64 {
	if e.Flags&0x8 == 0 {
		return 0
	}
	n := int64(12)
	if e.Size >= 0xFFFFFFFF || e.CompSize >= 0xFFFFFFFF {
		n = 20
	}
	if sigAt(z.r, e.DataOffset+e.CompSize, "PK\x07\x08") {
		n += 4
	}
	return min(n, z.size-e.DataOffset-e.CompSize)
}

// mergeSpans sorts and merges byte ranges.
func mergeSpans(s [][2]int64) [][2]int64 {
	slices.SortFunc(s, func(a, b [2]int64) int {
		if a[0] != b[0] {
			return int(min(max(a[0]-b[0], -1), 1))
		}
		return int(min(max(a[1]-b[1], -1), 1))
	})
	var out [][2]int64
	for _, x := range s {
		if n := len(out); n > 0 && x[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], x[1])
			continue
		}
		out = append(out, x)
	}
	return out
}

// gaps returns the byte ranges of the file after the first span that no
// span covers (bytes before it are the prefix, reported as zip/prefix).
func (z *Zip) gaps() [][2]int64 {
	var out [][2]int64
	for i := 1; i < len(z.Spans); i++ {
		out = append(out, [2]int64{z.Spans[i-1][1], z.Spans[i][0]})
	}
	if n := len(z.Spans); n > 0 && z.Spans[n-1][1] < z.size {
		out = append(out, [2]int64{z.Spans[n-1][1], z.size})
	}
	return out
}

// inData reports whether off lies in the data of an entry (a stored nested
// archive keeps its own end record there, where no reader searches).
func (z *Zip) inData(off int64) bool {
	for _, e := range z.Entries {
		if off >= e.DataOffset && off < e.DataOffset+e.CompSize {
			return true
		}
	}
	return false
}

// audit reports what the archive z does not account for: more end records,
// bytes in no record, a comment that runs past the end.
func (z *Zip) audit(sink scan.Sink) {
	var others []string
	for _, p := range eocdSignatures(z.r, z.size) {
		if p != z.End && !z.inData(p) {
			others = append(others, fmt.Sprint(p))
		}
	}
	if len(others) > 0 {
		sink.Add(scan.Finding{Rule: RuleMultipleEOCD, Severity: scan.High, Offset: z.End,
			Message: fmt.Sprintf("%d more end-of-central-directory records (at %s) besides the one %s reads (at %d): readers that choose differently read another archive",
				len(others), strings.Join(others, ", "), z.Reader, z.End)})
	}
	var n int64
	gaps := z.gaps()
	for _, g := range gaps {
		n += g[1] - g[0]
	}
	if n > 0 {
		sink.Add(scan.Finding{Rule: RuleUnaccounted, Severity: scan.High, Offset: gaps[0][0],
			Message: fmt.Sprintf("%d bytes in %d ranges (the first at %d) that no record of the archive %s reads accounts for: a second archive or a hidden payload", n, len(gaps), gaps[0][0], z.Reader)})
	}
	if z.CommentPastEnd {
		sink.Add(scan.Finding{Rule: RuleComment, Severity: scan.Medium, Offset: z.End,
			Message: "the end record's comment length runs past the end of the file (miniz and zipfile ignore it; the record was edited)"})
	}
}

// same reports whether two readings are the same archive.
func same(a, b *Zip) bool {
	if a.End != b.End || a.Shift != b.Shift || len(a.Entries) != len(b.Entries) {
		return false
	}
	for i := range a.Entries {
		if a.Entries[i] != b.Entries[i] {
			return false
		}
	}
	return true
}

// ScanZip scans a zip archive as the loaders read it: torch.load through
// miniz when the bytes start with a local header, np.load (and coqui's
// downloader) through zipfile always. When both read the same archive it is
// scanned once; when they read different archives both are scanned (the
// zipfile reading's findings under the member "(zipfile)") and
// RuleReaders is reported; when one of them cannot read it, the other's
// archive is scanned and RuleReaders says so. Either way the archive
// scanned is audited for other end records and bytes no record accounts
// for. An archive neither reader reads is unscannable.
//
// When the archive holds <dir>/data.pkl it is a PyTorch checkpoint: data.pkl
// is scanned as a torch pickle, its storages and tensor rebuilds are checked
// against the data/ records, and TorchScript is reported. Every other member
// is examined by content through c.Examine.
func ScanZip(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	head := make([]byte, 4)
	r.ReadAt(head, 0) //nolint:errcheck // a short file compares unequal
	var mz, pz *Zip
	var mf, pf scan.Findings
	var merr, perr error
	if bytes.Equal(head, []byte("PK\x03\x04")) {
		mz, merr = OpenZip(r, size, c.Limits, ReaderMiniz, &mf)
	}
	pz, perr = OpenZip(r, size, c.Limits, ReaderZipfile, &pf)
	torchReads := bytes.Equal(head, []byte("PK\x03\x04"))
	switch {
	case mz != nil && pz != nil && same(mz, pz):
		return scanArchive(ctx, c, mz, mf, sink)
	case mz != nil && pz != nil:
		sink.Add(scan.Finding{Rule: RuleReaders, Severity: scan.High, Offset: mz.End,
			Message: fmt.Sprintf("torch.load (miniz) reads the archive whose end record is at %d, np.load (zipfile) the one at %d (shift %d): both are scanned", mz.End, pz.End, pz.Shift)})
		err := scanArchive(ctx, c, mz, mf, sink)
		if perr := scanArchive(ctx, c, pz, pf, scan.Prefixed(sink, "(zipfile)")); err == nil {
			err = perr
		}
		return err
	case mz != nil:
		sink.Add(scan.Finding{Rule: RuleReaders, Severity: scan.High, Offset: mz.End,
			Message: fmt.Sprintf("torch.load (miniz) reads the archive, np.load (zipfile) refuses it (%v)", perr)})
		return scanArchive(ctx, c, mz, mf, sink)
	case pz != nil:
		if torchReads {
			sink.Add(scan.Finding{Rule: RuleReaders, Severity: scan.High, Offset: pz.End,
				Message: fmt.Sprintf("np.load (zipfile) reads the archive, torch.load (miniz) refuses it (%v)", merr)})
		}
		return scanArchive(ctx, c, pz, pf, sink)
	case merr != nil:
		return merr
	}
	return perr
}

// scanArchive reports the findings made while opening z, audits it, and
// scans its members.
func scanArchive(ctx context.Context, c *scan.Context, z *Zip, opened scan.Findings, sink scan.Sink) error {
	for _, f := range opened {
		sink.Add(f)
	}
	z.audit(sink)
	prefix := ""
	for _, e := range z.Entries {
		if i := strings.IndexByte(e.Name, '/'); i > 0 && strings.HasSuffix(e.Name, "/data.pkl") && strings.Count(e.Name, "/") == 1 {
			prefix = e.Name[:i+1]
			break
		}
	}
	if prefix == "" {
		return scanMembers(ctx, c, z, z.Entries, sink)
	}
	return scanCheckpoint(ctx, c, z, prefix, sink)
}
