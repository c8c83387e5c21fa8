package torch

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/pickle"
)

// MagicNumber is torch.serialization.MAGIC_NUMBER (0x1950a86a20f9469cfc6c)
// in decimal: the value of the first pickle of a legacy raw checkpoint, in
// whatever pickle protocol torch.save wrote it.
const MagicNumber = "119547037146038801333356"

// ScanLegacyRaw scans a legacy raw checkpoint (torch.save with
// _use_new_zipfile_serialization=False) in step, as torch.load reads it:
// magic number, protocol version, sys_info, the main pickle, the storage-key
// list, then each storage as an 8-byte element count and its bytes. Every
// pickle is scanned for what it runs; the first must have MagicNumber as its
// value (torch.load raises otherwise, but only after it ran it).
func ScanLegacyRaw(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	if size > c.Limits.MaxMemberSize {
		// The pickles come first; read only what they need, bounded.
		size = min(size, c.Limits.MaxMemberSize)
	}
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && err != io.EOF {
		return fmt.Errorf("%w: %v", scan.ErrUnscannable, err)
	}
	pos := int64(0)
	var main *pickle.Result
	var keys []string
	steps := []struct {
		what string
		opt  pickle.Options
	}{{"magic number", pickle.Options{Plain: true}}, {"protocol version", pickle.Options{Plain: true}}, {"sys_info", pickle.Options{Plain: true}},
		{"main pickle", pickle.Options{Torch: true}}, {"storage keys", pickle.Options{KeepStrList: true, Plain: true}}}
	for i, st := range steps {
		res, err := pickle.Scan(ctx, c, data[pos:], scan.Shifted(sink, pos), st.opt)
		if err != nil {
			return fmt.Errorf("%s at offset %d: %w", st.what, pos, err)
		}
		pos += res.End
		switch i {
		case 0:
			if res.IntText != MagicNumber {
				sink.Add(scan.Finding{Rule: "torch/legacy-magic", Severity: scan.Critical, Offset: 0,
					Message: "the first pickle is not torch's magic number: torch.load raises only after it has run it"})
			}
		case 1:
			if res.Result != "int" || res.Int != 1001 {
				sink.Add(scan.Finding{Rule: "torch/legacy-version", Severity: scan.Medium, Offset: pos - res.End, Message: "protocol version is not 1001"})
			}
		case 3:
			main = res
		case 4:
			keys = res.StrList
		}
	}
	types := map[string]string{}
	for _, s := range main.Storages {
		types[s.Key] = s.Type
	}
	for _, k := range keys {
		if pos+8 > int64(len(data)) {
			return scan.Unscannablef("storage %q: truncated at offset %d", k, pos)
		}
		n := int64(binary.LittleEndian.Uint64(data[pos : pos+8]))
		es, ok := elementSize[types[k]]
		if !ok {
			return scan.Unscannablef("storage %q: unknown element size (type %q)", k, types[k])
		}
		if n < 0 || n > (int64(len(data))-pos-8)/es {
			return scan.Unscannablef("storage %q: %d elements of %d bytes run past the end of the file", k, n, es)
		}
		pos += 8 + n*es
	}
	if pos != int64(len(data)) {
		sink.Add(scan.Finding{Rule: "torch/trailing-data", Severity: scan.High, Offset: pos,
			Message: fmt.Sprintf("%d bytes after the last storage: torch never reads them", int64(len(data))-pos)})
		// Whatever follows is examined as stacked pickles, so a payload there is named.
		var fs scan.Findings
		if _, err := pickle.Scan(ctx, c, data[pos:], scan.Shifted(&fs, pos), pickle.Options{Stacked: true}); err == nil {
			for _, f := range fs {
				sink.Add(f)
			}
		}
	}
	return nil
}

