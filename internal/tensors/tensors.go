// Package tensors lists every tensor of a checkpoint without executing
// anything, and streams their elements: PyTorch zip checkpoints (torch.save
// since 1.6), legacy raw checkpoints (_use_new_zipfile_serialization=False),
// legacy tar checkpoints (torch.save before 0.4) and safetensors files.
//
// A torch checkpoint's pickle is read by the scanner's symbolic machine
// (scan/pickle with Options.Tree): dicts, lists, tuples, strings and numbers
// are materialised, and the calls of torch._utils._rebuild_tensor_v2 (and
// _v3, _rebuild_parameter) become tensors over the storages the persistent
// ids name; every other object is opaque. A tensor is named by its key path
// from the checkpoint's root. Tensors of the model's state dict (the root
// itself when it is a state dict, or its "model" entry: coqui's trainer
// checkpoints, which coqui's load_checkpoint loads with load_state_dict) are
// weights, named by their state-dict key; the rest (optimizer state, ...) by
// their key path joined with "/".
//
// Every size and count in the file is distrusted: the pickle machine's
// limits (scan.Limits) bound the work and memory, tensors whose extent
// leaves their storage or whose storage leaves the file are listed with a
// Problem and never read.
package tensors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/pickle"
)

// ErrFormat is wrapped by errors about bytes that are not a checkpoint this
// package reads (or not one it can read whole).
var ErrFormat = errors.New("not a readable checkpoint")

// Formats.
const (
	FormatTorchZip    = "torch-zip"
	FormatTorchLegacy = "torch-legacy"
	FormatSafetensors = "safetensors"
)

