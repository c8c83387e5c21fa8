package weightdiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/ttsguard/ttsguard/internal/tensors"
)

// More changes of a tensor.
const (
	Unreadable = "unreadable" // a tensor whose elements cannot be read on one side
)

// sums are the squared norms a comparison accumulates.
type sums struct {
	d, o      float64 // Σ(new-old)², Σold²
	equal     bool    // bit for bit the same elements
	nonfinite bool
}

// relative returns ||new-old||/||old|| and a note when it is not a finite
// number.
func (s sums) relative() (*float64, bool, string) {
	switch {
	case s.nonfinite || math.IsNaN(s.d) || math.IsInf(s.d, 0) || math.IsNaN(s.o) || math.IsInf(s.o, 0):
		return nil, true, "non-finite values (NaN or infinity): the change cannot be measured"
	case s.o == 0 && s.d == 0:
		z := 0.0
		return &z, false, ""
	case s.o == 0:
		return nil, true, "the old values are all zero: the relative change is infinite"
	}
	r := math.Sqrt(s.d) / math.Sqrt(s.o)
	return &r, false, ""
}

type tensorKey struct {
	weight bool
	name   string
}

// diff compares the tensors of two checkpoints.
func (ck *Checkpoint) diff(ctx context.Context, oc, nc *tensors.Checkpoint, o Options) error {
	olds := map[tensorKey]*tensors.Tensor{}
	for _, t := range oc.Tensors {
		k := tensorKey{t.Weight, t.Name}
		if olds[k] != nil {
			return fmt.Errorf("old %s: two tensors are named %q", ck.Old, t.Name)
		}
		olds[k] = t
	}
	seen := map[tensorKey]bool{}
	var jobs []*TensorChange
	for _, t := range nc.Tensors {
		k := tensorKey{t.Weight, t.Name}
		if seen[k] {
			return fmt.Errorf("new %s: two tensors are named %q", ck.New, t.Name)
		}
		seen[k] = true
		old := olds[k]
		c := TensorChange{Name: t.Name, Weight: t.Weight, NewDType: t.DType, NewShape: t.Shape, old: old, new: t}
		switch {
		case old == nil:
			c.Change = Added
		case !slices.Equal(old.Shape, t.Shape):
			c.Change, c.OldDType, c.OldShape = Reshaped, old.DType, old.Shape
		case old.Problem != "" || t.Problem != "":
			c.Change, c.OldDType, c.OldShape = Unreadable, old.DType, old.Shape
			c.Note = strings.TrimPrefix(old.Problem+"; "+t.Problem, "; ")
		default:
			c.Change, c.OldDType, c.OldShape = Changed, old.DType, old.Shape
			jobs = append(jobs, &c)
			continue
		}
		ck.Tensors = append(ck.Tensors, c)
	}
	for _, t := range oc.Tensors {
		if !seen[tensorKey{t.Weight, t.Name}] {
			ck.Tensors = append(ck.Tensors, TensorChange{Name: t.Name, Weight: t.Weight, Change: Removed, OldDType: t.DType, OldShape: t.Shape, old: t})
		}
	}
	if err := measureAll(ctx, oc, nc, jobs, o.Workers); err != nil {
		return err
	}
	for _, c := range jobs {
		if c.sums.equal {
			ck.Unchanged++
			continue
		}
		if c.old.DType.Float() && c.new.DType.Float() {
			c.Relative, c.Infinite, c.Note = c.sums.relative()
		} else {
			c.Note = fmt.Sprintf("%s elements changed: not a floating-point tensor, the change is not measured", c.new.DType)
		}
		ck.Tensors = append(ck.Tensors, *c)
	}
	ck.Groups = groups(jobs, o.Depth)
	slices.SortStableFunc(ck.Tensors, func(a, b TensorChange) int { return byChange(a.Relative, a.Infinite, b.Relative, b.Infinite) })
	return nil
}

// byChange orders the largest (or an unmeasurable) change first.
func byChange(ra *float64, ia bool, rb *float64, ib bool) int {
	va, vb := -1.0, -1.0
	if ra != nil {
		va = *ra
	}
	if rb != nil {
		vb = *rb
	}
	if ia {
		va = math.Inf(1)
	}
	if ib {
		vb = math.Inf(1)
	}
	switch {
	case va > vb:
		return -1
	case va < vb:
		return 1
	}
	return 0
}

// groups sums the measured tensors by the first depth components of their
// names ("." for weights, "/" for the rest) and returns the groups in which
// something changed.
func groups(jobs []*TensorChange, depth int) []Group {
	type acc struct {
		g Group
		s sums
	}
	by := map[tensorKey]*acc{}
	var order []tensorKey
	for _, c := range jobs {
		if !c.old.DType.Float() || !c.new.DType.Float() {
			continue
		}
		k := tensorKey{c.Weight, Prefix(c.Name, c.Weight, depth)}
		a := by[k]
		if a == nil {
			a = &acc{g: Group{Prefix: k.name, Weight: c.Weight}, s: sums{equal: true}}
			by[k] = a
			order = append(order, k)
		}
		a.g.Tensors++
		a.s.d += c.sums.d
		a.s.o += c.sums.o
		a.s.equal = a.s.equal && c.sums.equal
		a.s.nonfinite = a.s.nonfinite || c.sums.nonfinite
	}
	out := []Group{}
	for _, k := range order {
		a := by[k]
		if a.s.equal {
			continue
		}
		a.g.Relative, a.g.Infinite, a.g.Note = a.s.relative()
		out = append(out, a.g)
	}
	slices.SortStableFunc(out, func(a, b Group) int { return byChange(a.Relative, a.Infinite, b.Relative, b.Infinite) })
	return out
}

