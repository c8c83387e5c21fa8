package pickle

import (
	"fmt"
	"math"
	"strconv"
)

// Kind is the type of a materialised value (Object).
type Kind string

// Kinds of Object.
const (
	KindNone       Kind = "None"
	KindBool       Kind = "bool"
	KindInt        Kind = "int" // Int; a big integer has Str (decimal; "" and Truncated when longer than 64 bytes)
	KindFloat      Kind = "float"
	KindStr        Kind = "str" // Str; a string longer than Limits.MaxStringInMemo has Truncated
	KindBytes      Kind = "bytes"
	KindTuple      Kind = "tuple"
	KindList       Kind = "list"
	KindDict       Kind = "dict"
	KindSet        Kind = "set"
	KindFrozenSet  Kind = "frozenset"
	KindGlobal     Kind = "global"     // Str: "module.name"
	KindObject     Kind = "object"     // the result of a call: Str names the callee ("" when it is not a named global)
	KindPersistent Kind = "persistent" // what persistent_load returns: Storage when it is a torch storage, the key (Items[0]) when it is a legacy tar checkpoint's
	KindOther      Kind = "other"      // a mark, a buffer, a value the machine does not track
)

// Object is a value a pickle stream builds, as far as it can be known
// without importing or calling anything (Options.Tree). Containers built by
// the allowed constructors of dict-like types (collections.OrderedDict, ...)
// are KindDict. Objects can be shared, and a stream can build cycles: a walk
// must track the objects on its path.
type Object struct {
	Kind      Kind
	Str       string
	Int       int64
	Float     float64
	Truncated bool
	// Items: the elements of a tuple, list, set or frozenset; the values of a
	// dict (Keys holds the keys, in insertion order; a key set twice keeps its
	// first place and its last value, as Python's dict does, for str, int and
	// bool keys); the arguments of a KindObject call.
	Items []*Object
	Keys  []*Object
	State *Object // KindObject: the state BUILD gave it, nil when none
	// Tensor is set on the result of a torch tensor rebuild call with
	// constant arguments (torch._utils._rebuild_tensor_v2 and its kin).
	Tensor  *TensorRebuild
	Storage *StorageRef // KindPersistent: a torch storage reference
}

// Text returns the key text of a str, int or bool Object (a dict key as a
// path segment) and whether it has one.
func (o *Object) Text() (string, bool) {
	switch o.Kind {
	case KindStr:
		return o.Str, !o.Truncated
	case KindInt:
		if o.Str != "" {
			return o.Str, true
		}
		return strconv.FormatInt(o.Int, 10), true
	case KindBool:
		if o.Int != 0 {
			return "True", true
		}
		return "False", true
	}
	return "", false
}

// Get returns the value of the str key k of a dict, or nil.
func (o *Object) Get(k string) *Object {
	if o == nil || o.Kind != KindDict {
		return nil
	}
	for i, key := range o.Keys {
		if key.Kind == KindStr && !key.Truncated && key.Str == k {
			return o.Items[i]
		}
	}
	return nil
}

// keep records items added to container c (Options.Tree), within the limit.
func (m *machine) keep(c value, items []value) error {
	if !m.opt.Tree || c.n == nil || len(items) == 0 {
		return nil
	}
	m.treeItems += len(items)
	if m.treeItems > m.lim.MaxTreeItems {
		return fmt.Errorf("more than %d container items kept: %w", m.lim.MaxTreeItems, ErrLimit)
	}
	c.n.kept = append(c.n.kept, items...)
	return nil
}

// materialise converts the value v (and everything it holds) to Objects.
// Shared nodes become shared Objects; nesting deeper than
// Limits.MaxTreeDepth is an ErrLimit error.
func (m *machine) materialise(v value) (*Object, error) {
	t := &treeBuilder{m: m, seen: map[*node]*Object{}}
	return t.object(v, 0)
}

type treeBuilder struct {
	m    *machine
	seen map[*node]*Object
}

