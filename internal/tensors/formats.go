package tensors

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/pickle"
	"github.com/ttsguard/ttsguard/internal/scan/safetensors"
	"github.com/ttsguard/ttsguard/internal/scan/torch"
)

// scanContext is what the pickle machine needs: the coqui allowlist (globals
// outside it are findings, never imported).
func scanContext(lim scan.Limits) (*scan.Context, error) {
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		return nil, err
	}
	return &scan.Context{Policy: pol, Limits: lim}, nil
}

// readZip reads a torch.save zip as torch.load does (miniz's reading of the
// archive): <dir>/data.pkl and the records <dir>/data/<key>.
func (c *Checkpoint) readZip(ctx context.Context, lim scan.Limits) error {
	z, err := torch.OpenZip(c.r, c.Size, lim, torch.ReaderMiniz, &c.Findings)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	prefix := ""
	for _, e := range z.Entries {
		if strings.HasSuffix(e.Name, "/data.pkl") && strings.Count(e.Name, "/") == 1 {
			prefix = strings.TrimSuffix(e.Name, "data.pkl")
			break
		}
	}
	if prefix == "" {
		return fmt.Errorf("%w: a zip without <folder>/data.pkl is no torch checkpoint", ErrFormat)
	}
	members := map[string]torch.Entry{}
	for _, e := range z.Entries {
		if _, dup := members[e.Name]; !dup {
			members[e.Name] = e
		}
	}
	if e, ok := members[prefix+"byteorder"]; ok {
		b, err := z.Read(e, 64, &c.Findings)
		if err != nil {
			return fmt.Errorf("%w: byteorder: %w", ErrFormat, err)
		}
		if string(b) != "little" {
			return fmt.Errorf("%w: byte order %q (only little-endian checkpoints are read)", ErrFormat, b)
		}
	}
	pkl, err := z.Read(members[prefix+"data.pkl"], lim.MaxMemberSize, &c.Findings)
	if err != nil {
		return fmt.Errorf("%w: data.pkl: %w", ErrFormat, err)
	}
	sc, err := scanContext(lim)
	if err != nil {
		return err
	}
	res, err := pickle.Scan(ctx, sc, pkl, scan.Prefixed(&c.Findings, prefix+"data.pkl"), pickle.Options{Torch: true, Tree: true})
	if err != nil {
		return fmt.Errorf("%w: data.pkl: %w", ErrFormat, err)
	}
	storages := map[string]*storage{}
	for name, e := range members {
		key, ok := strings.CutPrefix(name, prefix+"data/")
		if !ok {
			continue
		}
		st := &storage{key: key, off: e.DataOffset, n: e.Size}
		if _, stored := z.Section(e); !stored {
			e := e
			st.off = 0
			st.open = func() ([]byte, error) { return z.Read(e, lim.MaxMemberSize, &scan.Findings{}) }
		}
		storages[key] = st
	}
	c.Root = res.Root
	c.Tensors = tensorsOf(res, storages)
	return nil
}

// legacyStep is one pickle of a legacy raw checkpoint.
var legacySteps = []struct {
	what string
	opt  pickle.Options
}{
	{"magic number", pickle.Options{Plain: true}}, {"protocol version", pickle.Options{Plain: true}},
	{"sys_info", pickle.Options{Plain: true, Tree: true}}, {"main pickle", pickle.Options{Torch: true, Tree: true}},
	{"storage keys", pickle.Options{Plain: true, KeepStrList: true}},
}

// readLegacy reads a legacy raw checkpoint: five pickles (magic number,
// protocol version 1001, sys_info, the object, the storage keys), then each
// storage as an 8-byte little-endian element count and its bytes. The
// pickles are read from a prefix of the file that grows as they need it.
func (c *Checkpoint) readLegacy(ctx context.Context, lim scan.Limits) error {
	sc, err := scanContext(lim)
	if err != nil {
		return err
	}
	limit := min(c.Size, lim.MaxMemberSize)
	for n := min(limit, 1<<20); ; n = min(limit, n*4) {
		buf := make([]byte, n)
		if _, err := c.r.ReadAt(buf, 0); err != nil && err != io.EOF {
			return err
		}
		var fs scan.Findings
		err := c.parseLegacy(ctx, sc, buf, &fs)
		if err == nil {
			c.Findings = append(c.Findings, fs...)
			return nil
		}
		if !errors.Is(err, pickle.ErrTruncated) || n == limit {
			return err
		}
	}
}