// Prefix returns the first depth components of a tensor name: split at "."
// for a weight (a state-dict key), at "/" for other tensors (a key path).
func Prefix(name string, weight bool, depth int) string {
	sep := "/"
	if weight {
		sep = "."
	}
	parts := strings.Split(name, sep)
	if len(parts) > depth {
		parts = parts[:depth]
	}
	return strings.Join(parts, sep)
}

// measureAll measures the jobs with workers goroutines, the largest first.
func measureAll(ctx context.Context, oc, nc *tensors.Checkpoint, jobs []*TensorChange, workers int) error {
	order := slices.Clone(jobs)
	slices.SortStableFunc(order, func(a, b *TensorChange) int { return int(min(max(b.new.Bytes-a.new.Bytes, -1), 1)) })
	ch := make(chan *TensorChange)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range min(workers, max(len(order), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Mapped checkpoints fault when their file shrinks under us: an error, not a crash.
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			m := newMeter()
			for c := range ch {
				s, err := m.measure(ctx, oc, nc, c.old, c.new)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				c.sums = &s
			}
		}()
	}
	for _, c := range order {
		ch <- c
	}
	close(ch)
	wg.Wait()
	return firstErr
}

// chunk is how many elements a comparison reads from each tensor at a time.
const chunk = 1 << 16

// meter holds one worker's buffers.
type meter struct {
	ba, bb []byte
	fa, fb []float64
}

func newMeter() *meter {
	return &meter{ba: make([]byte, chunk*16), bb: make([]byte, chunk*16), fa: make([]float64, 0, chunk), fb: make([]float64, 0, chunk)}
}

// measure streams both tensors (same shape) chunk by chunk.
func (m *meter) measure(ctx context.Context, oc, nc *tensors.Checkpoint, a, b *tensors.Tensor) (s sums, err error) {
	defer func() {
		if r := recover(); r != nil {
			// A memory fault (debug.SetPanicOnFault) has an Addr method; a
			// nil dereference (an address in the first page) stays a crash.
			re, ok := r.(interface {
				runtime.Error
				Addr() uintptr
			})
			if !ok || re.Addr() < 4096 {
				panic(r)
			}
			s, err = sums{}, fmt.Errorf("tensor %q: a checkpoint changed while it was read (%v)", a.Name, re)
		}
	}()
	return m.stream(ctx, oc, nc, a, b)
}

func (m *meter) stream(ctx context.Context, oc, nc *tensors.Checkpoint, a, b *tensors.Tensor) (sums, error) {
	ea, err := oc.Elements(a)
	if err != nil {
		return sums{}, err
	}
	eb, err := nc.Elements(b)
	if err != nil {
		return sums{}, err
	}
	float := a.DType.Float() && b.DType.Float()
	s := sums{equal: a.DType == b.DType}
	for i := 0; ; i++ {
		if i%64 == 0 && ctx.Err() != nil {
			return sums{}, ctx.Err()
		}
		xa, erra := ea.Next(m.ba[:chunk*a.DType.Size()])
		xb, errb := eb.Next(m.bb[:chunk*b.DType.Size()])
		if errors.Is(erra, io.EOF) && errors.Is(errb, io.EOF) {
			return s, nil
		}
		if erra != nil {
			return sums{}, erra
		}
		if errb != nil {
			return sums{}, errb
		}
		same := s.equal && bytes.Equal(xa, xb)
		s.equal = same
		if !float {
			continue
		}
		if same {
			s.o += m.squares(xa, a.DType)
			continue
		}
		if a.DType == "float32" && b.DType == "float32" {
			d, o := diff32(xa, xb)
			s.d += d
			s.o += o
			continue
		}
		m.fa = tensors.Decode(m.fa[:0], xa, a.DType)
		m.fb = tensors.Decode(m.fb[:0], xb, b.DType)
		if len(m.fa) != len(m.fb) {
			return sums{}, fmt.Errorf("tensor %q: chunks of %d and %d elements", a.Name, len(m.fa), len(m.fb))
		}
		for i, x := range m.fa {
			d := m.fb[i] - x
			s.d += d * d
			s.o += x * x
		}
	}
}

// squares returns Σx² of the elements in b.
func (m *meter) squares(b []byte, d tensors.DType) float64 {
	if d == "float32" {
		_, o := diff32(b, b)
		return o
	}
	m.fa = tensors.Decode(m.fa[:0], b, d)
	var o float64
	for _, x := range m.fa {
		o += x * x
	}
	return o
}
