package tensors

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/pickle"
)

// FormatTorchTar is torch.save's format before 0.4 (torch.load still reads it).
const FormatTorchTar = "torch-legacy-tar"

// member is where a tar member's bytes are in the file.
type member struct{ off, size int64 }

// counter counts the bytes read through it: after tar.Reader.Next, the
// position of the member's first byte.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// tarMembers lists the regular members of a tar file by name (the last of
// a name, as tarfile.getmember finds it), without reading their data.
func (c *Checkpoint) tarMembers(lim scan.Limits) (map[string]member, error) {
	cr := &counter{r: io.NewSectionReader(c.r, 0, c.Size)}
	tr := tar.NewReader(cr)
	out := map[string]member{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: tar: %v", ErrFormat, err)
		}
		if n >= lim.MaxMembers {
			return nil, fmt.Errorf("%w: tar of more than %d members", ErrFormat, lim.MaxMembers)
		}
		if h.Typeflag == tar.TypeReg && h.Size >= 0 && cr.n <= c.Size-h.Size {
			out[h.Name] = member{off: cr.n, size: h.Size}
		}
	}
}

// onePickle decodes the pickle at off (inside a member that ends at end),
// reading a window that grows as the pickle needs it.
func (c *Checkpoint) onePickle(ctx context.Context, sc *scan.Context, off, end int64, opt pickle.Options) (*pickle.Result, error) {
	limit := min(end-off, sc.Limits.MaxMemberSize)
	for n := min(limit, 64<<10); ; n = min(limit, n*4) {
		if n <= 0 {
			return nil, fmt.Errorf("%w: truncated at offset %d", ErrFormat, off)
		}
		buf := make([]byte, n)
		if _, err := c.r.ReadAt(buf, off); err != nil && err != io.EOF {
			return nil, err
		}
		res, err := pickle.Scan(ctx, sc, buf, scan.Shifted(&c.Findings, off), opt)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, pickle.ErrTruncated) || n == limit {
			return nil, fmt.Errorf("%w: pickle at offset %d: %w", ErrFormat, off, err)
		}
	}
}

// legacyTensor is a record of the "tensors" member.
type legacyTensor struct {
	storage       string
	shape, stride []int64
	offset        int64
}

// readTar reads a legacy tar checkpoint as torch's legacy_load does:
// "storages", "tensors", then "pickle", whose persistent ids are the keys
// of the "tensors" records. Storage bytes are located, not read.
func (c *Checkpoint) readTar(ctx context.Context, lim scan.Limits) error {
	sc, err := scanContext(lim)
	if err != nil {
		return err
	}
	members, err := c.tarMembers(lim)
	if err != nil {
		return err
	}
	for _, need := range []string{"storages", "tensors", "pickle"} {
		if _, ok := members[need]; !ok {
			return fmt.Errorf("%w: tar checkpoint without a %q member", ErrFormat, need)
		}
	}
	storages, err := c.tarStorages(ctx, sc, members["storages"])
	if err != nil {
		return fmt.Errorf("storages: %w", err)
	}
	records, err := c.tarTensors(ctx, sc, members["tensors"])
	if err != nil {
		return fmt.Errorf("tensors: %w", err)
	}
	p := members["pickle"]
	res, err := c.onePickle(ctx, sc, p.off, p.off+p.size, pickle.Options{Torch: true, Tree: true})
	if err != nil {
		return fmt.Errorf("pickle: %w", err)
	}
	c.Root = res.Root
	w := &walker{storages: map[string]*storage{}, refs: map[string]pickle.StorageRef{}, visited: map[*pickle.Object]bool{}, reached: map[int64]bool{}}
	w.legacy = func(key string) *Tensor {
		r, ok := records[key]
		if !ok {
			return &Tensor{Problem: fmt.Sprintf("no tensor record %q", key)}
		}
		st := storages[r.storage]
		t := &Tensor{Shape: r.shape, Stride: r.stride, Offset: r.offset, Storage: r.storage}
		if st == nil {
			t.Problem = fmt.Sprintf("no storage %q", r.storage)
			return t
		}
		t.DType, t.st = st.dtype, st
		return t
	}
	w.model = stateDict(res.Root, w.isTensor)
	w.walk(res.Root, nil)
	c.Tensors = w.out
	return nil
}