func (c *Checkpoint) parseLegacy(ctx context.Context, sc *scan.Context, data []byte, sink scan.Sink) error {
	pos := int64(0)
	var main *pickle.Result
	var keys []string
	for i, st := range legacySteps {
		res, err := pickle.Scan(ctx, sc, data[pos:], scan.Shifted(sink, pos), st.opt)
		if err != nil {
			return fmt.Errorf("%w: %s at offset %d: %w", ErrFormat, st.what, pos, err)
		}
		pos += res.End
		switch i {
		case 0:
			if res.IntText != torch.MagicNumber {
				return fmt.Errorf("%w: the first pickle is not torch's magic number", ErrFormat)
			}
		case 1:
			if res.Result != "int" || res.Int != 1001 {
				return fmt.Errorf("%w: protocol version is not 1001", ErrFormat)
			}
		case 2:
			if le := res.Root.Get("little_endian"); le == nil || le.Kind != pickle.KindBool || le.Int != 1 {
				return fmt.Errorf("%w: sys_info does not say little_endian (only little-endian checkpoints are read)", ErrFormat)
			}
		case 3:
			main = res
		case 4:
			keys = res.StrList
		}
	}
	types := map[string]string{}
	for _, s := range main.Storages {
		if _, ok := types[s.Key]; !ok {
			types[s.Key] = s.Type
		}
	}
	storages := map[string]*storage{}
	var head [8]byte
	for _, k := range keys {
		if _, err := c.r.ReadAt(head[:], pos); err != nil {
			return fmt.Errorf("%w: storage %q: truncated at offset %d", ErrFormat, k, pos)
		}
		count := binary.LittleEndian.Uint64(head[:])
		es := storageDTypes[types[k]].Size()
		if es == 0 {
			return fmt.Errorf("%w: storage %q: unknown element size (type %q)", ErrFormat, k, types[k])
		}
		if count > uint64(c.Size-pos-8)/uint64(es) {
			return fmt.Errorf("%w: storage %q: %d elements of %d bytes run past the end of the file", ErrFormat, k, count, es)
		}
		storages[k] = &storage{key: k, off: pos + 8, n: int64(count) * es}
		pos += 8 + int64(count)*es
	}
	if pos != c.Size {
		sink.Add(scan.Finding{Rule: "torch/trailing-data", Severity: scan.High, Offset: pos,
			Message: fmt.Sprintf("%d bytes after the last storage: torch never reads them", c.Size-pos)})
	}
	c.Root = main.Root
	c.Tensors = tensorsOf(main, storages)
	return nil
}

// readSafetensors reads a safetensors header: every tensor is a weight.
func (c *Checkpoint) readSafetensors(lim scan.Limits) error {
	h, err := safetensors.ReadHeader(c.r, c.Size, lim.MaxHeaderSize, &c.Findings)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	for _, ht := range h.Tensors {
		t := &Tensor{Name: ht.Name, Key: []string{ht.Name}, Weight: true, DType: safetensorsDTypes[ht.DType]}
		for _, d := range ht.Shape {
			if d > 1<<62 {
				t.Problem = fmt.Sprintf("shape %v overflows", ht.Shape)
				d = 0
			}
			t.Shape = append(t.Shape, int64(d))
		}
		switch {
		case t.DType == "":
			t.Problem = fmt.Sprintf("dtype %q is not read", ht.DType)
		case ht.Shape == nil:
			t.Problem = "no shape"
		case ht.Begin > math.MaxInt64/2 || ht.End > math.MaxInt64/2:
			t.Problem = "data offsets overflow"
		default:
			t.st = &storage{key: ht.Name, off: h.DataStart + int64(ht.Begin), n: int64(ht.End - ht.Begin)}
		}
		c.Tensors = append(c.Tensors, t)
	}
	return nil
}
