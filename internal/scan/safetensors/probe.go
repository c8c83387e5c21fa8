package safetensors

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/pickle"
)

// probeStart is the prefix the pickle probe reads first; it grows sixteen
// times at each step while the decoder may have stopped only for want of
// bytes.
const probeStart = 64 << 10

// probe decodes the file from its first byte as one pickle, the way
// torch.load's legacy path unpickles the first pickle of any file that is
// not a zip. A safetensors file normally fails to decode within a few bytes;
// one that decodes to a pickle with findings is a polyglot, reported as
// RulePicklePolyglot together with the pickle's own findings (offsets from
// the start of the file). Decode errors are expected and ignored.
//
// The probe reads a growing prefix, at most c.Limits.MaxMemberSize bytes,
// and grows it only while the decoder failed for want of bytes: a decode
// error within the prefix is the same with the whole file. Its error wraps
// scan.ErrUnscannable: the decoder still wanted bytes when the bound was
// reached and the file is larger, or the context ended.
func probe(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	limit := min(size, c.Limits.MaxMemberSize)
	n := min(limit, probeStart)
	var buf []byte
	for {
		old := int64(len(buf))
		buf = append(buf, make([]byte, n-old)...)
		if err := readFull(r, buf[old:], old); err != nil {
			return scan.Unscannablef("pickle probe: reading: %v", err)
		}
		var fs scan.Findings
		res, err := pickle.Scan(ctx, c, buf, &fs, pickle.Options{})
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: pickle probe: %w", scan.ErrUnscannable, cerr)
		}
		if err == nil {
			reportPolyglot(fs, res, sink)
			return nil
		}
		if !maybeTruncated(err) || n == size {
			return nil // not a pickle
		}
		if n == limit {
			return scan.Unscannablef("pickle probe: the file decodes as a pickle past its first %d bytes (%v)", n, err)
		}
		n = min(limit, n*16)
	}
}

// maybeTruncated reports whether a decode error may come from the end of
// the prefix rather than from the bytes themselves. The pickle decoder says
// pickle.ErrTruncated for every such error.
func maybeTruncated(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pickle.ErrTruncated)
}

// reportPolyglot passes on the findings of a pickle that decoded from the
// start of the file, when any of them is more than evidence: a pickle made
// of allowed globals only is harmless, and a few valid header lengths do
// decode as tiny pickles (0x88 0x2e is NEWTRUE, STOP).
func reportPolyglot(fs scan.Findings, res *pickle.Result, sink scan.Sink) {
	worst := scan.Info
	for _, f := range fs {
		worst = max(worst, f.Severity)
	}
	if worst == scan.Info {
		return
	}
	sink.Add(scan.Finding{Rule: RulePicklePolyglot, Severity: max(scan.High, worst), Offset: 0,
		Message: fmt.Sprintf("the file is also a pickle of %d bytes that torch.load would unpickle", res.End)})
	for _, f := range fs {
		sink.Add(f)
	}
}