func (t *treeBuilder) object(v value, depth int) (*Object, error) {
	if depth > t.m.lim.MaxTreeDepth {
		return nil, fmt.Errorf("values nested deeper than %d levels: %w", t.m.lim.MaxTreeDepth, ErrLimit)
	}
	if v.n != nil {
		if o, ok := t.seen[v.n]; ok {
			return o, nil
		}
	}
	o := &Object{}
	if v.n != nil {
		t.seen[v.n] = o
	}
	switch v.k {
	case kNone:
		o.Kind = KindNone
	case kBool:
		o.Kind, o.Int = KindBool, v.i
	case kInt:
		o.Kind, o.Int = KindInt, v.i
	case kBigInt:
		o.Kind, o.Str, o.Truncated = KindInt, v.s, v.s == ""
	case kFloat:
		o.Kind, o.Float = KindFloat, math.Float64frombits(uint64(v.i))
	case kStr:
		o.Kind, o.Str = KindStr, t.m.text(v)
	case kLongStr:
		o.Kind, o.Truncated = KindStr, true
	case kBytes:
		o.Kind = KindBytes
	case kGlobal:
		o.Kind, o.Str = KindGlobal, v.globalName()
	case kPersist:
		o.Kind, o.Storage = KindPersistent, v.n.storage
		if len(v.n.items) == 1 { // a legacy tar checkpoint's key: Items[0]
			return o, t.items(o, v.n.items, depth)
		}
	case kTuple:
		o.Kind, o.Truncated = KindTuple, v.n.truncated
		return o, t.items(o, v.n.items, depth)
	case kList, kSet, kFrozenSet:
		o.Kind = map[kind]Kind{kList: KindList, kSet: KindSet, kFrozenSet: KindFrozenSet}[v.k]
		return o, t.items(o, v.n.kept, depth)
	case kDict:
		o.Kind = KindDict
		return o, t.dict(o, v.n.kept, depth)
	case kCall:
		o.Kind, o.Str, o.Tensor = KindObject, v.n.callee.globalName(), v.n.rebuild
		if v.n.args != nil && v.n.args.k == kTuple {
			if err := t.items(o, v.n.args.n.items, depth); err != nil {
				return nil, err
			}
		}
		if v.n.state != nil {
			s, err := t.object(*v.n.state, depth+1)
			if err != nil {
				return nil, err
			}
			o.State = s
		}
	default:
		o.Kind = KindOther
	}
	return o, nil
}

func (t *treeBuilder) items(o *Object, vs []value, depth int) error {
	o.Items = make([]*Object, 0, len(vs))
	for _, it := range vs {
		c, err := t.object(it, depth+1)
		if err != nil {
			return err
		}
		o.Items = append(o.Items, c)
	}
	return nil
}

// dict builds a dict from alternating keys and values, with Python's
// semantics for a key set twice.
func (t *treeBuilder) dict(o *Object, kv []value, depth int) error {
	at := map[string]int{}
	for i := 0; i+1 < len(kv); i += 2 {
		k, err := t.object(kv[i], depth+1)
		if err != nil {
			return err
		}
		v, err := t.object(kv[i+1], depth+1)
		if err != nil {
			return err
		}
		id, hashable := keyID(k)
		if j, dup := at[id]; hashable && dup {
			o.Items[j] = v
			continue
		}
		if hashable {
			at[id] = len(o.Keys)
		}
		o.Keys = append(o.Keys, k)
		o.Items = append(o.Items, v)
	}
	return nil
}

// keyID identifies str, int and bool keys as Python's dict compares them
// (True == 1).
func keyID(k *Object) (string, bool) {
	switch k.Kind {
	case KindStr:
		return "s" + k.Str, !k.Truncated
	case KindInt, KindBool:
		if k.Str != "" {
			return "i" + k.Str, true
		}
		return "i" + strconv.FormatInt(k.Int, 10), true
	}
	return "", false
}
