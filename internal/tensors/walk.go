package tensors

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan/pickle"
)

// parameterRebuilds wrap a tensor into an nn.Parameter: their first argument
// is the tensor.
var parameterRebuilds = map[string]bool{
	"torch._utils._rebuild_parameter": true, "torch._utils._rebuild_parameter_with_state": true,
}

// walker lists the tensors of an unpickled torch checkpoint.
type walker struct {
	storages map[string]*storage
	refs     map[string]pickle.StorageRef // the first reference of each storage key
	out      []*Tensor
	visited  map[*pickle.Object]bool // containers already walked (first path wins)
	reached  map[int64]bool          // rebuild calls listed, by offset
	model    *pickle.Object          // the model's state dict, or nil
	// legacy makes the tensor a legacy tar checkpoint's persistent id names
	// (tar.go); nil for other formats.
	legacy func(key string) *Tensor
}

// isTensor reports whether o is a tensor: a rebuild call, or a legacy tar
// checkpoint's tensor key.
func (w *walker) isTensor(o *pickle.Object) bool {
	if tensorOf(o) != nil {
		return true
	}
	_, ok := legacyKey(o)
	return ok && w.legacy != nil
}

// tensorsOf lists every tensor reachable from the pickle's root through
// dicts, lists, tuples, sets and parameter wrappers, in the order of the
// pickle, then every other tensor rebuild (inside an opaque object) as
// "<unreached>/<offset>".
func tensorsOf(res *pickle.Result, storages map[string]*storage) []*Tensor {
	w := &walker{storages: storages, refs: map[string]pickle.StorageRef{}, visited: map[*pickle.Object]bool{}, reached: map[int64]bool{}}
	for _, s := range res.Storages {
		if _, ok := w.refs[s.Key]; !ok {
			w.refs[s.Key] = s
		}
	}
	w.model = stateDict(res.Root, w.isTensor)
	w.walk(res.Root, nil)
	for _, rb := range res.Rebuilds {
		if w.reached[rb.Offset] {
			continue
		}
		rb := rb
		ref := w.refs[rb.StorageKey]
		t := w.tensor(&rb, &ref, "")
		t.Key = []string{"<unreached>", strconv.FormatInt(rb.Offset, 10)}
		t.Name = strings.Join(t.Key, "/")
		t.Problem = "inside an object this reader does not unpickle"
	}
	return w.out
}

// stateDict returns the model's state dict: root["model"] when it is a dict
// holding tensors (coqui's checkpoints), else root when it holds tensors.
func stateDict(root *pickle.Object, isTensor func(*pickle.Object) bool) *pickle.Object {
	holds := func(d *pickle.Object) bool {
		if d == nil || d.Kind != pickle.KindDict {
			return false
		}
		for _, v := range d.Items {
			if isTensor(v) {
				return true
			}
		}
		return false
	}
	if m := root.Get("model"); holds(m) {
		return m
	}
	if holds(root) {
		return root
	}
	return nil
}

// tensorOf returns the object of the rebuild call o is or wraps, or nil.
func tensorOf(o *pickle.Object) *pickle.Object {
	if o.Kind != pickle.KindObject {
		return nil
	}
	if o.Tensor != nil {
		return o
	}
	if parameterRebuilds[o.Str] && len(o.Items) > 0 && o.Items[0].Tensor != nil {
		return o.Items[0]
	}
	return nil
}

func (w *walker) walk(o *pickle.Object, key []string) {
	if k, ok := legacyKey(o); ok && w.legacy != nil {
		t := w.legacy(k)
		t.Key, t.Name = append([]string(nil), key...), strings.Join(key, "/")
		w.out = append(w.out, t)
		return
	}
	if t := tensorOf(o); t != nil {
		w.reached[t.Tensor.Offset] = true
		var ref *pickle.StorageRef
		if len(t.Items) > 0 {
			ref = t.Items[0].Storage
		}
		dtype := ""
		if len(t.Items) > 6 && t.Items[6].Kind == pickle.KindGlobal { // _rebuild_tensor_v3(..., dtype, metadata)
			dtype = strings.TrimPrefix(t.Items[6].Str, "torch.")
		}
		tt := w.tensor(t.Tensor, ref, DType(dtype))
		tt.Key = append([]string(nil), key...)
		tt.Name = strings.Join(key, "/")
		return
	}
	switch o.Kind {
	case pickle.KindDict, pickle.KindList, pickle.KindTuple, pickle.KindSet, pickle.KindFrozenSet:
	default:
		return // scalars, and objects this reader does not unpickle
	}
	if w.visited[o] {
		return
	}
	w.visited[o] = true
	for i, it := range o.Items {
		seg := strconv.Itoa(i)
		if o.Kind == pickle.KindDict {
			if s, ok := o.Keys[i].Text(); ok {
				seg = s
			} else {
				seg = fmt.Sprintf("<%s key #%d>", o.Keys[i].Kind, i)
			}
		}
		n := len(w.out)
		w.walk(it, append(key, seg))
		if o == w.model && w.isTensor(it) && len(w.out) == n+1 {
			w.out[n].Weight, w.out[n].Name = true, seg
		}
	}
}

// tensor makes the Tensor of a rebuild call on the storage ref names.
func (w *walker) tensor(rb *pickle.TensorRebuild, ref *pickle.StorageRef, dtype DType) *Tensor {
	t := &Tensor{Shape: rb.Size, Stride: rb.Stride, Offset: rb.StorageOffset, Storage: rb.StorageKey, DType: dtype}
	w.out = append(w.out, t)
	if ref == nil {
		t.Problem = "its storage is not a storage reference"
		return t
	}
	if t.DType == "" {
		t.DType = storageDTypes[ref.Type]
		if t.DType == "" {
			t.Problem = fmt.Sprintf("unknown storage type %q", ref.Type)
		}
	}
	if st := w.storages[rb.StorageKey]; st != nil {
		t.st = st
	} else if t.Problem == "" {
		t.Problem = fmt.Sprintf("storage %q has no data", rb.StorageKey)
	}
	return t
}
