package torch

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/pickle"
)

// elementSize is the size in bytes of one element of a typed storage.
var elementSize = map[string]int64{
	"torch.FloatStorage": 4, "torch.DoubleStorage": 8, "torch.HalfStorage": 2, "torch.BFloat16Storage": 2,
	"torch.LongStorage": 8, "torch.IntStorage": 4, "torch.ShortStorage": 2, "torch.CharStorage": 1,
	"torch.ByteStorage": 1, "torch.BoolStorage": 1, "torch.ComplexFloatStorage": 8, "torch.ComplexDoubleStorage": 16,
	"torch.QInt8Storage": 1, "torch.QUInt8Storage": 1, "torch.QInt32Storage": 4, "torch.QUInt4x2Storage": 1,
	"torch.QUInt2x4Storage": 1, "torch.UntypedStorage": 1, "torch.storage.UntypedStorage": 1,
}

// knownRecords are the small bookkeeping records torch.save writes.
var knownRecords = map[string]bool{
	"version": true, ".data/version": true, "byteorder": true, ".data/serialization_id": true,
	".format_version": true, ".storage_alignment": true,
}

func scanMembers(ctx context.Context, c *scan.Context, z *Zip, entries []Entry, sink scan.Sink) error {
	if _, err := c.Nested(); err != nil {
		return err
	}
	var firstErr error
	for _, e := range entries {
		if strings.HasSuffix(e.Name, "/") && e.Size == 0 {
			continue // a folder
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := z.Read(e, c.Limits.MaxMemberSize, sink)
		if err == nil && c.Examine != nil {
			err = c.Examine(ctx, e.Name, bytes.NewReader(b), int64(len(b)), sink)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func scanCheckpoint(ctx context.Context, c *scan.Context, z *Zip, prefix string, sink scan.Sink) error {
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	data := map[string]Entry{}
	var others []Entry
	torchScript := false
	var res *pickle.Result
	for _, e := range z.Entries {
		rel, ok := strings.CutPrefix(e.Name, prefix)
		if !ok {
			sink.Add(scan.Finding{Rule: "torch/outside-archive", Severity: scan.High, Member: e.Name, Offset: e.HeaderOffset,
				Message: fmt.Sprintf("member outside the checkpoint's %q folder", prefix)})
			others = append(others, e)
			continue
		}
		switch {
		case rel == "data.pkl":
			b, err := z.Read(e, c.Limits.MaxMemberSize, sink)
			if err != nil {
				keep(err)
				continue
			}
			res, err = pickle.Scan(ctx, c, b, scan.Prefixed(sink, e.Name), pickle.Options{Torch: true})
			keep(err)
			if err == nil && res.End != int64(len(b)) {
				sink.Add(scan.Finding{Rule: "pickle/trailing-data", Severity: scan.High, Member: e.Name, Offset: res.End,
					Message: fmt.Sprintf("%d bytes after the pickle's STOP", int64(len(b))-res.End)})
			}
		case strings.HasPrefix(rel, "data/"):
			data[strings.TrimPrefix(rel, "data/")] = e
			keep(probeData(ctx, c, z, e, sink))
		case rel == "constants.pkl" || strings.HasPrefix(rel, "code/"):
			if !torchScript {
				torchScript = true
				sink.Add(scan.Finding{Rule: "torch/torchscript", Severity: scan.Critical, Member: e.Name, Offset: e.HeaderOffset,
					Message: "TorchScript archive: torch.load hands it to torch.jit.load, which runs its code"})
			}
			if rel == "constants.pkl" {
				b, err := z.Read(e, c.Limits.MaxMemberSize, sink)
				if err == nil {
					_, err = pickle.Scan(ctx, c, b, scan.Prefixed(sink, e.Name), pickle.Options{Torch: true})
				}
				keep(err)
			} else {
				others = append(others, e)
			}
		case knownRecords[rel] && e.Size <= 64:
		default:
			others = append(others, e)
		}
	}
	keep(scanMembers(ctx, c, z, others, sink))
	if res != nil {
		checkStorages(res, data, prefix+"data.pkl", sink)
	}
	return firstErr
}

// crcCheckMax is the largest tensor-data record whose CRC is checked:
// PyTorch never checks CRCs, and the bytes of large records are the
// manifest's business (reading them would cost the scan its speed).
const crcCheckMax = 16 << 20

// probeData looks at a tensor-data record without reading it: only when it
// starts like a pickle or a container is it examined further. Small records
// are read whole so that their CRC is checked.
func probeData(ctx context.Context, c *scan.Context, z *Zip, e Entry, sink scan.Sink) error {
	if e.Size <= crcCheckMax {
		if _, err := z.Read(e, crcCheckMax, sink); err != nil {
			return err
		}
	}
	head := make([]byte, min(e.Size, 512))
	if sec, ok := z.Section(e); ok {
		n, _ := sec.ReadAt(head, 0)
		head = head[:n]
	} else {
		b, err := z.Read(e, c.Limits.MaxMemberSize, sink)
		if err != nil {
			return err
		}
		head = b[:min(len(b), 512)]
	}
	switch f := scan.Detect(bytes.NewReader(head), int64(len(head))); f {
	case scan.FormatPickle, scan.FormatTorchLegacy, scan.FormatZip, scan.FormatSevenZip, scan.FormatNpy:
		b, err := z.Read(e, c.Limits.MaxMemberSize, sink)
		if err != nil {
			return err
		}
		if f == scan.FormatPickle || f == scan.FormatTorchLegacy {
			// Tensor bytes can start like a pickle by chance: only a stream that
			// parses to its end counts, and then its findings are reported.
			var fs scan.Findings
			if res, err := pickle.Scan(ctx, c, b, &fs, pickle.Options{Stacked: true}); err == nil && res.End == int64(len(b)) {
				for _, f := range fs {
					f.Member = e.Name
					sink.Add(f)
				}
				if len(fs) > 0 {
					sink.Add(scan.Finding{Rule: "torch/pickle-in-data", Severity: scan.High, Member: e.Name, Offset: 0,
						Message: "a tensor-data record is a pickle"})
				}
			}
			return nil
		}
		sink.Add(scan.Finding{Rule: "torch/container-in-data", Severity: scan.High, Member: e.Name, Offset: 0,
			Message: fmt.Sprintf("a tensor-data record is a %s container", f)})
		if c.Examine != nil {
			return c.Examine(ctx, e.Name, bytes.NewReader(b), int64(len(b)), sink)
		}
	}
	return nil
}

// checkStorages checks every storage against its data record and every
// tensor rebuild against its storage: offset + extent ≤ numel ≤ bytes / element size.
func checkStorages(res *pickle.Result, data map[string]Entry, member string, sink scan.Sink) {
	numel := map[string]int64{}
	for _, s := range res.Storages {
		e, ok := data[s.Key]
		if !ok {
			sink.Add(scan.Finding{Rule: "torch/storage-missing", Severity: scan.High, Member: member, Offset: s.Offset,
				Message: fmt.Sprintf("storage %q has no data/%s record", s.Key, s.Key)})
			continue
		}
		es, ok := elementSize[s.Type]
		if !ok {
			sink.Add(scan.Finding{Rule: "torch/storage-type", Severity: scan.Medium, Member: member, Offset: s.Offset, Global: s.Type,
				Message: "unknown storage type: its size cannot be checked"})
			continue
		}
		if s.Numel < 0 || s.Numel > e.Size/es {
			sink.Add(scan.Finding{Rule: "torch/storage-bounds", Severity: scan.High, Member: member, Offset: s.Offset,
				Message: fmt.Sprintf("storage %q claims %d elements of %d bytes, its record has %d bytes", s.Key, s.Numel, es, e.Size)})
		}
		numel[s.Key] = s.Numel
	}
	for _, rb := range res.Rebuilds {
		n, ok := numel[rb.StorageKey]
		if !ok {
			continue
		}
		if len(rb.Size) != len(rb.Stride) {
			sink.Add(scan.Finding{Rule: "torch/tensor-bounds", Severity: scan.High, Member: member, Offset: rb.Offset,
				Message: fmt.Sprintf("tensor on storage %q has %d sizes and %d strides", rb.StorageKey, len(rb.Size), len(rb.Stride))})
			continue
		}
		extent, bad := int64(1), false
		for i, sz := range rb.Size {
			if sz == 0 {
				extent = 0
				break
			}
			if sz < 0 || rb.Stride[i] < 0 {
				bad = true
				break
			}
			if sz > 1 {
				if rb.Stride[i] > 0 && sz-1 > (1<<62)/rb.Stride[i] {
					bad = true
					break
				}
				extent += (sz - 1) * rb.Stride[i]
			}
		}
		if bad || rb.StorageOffset < 0 || (extent > 0 && rb.StorageOffset+extent > n) {
			sink.Add(scan.Finding{Rule: "torch/tensor-bounds", Severity: scan.High, Member: member, Offset: rb.Offset,
				Message: fmt.Sprintf("tensor reads past its storage %q: offset %d, sizes %v, strides %v, storage has %d elements", rb.StorageKey, rb.StorageOffset, rb.Size, rb.Stride, n)})
		}
	}
}