// ScanLegacyTar scans a legacy tar checkpoint: sys_info, pickle, storages
// and tensors, each parsed in step as torch.load reads them.
func ScanLegacyTar(ctx context.Context, c *scan.Context, r io.ReaderAt, size int64, sink scan.Sink) error {
	tr := tar.NewReader(io.NewSectionReader(r, 0, size))
	members := map[string][]byte{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return scan.Unscannablef("tar: %v", err)
		}
		if n >= c.Limits.MaxMembers || h.Size > c.Limits.MaxMemberSize {
			return scan.Unscannablef("tar member %q: over the limits", h.Name)
		}
		if h.Typeflag != tar.TypeReg {
			sink.Add(scan.Finding{Rule: "tar/special-member", Severity: scan.High, Member: h.Name, Offset: -1, Message: fmt.Sprintf("tar member of type %q", h.Typeflag)})
			continue
		}
		if _, dup := members[h.Name]; dup {
			sink.Add(scan.Finding{Rule: "tar/duplicate-name", Severity: scan.High, Member: h.Name, Offset: -1, Message: "two members with the same name"})
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return scan.Unscannablef("tar member %q: %v", h.Name, err)
		}
		members[h.Name] = b
	}
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for name, b := range members {
		var err error
		switch name {
		case "sys_info":
			_, err = pickle.Scan(ctx, c, b, scan.Prefixed(sink, name), pickle.Options{})
		case "pickle":
			_, err = pickle.Scan(ctx, c, b, scan.Prefixed(sink, name), pickle.Options{Torch: true})
		case "storages":
			err = scanTarStorages(ctx, c, b, scan.Prefixed(sink, name))
		case "tensors":
			err = scanTarTensors(ctx, c, b, scan.Prefixed(sink, name))
		default:
			if c.Examine != nil {
				err = c.Examine(ctx, name, bytes.NewReader(b), int64(len(b)), sink)
			}
		}
		keep(err)
	}
	for _, need := range []string{"sys_info", "pickle", "storages", "tensors"} {
		if _, ok := members[need]; !ok {
			keep(scan.Unscannablef("tar checkpoint without a %q member", need))
		}
	}
	return firstErr
}

// one scans one pickle at pos and returns the position after it.
func one(ctx context.Context, c *scan.Context, b []byte, pos int64, sink scan.Sink, opt pickle.Options) (*pickle.Result, int64, error) {
	if pos >= int64(len(b)) {
		return nil, pos, scan.Unscannablef("truncated at offset %d", pos)
	}
	res, err := pickle.Scan(ctx, c, b[pos:], scan.Shifted(sink, pos), opt)
	if err != nil {
		return nil, pos, err
	}
	return res, pos + res.End, nil
}

func scanTarStorages(ctx context.Context, c *scan.Context, b []byte, sink scan.Sink) error {
	res, pos, err := one(ctx, c, b, 0, sink, pickle.Options{})
	if err != nil {
		return err
	}
	if res.Result != "int" || res.Int < 0 || res.Int > int64(c.Limits.MaxMembers) {
		return scan.Unscannablef("storage count is not a small integer")
	}
	for i := int64(0); i < res.Int; i++ {
		// (key, location, storage_type), then an 8-byte element count and the bytes.
		var args *pickle.Result
		if args, pos, err = one(ctx, c, b, pos, sink, pickle.Options{}); err != nil {
			return err
		}
		if pos+8 > int64(len(b)) {
			return scan.Unscannablef("storage %d truncated", i)
		}
		es := int64(0)
		if len(args.Globals) == 1 {
			es = elementSize[args.Globals[0]]
		}
		if es == 0 {
			return scan.Unscannablef("storage %d: its type %v has no known element size", i, args.Globals)
		}
		n := int64(binary.LittleEndian.Uint64(b[pos : pos+8]))
		if n < 0 || n > (int64(len(b))-pos-8)/es {
			return scan.Unscannablef("storage %d: %d elements of %d bytes run past the end", i, n, es)
		}
		pos += 8 + n*es
	}
	_, pos, err = one(ctx, c, b, pos, sink, pickle.Options{}) // storage views
	if err != nil {
		return err
	}
	if pos != int64(len(b)) {
		sink.Add(scan.Finding{Rule: "torch/trailing-data", Severity: scan.High, Offset: pos, Message: "bytes after the storage views"})
	}
	return nil
}

func scanTarTensors(ctx context.Context, c *scan.Context, b []byte, sink scan.Sink) error {
	res, pos, err := one(ctx, c, b, 0, sink, pickle.Options{})
	if err != nil {
		return err
	}
	if res.Result != "int" || res.Int < 0 || res.Int > int64(c.Limits.MaxMembers) {
		return scan.Unscannablef("tensor count is not a small integer")
	}
	for i := int64(0); i < res.Int; i++ {
		if _, pos, err = one(ctx, c, b, pos, sink, pickle.Options{}); err != nil {
			return err
		}
		if pos+8 > int64(len(b)) {
			return scan.Unscannablef("tensor %d truncated", i)
		}
		ndim := int64(int32(binary.LittleEndian.Uint32(b[pos : pos+4])))
		if ndim < 0 || ndim > 64 {
			return scan.Unscannablef("tensor %d: %d dimensions", i, ndim)
		}
		pos += 8 + 16*ndim + 8
		if pos > int64(len(b)) {
			return scan.Unscannablef("tensor %d truncated", i)
		}
	}
	if pos != int64(len(b)) {
		sink.Add(scan.Finding{Rule: "torch/trailing-data", Severity: scan.High, Offset: pos, Message: "bytes after the last tensor"})
	}
	return nil
}