// Tensor is one tensor of a checkpoint.
type Tensor struct {
	Name    string   `json:"name"`
	Key     []string `json:"key"`    // dict keys and list indexes from the root
	Weight  bool     `json:"weight"` // in the model's state dict
	DType   DType    `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Stride  []int64  `json:"stride,omitempty"`         // in elements (torch); nil: contiguous
	Offset  int64    `json:"storage_offset,omitempty"` // in elements
	Params  int64    `json:"parameters"`               // elements (product of Shape)
	Bytes   int64    `json:"bytes"`                    // Params × the element size
	Storage string   `json:"storage,omitempty"`        // torch: the storage key
	// Problem says why the tensor's elements cannot be read ("" when they can).
	Problem string `json:"problem,omitempty"`

	st *storage
}

// storage is where a tensor's elements live: n bytes at off in r.
type storage struct {
	key   string
	dtype DType
	off   int64
	n     int64
	// open returns the bytes when they are not a plain range of the file
	// (a compressed zip member); nil otherwise.
	open func() ([]byte, error)
}

// Checkpoint is a parsed checkpoint.
type Checkpoint struct {
	Format  string
	Size    int64
	Tensors []*Tensor
	// Findings are the scanner's findings made while reading the pickle or
	// the header (a checkpoint that would run code when loaded is read all
	// the same: nothing here runs it). `ttsguard scan` judges them.
	Findings scan.Findings
	// Root is the checkpoint's unpickled structure (torch formats).
	Root *pickle.Object `json:"-"`

	r    io.ReaderAt
	f    *os.File
	data []byte // the file mapped read-only (Open on Linux), else nil
}

// Params is the number of elements of its weights (all tensors when none
// is a weight).
func (c *Checkpoint) Params() (weights, all int64) {
	for _, t := range c.Tensors {
		all += t.Params
		if t.Weight {
			weights += t.Params
		}
	}
	return weights, all
}

// Opener opens a file's content for reading and returns its size: os.Open
// for a plain file; a store encrypted at rest gives a sealed memfd holding
// the plaintext of a stored file (store.OpenPlain).
type Opener func(path string) (*os.File, int64, error)

// OpenPlainFile is the Opener of a plain file: a regular file, opened
// as it is.
func OpenPlainFile(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%q: %w: not a regular file", path, ErrFormat)
	}
	return f, fi.Size(), nil
}

// Open opens path through o; a nil Opener is OpenPlainFile.
func (o Opener) Open(path string) (*os.File, int64, error) {
	if o == nil {
		return OpenPlainFile(path)
	}
	return o(path)
}

// ReadAll reads the content of the file at path through o, refusing one
// larger than max bytes.
func (o Opener) ReadAll(path string, max int64) ([]byte, error) {
	f, _, err := o.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%q: larger than %d bytes", path, max)
	}
	return b, nil
}

// Open reads the checkpoint in the file at path. The file stays open for
// the tensors' data until Close.
func Open(ctx context.Context, path string, lim scan.Limits) (*Checkpoint, error) {
	return OpenWith(ctx, path, nil, lim)
}

// OpenWith is Open through open (nil: OpenPlainFile).
func OpenWith(ctx context.Context, path string, open Opener, lim scan.Limits) (*Checkpoint, error) {
	f, size, err := open.Open(path)
	if err != nil {
		return nil, err
	}
	c, err := Read(ctx, f, size, lim)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	c.f = f
	c.data = mapFile(f, size)
	return c, nil
}

// Close closes the file Open opened. Bytes Elements returned are invalid
// after it.
func (c *Checkpoint) Close() error {
	if c.f == nil {
		return nil
	}
	if c.data != nil {
		unmapFile(c.data) //nolint:errcheck // the file is closed either way
		c.data = nil
	}
	return c.f.Close()
}

// Read reads the checkpoint in the size bytes at r, by content: a zip
// (torch.save), a legacy raw torch file, or safetensors.
func Read(ctx context.Context, r io.ReaderAt, size int64, lim scan.Limits) (*Checkpoint, error) {
	c := &Checkpoint{Size: size, r: r}
	var err error
	switch f := scan.Detect(r, size); f {
	case scan.FormatZip:
		c.Format = FormatTorchZip
		err = c.readZip(ctx, lim)
	case scan.FormatTorchLegacy:
		c.Format = FormatTorchLegacy
		err = c.readLegacy(ctx, lim)
	case scan.FormatSafetensors:
		c.Format = FormatSafetensors
		err = c.readSafetensors(lim)
	case scan.FormatTar:
		c.Format = FormatTorchTar
		err = c.readTar(ctx, lim)
	default:
		return nil, fmt.Errorf("%w: content is %s", ErrFormat, f)
	}
	if err != nil {
		return nil, err
	}
	for _, t := range c.Tensors {
		c.check(t)
	}
	return c, nil
}

// check sets t's Params and Bytes and its Problem when its elements do not
// lie inside its storage or its storage not inside the file.
func (c *Checkpoint) check(t *Tensor) {
	n, ok := numel(t.Shape)
	es := t.DType.Size()
	if !ok || (es > 0 && n > (1<<62)/es) {
		t.Problem = fmt.Sprintf("shape %v overflows", t.Shape)
		return
	}
	t.Params, t.Bytes = n, n*es
	if t.Problem != "" {
		return
	}
	switch {
	case es == 0:
		t.Problem = fmt.Sprintf("dtype %q has no known element size", t.DType)
	case t.st == nil:
		t.Problem = "no storage"
	case t.st.n < 0 || t.st.off < 0 || (t.st.open == nil && t.st.off > c.Size-t.st.n):
		t.Problem = fmt.Sprintf("storage %q lies outside the file", t.st.key)
	case t.Stride != nil && len(t.Stride) != len(t.Shape):
		t.Problem = fmt.Sprintf("%d sizes and %d strides", len(t.Shape), len(t.Stride))
	default:
		lo, hi, ok := extent(t.Shape, t.Stride, t.Offset)
		if !ok || (n > 0 && (lo < 0 || hi*es > t.st.n)) {
			t.Problem = fmt.Sprintf("elements outside storage %q (offset %d, shape %v, stride %v, storage of %d bytes)", t.st.key, t.Offset, t.Shape, t.Stride, t.st.n)
		}
	}
}

// numel is the product of shape, false when a size is negative or the
// product overflows.
func numel(shape []int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > 1<<62 {
			return 0, false
		}
		n = int64(lo)
	}
	return n, true
}

// extent returns the first element and one past the last element the
// tensor reads in its storage; false on negative strides or overflow.
func extent(shape, stride []int64, off int64) (lo, hi int64, ok bool) {
	if stride == nil {
		n, ok := numel(shape)
		return off, off + n, ok && off >= 0 && off <= 1<<62-n
	}
	last := off
	for i, d := range shape {
		if d == 0 {
			return off, off, off >= 0
		}
		s := stride[i]
		if s < 0 || (s > 0 && d-1 > (1<<62)/s) {
			return 0, 0, false
		}
		last += (d - 1) * s
		if last > 1<<62 {
			return 0, 0, false
		}
	}
	return off, last + 1, off >= 0
}
