package tensors

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// expected is what testdata/gen.py wrote with torch.
type expected struct {
	Old, New []struct {
		Name          string   `json:"name"`
		Key           []string `json:"key"`
		Weight        bool     `json:"weight"`
		DType         DType    `json:"dtype"`
		Shape         []int64  `json:"shape"`
		Stride        []int64  `json:"stride"`
		StorageOffset int64    `json:"storage_offset"`
		Sum           float64  `json:"sum"`
		First         *float64 `json:"first"`
	}
	Relative map[string]*float64 `json:"relative"`
	Groups   map[string]*float64 `json:"groups"`
}

func loadExpected(t *testing.T, tag string) expected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ckpt", "expected-"+tag+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// sum reads every element of t and returns their sum and the first one.
func sum(t *testing.T, c *Checkpoint, tt *Tensor) (float64, float64) {
	t.Helper()
	e, err := c.Elements(tt)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 24) // chunks end inside rows
	var s, first float64
	var vals []float64
	n := 0
	for {
		b, err := e.Next(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		vals = decodeAny(vals[:0], b, tt.DType)
		for _, v := range vals {
			if n == 0 {
				first = v
			}
			s += v
			n++
		}
	}
	if int64(n) != tt.Params {
		t.Fatalf("%s: read %d elements, want %d", tt.Name, n, tt.Params)
	}
	return s, first
}

// decodeAny decodes float and int64 elements (the fixtures' dtypes).
func decodeAny(dst []float64, b []byte, d DType) []float64 {
	if d == "int64" {
		for i := 0; i+8 <= len(b); i += 8 {
			dst = append(dst, float64(int64(uint64(b[i])|uint64(b[i+1])<<8|uint64(b[i+2])<<16|uint64(b[i+3])<<24|uint64(b[i+4])<<32|uint64(b[i+5])<<40|uint64(b[i+6])<<48|uint64(b[i+7])<<56)))
		}
		return dst
	}
	return Decode(dst, b, d)
}

func TestTorchFixtures(t *testing.T) {
	for _, tag := range []string{"fp32", "bf16", "fp16"} {
		exp := loadExpected(t, tag)
		for _, which := range []string{"old", "new"} {
			want := exp.Old
			if which == "new" {
				want = exp.New
			}
			for _, format := range []string{"zip", "legacy", "safetensors"} {
				file := tag + "-" + which + "-" + format + ".pth"
				if format == "safetensors" {
					file = tag + "-" + which + ".safetensors"
				}
				t.Run(file, func(t *testing.T) {
					c, err := Open(context.Background(), filepath.Join("testdata", "ckpt", file), scan.DefaultLimits)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if len(c.Findings) > 0 {
						t.Errorf("findings on a plain checkpoint: %v", c.Findings)
					}
					got := slices.Clone(c.Tensors)
					if format == "safetensors" { // the header is in safetensors' order: compare in torch's
						pos := map[string]int{}
						for i, w := range want {
							pos[w.Name] = i
						}
						slices.SortFunc(got, func(a, b *Tensor) int { return pos[a.Name] - pos[b.Name] })
					}
					i := 0
					for _, w := range want {
						if format == "safetensors" && !w.Weight {
							continue
						}
						if i >= len(got) {
							t.Fatalf("missing %s", w.Name)
						}
						g := got[i]
						i++
						key := w.Key
						if format == "safetensors" {
							key = key[1:]
						}
						stride := w.Stride
						if format == "safetensors" {
							stride = nil
						}
						if g.Name != w.Name || !slices.Equal(g.Key, key) || g.Weight != w.Weight || g.DType != w.DType ||
							!slices.Equal(g.Shape, w.Shape) || !slices.Equal(g.Stride, stride) || g.Offset != w.StorageOffset*b2i(format != "safetensors") || g.Problem != "" {
							t.Errorf("tensor %d: got %+v, want %+v", i, *g, w)
							continue
						}
						s, first := sum(t, c, g)
						if math.Abs(s-w.Sum) > 1e-9*math.Max(1, math.Abs(w.Sum)) || (w.First != nil && first != *w.First) {
							t.Errorf("%s: sum %v first %v, torch says %v and %v", g.Name, s, first, w.Sum, *w.First)
						}
					}
					if i != len(got) {
						t.Errorf("%d tensors, want %d", len(got), i)
					}
				})
			}
		}
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TestLegacyTar: a tar checkpoint (the format before torch 0.4, written by
// testdata/gen_tar.py and loaded by torch 2.8): views of a storage, strides,
// offsets and a double tensor read as torch reads them.
func TestLegacyTar(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "ckpt", "expected-tar.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Tensors []struct {
			Name          string   `json:"name"`
			Key           []string `json:"key"`
			Weight        bool     `json:"weight"`
			DType         DType    `json:"dtype"`
			Shape         []int64  `json:"shape"`
			Stride        []int64  `json:"stride"`
			StorageOffset int64    `json:"storage_offset"`
			Sum           float64  `json:"sum"`
			First         float64  `json:"first"`
		}
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	c, err := Open(context.Background(), filepath.Join("testdata", "ckpt", "legacy-tar.pth"), scan.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Format != FormatTorchTar || len(c.Tensors) != len(exp.Tensors) || len(c.Findings) > 0 {
		t.Fatalf("%s: %d tensors, want %d; findings %v", c.Format, len(c.Tensors), len(exp.Tensors), c.Findings)
	}
	for i, w := range exp.Tensors {
		g := c.Tensors[i]
		if g.Name != w.Name || !slices.Equal(g.Key, w.Key) || g.Weight != w.Weight || g.DType != w.DType ||
			!slices.Equal(g.Shape, w.Shape) || !slices.Equal(g.Stride, w.Stride) || g.Offset != w.StorageOffset || g.Problem != "" {
			t.Errorf("got %+v, want %+v", *g, w)
			continue
		}
		if s, first := sum(t, c, g); s != w.Sum || first != w.First {
			t.Errorf("%s: sum %v first %v, torch says %v and %v", g.Name, s, first, w.Sum, w.First)
		}
	}
}
