package pickle

import (
	"errors"
	"fmt"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Containers whose mutating opcodes are plain data operations: lists, dicts,
// sets, and objects made by these allowed constructors.
var containerTypes = map[string]kind{
	"collections.OrderedDict": kDict, "collections.defaultdict": kDict, "collections.Counter": kDict,
	"builtins.dict": kDict, "__builtin__.dict": kDict, "builtins.set": kSet, "builtins.list": kList,
}

// factories are the defaultdict factories allowed where collections.defaultdict
// is: builtin types whose call without arguments makes an empty value. A
// checkpoint holding defaultdict(list) names builtins.list only for that; the
// same global used any other way (called, patched, kept as data) is reported.
var factories = map[string]bool{
	"builtins.list": true, "builtins.dict": true, "builtins.set": true, "builtins.frozenset": true,
	"builtins.tuple": true, "builtins.int": true, "builtins.float": true, "builtins.complex": true,
	"builtins.str": true, "builtins.bytes": true, "builtins.bytearray": true, "builtins.bool": true,
}

// reportGlobal reports a global that is not allowed, once.
func (m *machine) reportGlobal(n *node) {
	if n.reported {
		return
	}
	n.reported = true
	sev, why := scan.Grade(n.module, n.name)
	m.finding(int(n.off), n.op, sev, "pickle/global-not-allowed", n.module+"."+n.name, why)
}

// flushPending reports, at the end of a stream, every factory global that
// was not used as the factory of an allowed defaultdict.
func (m *machine) flushPending() {
	for _, n := range m.pending {
		if !n.factory {
			m.reportGlobal(n)
		}
	}
	m.pending = m.pending[:0]
}

// call models REDUCE, NEWOBJ, NEWOBJ_EX, INST and OBJ: callee(*args).
func (m *machine) call(off int, op byte, callee, args value) value {
	res := value{k: kCall, n: &node{callee: &callee, off: int64(off)}}
	if m.opt.Tree {
		res.n.args = &args
	}
	if callee.k == kGlobal && callee.n.pending {
		m.reportGlobal(callee.n) // a factory called directly, not by a defaultdict
	}
	if callee.k == kGlobal && callee.n.allowed && callee.globalName() == "collections.defaultdict" && op != opNEWOBJ && op != opNEWOBJ_EX &&
		args.k == kTuple && len(args.n.items) > 0 && args.n.items[0].k == kGlobal && args.n.items[0].n.pending {
		// defaultdict(factory, ...) through REDUCE, INST or OBJ: __init__ sets
		// default_factory. (NEWOBJ calls only __new__, which ignores it.)
		args.n.items[0].n.factory = true
	}
	if callee.k != kGlobal {
		m.finding(off, op, scan.Critical, "pickle/computed-call", "",
			fmt.Sprintf("%s calls a %s that is not a named global: the callee is computed at load time", opName(op), callee.k))
		return res
	}
	name := callee.globalName()
	if k, ok := containerTypes[name]; ok && callee.n.allowed {
		res.k = k
	}
	if name == "copyreg.add_extension" && args.k == kTuple && len(args.n.items) == 3 {
		// Remember constant registrations, so later EXT opcodes resolve.
		it := args.n.items
		if it[0].k == kStr && it[1].k == kStr && it[2].k == kInt {
			m.ext[it[2].i] = name2{m.text(it[0]), m.text(it[1])}
		}
	}
	if !callee.n.allowed {
		return res // reported where the global was named
	}
	switch name {
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_tensor":
		m.rebuild(off, args, res.n)
	}
	return res
}

// rebuild records a tensor rebuild with constant arguments:
// (storage, storage_offset, size, stride, ...).
func (m *machine) rebuild(off int, args value, n *node) {
	if args.k != kTuple || len(args.n.items) < 4 {
		m.finding(off, opREDUCE, scan.Medium, "torch/rebuild-args", "torch._utils._rebuild_tensor_v2", "tensor rebuild without (storage, offset, size, stride) arguments")
		return
	}
	it := args.n.items
	st, o := it[0], it[1]
	if st.k != kPersist || st.n.storage == nil || o.k != kInt {
		m.finding(off, opREDUCE, scan.Medium, "torch/rebuild-args", "torch._utils._rebuild_tensor_v2", "tensor rebuild whose storage or offset is not a constant storage reference")
		return
	}
	size, ok1 := intTuple(it[2])
	stride, ok2 := intTuple(it[3])
	if !ok1 || !ok2 {
		m.finding(off, opREDUCE, scan.Medium, "torch/rebuild-args", "torch._utils._rebuild_tensor_v2", "tensor rebuild whose size or stride is not a tuple of integers")
		return
	}
	r := TensorRebuild{StorageKey: st.n.storage.Key, StorageOffset: o.i, Size: size, Stride: stride, Offset: int64(off)}
	n.rebuild = &r
	m.res.Rebuilds = append(m.res.Rebuilds, r)
}

func intTuple(v value) ([]int64, bool) {
	// More than maxTupleItems sizes: refused with or without Options.Tree.
	if v.k != kTuple || v.n.truncated || v.n.long {
		return nil, false
	}
	out := make([]int64, 0, len(v.n.items))
	for _, x := range v.n.items {
		if x.k != kInt {
			return nil, false
		}
		out = append(out, x.i)
	}
	return out, true
}

// build models BUILD: obj.__setstate__(state) or obj.__dict__.update(state).
func (m *machine) build(off int, op byte) error {
	state, err := m.pop()
	if err != nil {
		return err
	}
	obj, err := m.top()
	if err != nil {
		return err
	}
	if obj.n != nil && obj.n.callee != nil {
		if m.opt.Tree && obj.k == kCall {
			obj.n.state = &state
		}
		// An object made by a call: BUILD runs its class's __setstate__. The
		// class was checked where it was named (an OrderedDict state dict
		// receives its _metadata this way).
		return nil
	}
	switch obj.k {
	case kPersist:
		return nil
	case kGlobal:
		sev := scan.Critical
		m.finding(off, op, sev, "pickle/build-on-global", obj.globalName(),
			"BUILD sets attributes of a module-level object (a class, function or module): it can patch code that runs later")
	default:
		m.finding(off, op, scan.Medium, "pickle/build-on-data", "", fmt.Sprintf("BUILD on a %s", obj.k))
	}
	return nil
}

// fill models APPEND, APPENDS, SETITEM, SETITEMS and ADDITEMS, which call
// append/extend/__setitem__/add on their target.
func (m *machine) fill(off int, op byte) error {
	var added []value
	switch op {
	case opAPPEND:
		v, err := m.pop()
		if err != nil {
			return err
		}
		added = []value{v}
	case opSETITEM:
		v, err := m.pop()
		if err != nil {
			return err
		}
		k, err := m.pop()
		if err != nil {
			return err
		}
		added = []value{k, v}
	default:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if op == opSETITEMS && len(items)%2 != 0 {
			return fmt.Errorf("odd number of items for SETITEMS")
		}
		added = items
	}
	target, err := m.top()
	if err != nil {
		return err
	}
	m.grow(off, op, *target, added)
	want := map[byte]kind{opAPPEND: kList, opAPPENDS: kList, opSETITEM: kDict, opSETITEMS: kDict, opADDITEMS: kSet}[op]
	switch {
	case target.k == want:
		if err := m.keep(*target, added); err != nil {
			return err
		}
		if m.opt.KeepStrList && want == kList && op != opSETITEM {
			for _, v := range added {
				if len(target.n.items) < m.lim.MaxMembers {
					target.n.items = append(target.n.items, v)
				}
			}
		}
	case target.k == kCall:
		if target.n.callee.k == kGlobal && !target.n.callee.n.allowed {
			return nil // the object's class was already reported
		}
		m.finding(off, op, scan.Medium, "pickle/method-call", target.n.callee.globalName(),
			fmt.Sprintf("%s calls a method of an object that is not a %s", opName(op), want))
	case target.k == kGlobal:
		m.finding(off, op, scan.High, "pickle/method-call", target.globalName(),
			fmt.Sprintf("%s calls a method of a module-level object", opName(op)))
	default:
		m.finding(off, op, scan.Medium, "pickle/method-call", "", fmt.Sprintf("%s on a %s", opName(op), target.k))
	}
	return nil
}

// persistent models PERSID/BINPERSID. In torch checkpoints the id is
// ('storage', storage_type, key, location, numel[, view_metadata]).
func (m *machine) persistent(off int, op byte, pid value) value {
	v := value{k: kPersist, n: &node{off: int64(off)}}
	if !m.opt.Torch {
		m.finding(off, op, scan.Medium, "pickle/persistent-id", "", "persistent id: what it loads is decided by the loader, not the file")
		return v
	}
	if pid.k == kInt || pid.k == kStr {
		// Legacy tar checkpoints name their storages and tensors by key.
		if m.opt.Tree {
			v.n.items = []value{pid}
		}
		return v
	}
	if pid.k == kTuple && len(pid.n.items) >= 5 && len(pid.n.items) <= 6 {
		it := pid.n.items
		if it[0].k == kStr && m.text(it[0]) == "storage" && it[1].k == kGlobal && it[2].k == kStr && it[3].k == kStr && it[4].k == kInt {
			ref := StorageRef{Key: m.text(it[2]), Type: it[1].globalName(), Location: m.text(it[3]), Numel: it[4].i, Offset: int64(off)}
			v.n.storage = &ref
			m.res.Storages = append(m.res.Storages, ref)
			return v
		}
	}
	m.finding(off, op, scan.Medium, "torch/persistent-id", "", "persistent id is not a torch storage reference ('storage', type, key, location, numel)")
	return v
}

// errNoPersistentLoad is CPython's error for PERSID/BINPERSID read by
// pickle.load without a persistent_load function.
var errNoPersistentLoad = errors.New("a load persistent id instruction was encountered, but no persistent_load function was specified")

// persistentOp reads the persistent id of PERSID (a line) or BINPERSID
// (the top of the stack) and pushes what persistent_load returns.
func (m *machine) persistentOp(off int, op byte) error {
	if op == opPERSID {
		line, err := m.readLine()
		if err != nil {
			return err
		}
		return m.push(m.persistent(off, op, m.strValue(line)))
	}
	pid, err := m.pop()
	if err != nil {
		return err
	}
	return m.push(m.persistent(off, op, pid))
}
