package walk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/config"
	"github.com/ttsguard/ttsguard/internal/scan/pickle"
	"github.com/ttsguard/ttsguard/internal/scan/torch"
)

// RuleTrailingAfterStop is reported for bytes after the STOP of a pickle
// that starts a file: np.load's pickle fallback returns at STOP and ignores
// them, torch.load's legacy path raises at its magic-number check after
// running the pickle, and neither looks further. They are where a payload
// hides from a reader that stops at the first error.
const RuleTrailingAfterStop = "pickle/trailing-data"

// scanLegacy reads bytes that neither loader takes for a zip or an .npy the
// way the loaders do, and reports everything any of them would run:
//
//   - np.load(allow_pickle=True) unpickles one pickle from the first byte and
//     ignores what follows its STOP;
//   - torch.load opens a tar checkpoint when Python's tarfile accepts the
//     first header block (scan.IsTar), else unpickles from the first byte:
//     the magic number, and when it is torch's, the rest of a legacy raw
//     checkpoint (torch.ScanLegacyRaw).
//
// So the first pickle is decoded from byte 0 whatever the bytes look like
// (text too: a protocol-0 pickle is text): when it reaches STOP the file is a
// pickle (or a legacy raw checkpoint), and the bytes after the STOP are a
// finding; when it stops short, what it reached before the error still ran,
// and the bytes are then also read as what they are (a tar checkpoint, a zip
// to other readers, a coqui config, plain text, a TensorBoard log, unknown).
func (s *Scanner) scanLegacy(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink, f scan.Format) (scan.Format, error) {
	p, err := pickle.First(ctx, c, r, size, pickle.Options{Plain: true})
	if err != nil {
		return f, err
	}
	var errs []error
	tarHead := make([]byte, min(size, 512))
	n, _ := r.ReadAt(tarHead, 0)
	isTar := scan.IsTar(tarHead[:n])
	switch {
	case p.Complete && p.Result.IntText == torch.MagicNumber:
		f = scan.FormatTorchLegacy
		errs = append(errs, torch.ScanLegacyRaw(ctx, c, r, size, sink))
	case p.Complete:
		f = scan.FormatPickle
		for _, x := range p.Findings {
			sink.Add(x)
		}
		if end := p.Result.End; end < size {
			sink.Add(scan.Finding{Rule: RuleTrailingAfterStop, Severity: scan.High, Offset: end,
				Message: fmt.Sprintf("%d bytes after the STOP of the pickle that starts the file: np.load and torch.load stop there and never read them", size-end)})
			s.scanTail(ctx, c, r, size, end, sink)
		}
	default:
		for _, x := range p.Reached() {
			sink.Add(x)
		}
	}
	if isTar {
		// torch.load reads a tar checkpoint; np.load still unpickles byte 0 (above).
		if !p.Complete {
			f = scan.FormatTar
		}
		errs = append(errs, torch.ScanLegacyTar(ctx, c, r, size, sink))
		return f, errors.Join(errs...)
	}
	if p.Complete {
		return f, errors.Join(errs...)
	}
	if f == scan.FormatPickle || f == scan.FormatTorchLegacy {
		return f, p.Err // starts like a binary pickle but is none: never clean
	}
	if scan.HasZipEnd(r, size) {
		// No loader reads it as a zip (it does not start with one), but zipfile
		// and unzip do: a polyglot, read as the zip it also is.
		return scan.FormatZip, torch.ScanZip(ctx, c, r, size, sink)
	}
	if f == scan.FormatText {
		return f, scanText(ctx, c, r, size, sink)
	}
	if n := tfRecords(ctx, r, size); n > 0 {
		sink.Add(scan.Finding{Rule: RuleTFRecord, Severity: scan.Info, Offset: 0,
			Message: fmt.Sprintf("TensorBoard event log (TFRecord: %d records, every length and CRC-32C checked): data no coqui loader reads", n)})
		return f, nil
	}
	sink.Add(scan.Finding{Rule: "file/unknown-format", Severity: scan.Medium, Offset: 0,
		Message: "binary content of no known format: not shown to be safe"})
	return f, nil
}

// scanTail names what hides after the first pickle: further pickles (their
// findings are reported; a stream that does not decode is left alone, the
// trailing bytes being a finding already) and a zip that zipfile or unzip
// would read.
func (s *Scanner) scanTail(ctx context.Context, c *scan.Context, r io.ReaderAt, size, end int64, sink scan.Sink) {
	if size > c.Limits.MaxMemberSize {
		return
	}
	b, err := readAll(r, size, c.Limits.MaxMemberSize)
	if err != nil {
		return
	}
	var fs scan.Findings
	pickle.Scan(ctx, c, b[end:], scan.Shifted(&fs, end), pickle.Options{Stacked: true}) //nolint:errcheck // findings before an error are kept
	for _, x := range fs {
		sink.Add(x)
	}
	if scan.HasZipEnd(r, size) {
		var zs scan.Findings
		if torch.ScanZip(ctx, c, bytes.NewReader(b), size, &zs) == nil {
			for _, x := range zs {
				sink.Add(x)
			}
		}
	}
}

func readAll(r io.ReaderAt, size, max int64) ([]byte, error) {
	if size > max {
		return nil, scan.Unscannablef("%d bytes, more than the %d-byte limit for a pickle or config", size, max)
	}
	b := make([]byte, size)
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// scanText reads UTF-8 text that is no pickle: a coqui config when it is a
// JSON or YAML mapping, else plain text (nothing loads it).
func scanText(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	b, err := readAll(r, size, c.Limits.MaxMemberSize)
	if err != nil {
		return err
	}
	if config.IsConfig(b) {
		return config.Scan(ctx, c, bytes.NewReader(b), size, sink)
	}
	return nil
}