// tarStorages reads the "storages" member: a count, per storage its
// (key, location, storage_type) pickle, an 8-byte element count and the
// bytes, then the list of views (target, root, offset, numel).
func (c *Checkpoint) tarStorages(ctx context.Context, sc *scan.Context, m member) (map[string]*storage, error) {
	end := m.off + m.size
	res, err := c.onePickle(ctx, sc, m.off, end, pickle.Options{Plain: true})
	if err != nil {
		return nil, err
	}
	if res.Result != "int" || res.Int < 0 || res.Int > int64(sc.Limits.MaxMembers) {
		return nil, fmt.Errorf("%w: storage count is not a small integer", ErrFormat)
	}
	pos := m.off + res.End
	out := map[string]*storage{}
	var head [8]byte
	for i := int64(0); i < res.Int; i++ {
		rec, err := c.onePickle(ctx, sc, pos, end, pickle.Options{Plain: true, Tree: true})
		if err != nil {
			return nil, err
		}
		r := rec.Root
		if r.Kind != pickle.KindTuple || len(r.Items) != 3 || r.Items[2].Kind != pickle.KindGlobal {
			return nil, fmt.Errorf("%w: storage %d: not a (key, location, storage_type) record", ErrFormat, i)
		}
		key, ok := r.Items[0].Text()
		dtype := storageDTypes[r.Items[2].Str]
		if !ok || dtype == "" {
			return nil, fmt.Errorf("%w: storage %d: key or type %q not read", ErrFormat, i, r.Items[2].Str)
		}
		pos += rec.End
		if pos+8 > end {
			return nil, fmt.Errorf("%w: storage %q truncated", ErrFormat, key)
		}
		if _, err := c.r.ReadAt(head[:], pos); err != nil {
			return nil, err
		}
		n, es := binary.LittleEndian.Uint64(head[:]), dtype.Size()
		if n > uint64(end-pos-8)/uint64(es) {
			return nil, fmt.Errorf("%w: storage %q: %d elements run past its member", ErrFormat, key, n)
		}
		out[key] = &storage{key: key, dtype: dtype, off: pos + 8, n: int64(n) * es}
		pos += 8 + int64(n)*es
	}
	views, err := c.onePickle(ctx, sc, pos, end, pickle.Options{Plain: true, Tree: true})
	if err != nil {
		return nil, err
	}
	if pos+views.End != end {
		c.Findings.Add(scan.Finding{Rule: "torch/trailing-data", Severity: scan.High, Member: "storages", Offset: pos + views.End,
			Message: "bytes after the storage views"})
	}
	if views.Root.Kind != pickle.KindList {
		return nil, fmt.Errorf("%w: storage views are not a list", ErrFormat)
	}
	for _, v := range views.Root.Items {
		if v.Kind != pickle.KindTuple || len(v.Items) != 4 {
			return nil, fmt.Errorf("%w: a storage view is not (target, root, offset, numel)", ErrFormat)
		}
		target, ok1 := v.Items[0].Text()
		root, ok2 := v.Items[1].Text()
		off, num := v.Items[2], v.Items[3]
		st := out[root]
		if !ok1 || !ok2 || st == nil || off.Kind != pickle.KindInt || num.Kind != pickle.KindInt || off.Str != "" || num.Str != "" {
			return nil, fmt.Errorf("%w: storage view %q of %q not read", ErrFormat, target, root)
		}
		es := st.dtype.Size()
		if off.Int < 0 || num.Int < 0 || off.Int > st.n/es || num.Int > st.n/es-off.Int {
			return nil, fmt.Errorf("%w: storage view %q leaves storage %q", ErrFormat, target, root)
		}
		out[target] = &storage{key: target, dtype: st.dtype, off: st.off + off.Int*es, n: num.Int * es}
	}
	return out, nil
}

// tarTensors reads the "tensors" member: a count, then per tensor its
// (key, storage_id, type) pickle, ndim (4 bytes, 4 more), sizes and strides
// (8 bytes each) and the storage offset.
func (c *Checkpoint) tarTensors(ctx context.Context, sc *scan.Context, m member) (map[string]legacyTensor, error) {
	end := m.off + m.size
	res, err := c.onePickle(ctx, sc, m.off, end, pickle.Options{Plain: true})
	if err != nil {
		return nil, err
	}
	if res.Result != "int" || res.Int < 0 || res.Int > int64(sc.Limits.MaxMembers) {
		return nil, fmt.Errorf("%w: tensor count is not a small integer", ErrFormat)
	}
	pos := m.off + res.End
	out := map[string]legacyTensor{}
	for i := int64(0); i < res.Int; i++ {
		rec, err := c.onePickle(ctx, sc, pos, end, pickle.Options{Plain: true, Tree: true})
		if err != nil {
			return nil, err
		}
		r := rec.Root
		if r.Kind != pickle.KindTuple || len(r.Items) != 3 {
			return nil, fmt.Errorf("%w: tensor %d: not a (key, storage_id, type) record", ErrFormat, i)
		}
		key, ok1 := r.Items[0].Text()
		sid, ok2 := r.Items[1].Text()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: tensor %d: key or storage not read", ErrFormat, i)
		}
		pos += rec.End
		var hdr [8]byte
		if pos+8 > end {
			return nil, fmt.Errorf("%w: tensor %q truncated", ErrFormat, key)
		}
		if _, err := c.r.ReadAt(hdr[:], pos); err != nil {
			return nil, err
		}
		ndim := int64(int32(binary.LittleEndian.Uint32(hdr[:4])))
		if ndim < 0 || ndim > 64 || pos+8+16*ndim+8 > end {
			return nil, fmt.Errorf("%w: tensor %q: %d dimensions", ErrFormat, key, ndim)
		}
		b := make([]byte, 16*ndim+8)
		if _, err := c.r.ReadAt(b, pos+8); err != nil {
			return nil, err
		}
		t := legacyTensor{storage: sid}
		for d := range ndim {
			t.shape = append(t.shape, int64(binary.LittleEndian.Uint64(b[8*d:])))
			t.stride = append(t.stride, int64(binary.LittleEndian.Uint64(b[8*(ndim+d):])))
		}
		t.offset = int64(binary.LittleEndian.Uint64(b[16*ndim:]))
		if t.shape == nil {
			t.shape, t.stride = []int64{}, []int64{}
		}
		out[key] = t
		pos += 8 + 16*ndim + 8
	}
	return out, nil
}

// legacyKey is the tensor key a legacy tar pickle's persistent id names
// (torch: deserialized_objects[int(saved_id)]).
func legacyKey(o *pickle.Object) (string, bool) {
	if o.Kind != pickle.KindPersistent || len(o.Items) != 1 {
		return "", false
	}
	s, ok := o.Items[0].Text()
	if !ok {
		return "", false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}
