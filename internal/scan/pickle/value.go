package pickle

// kind is the symbolic type of a stack value.
type kind uint8

const (
	kUnknown kind = iota
	kMark
	kNone
	kBool
	kInt // i holds the value when small; big ints are kUnknownInt
	kBigInt
	kFloat
	kStr // s holds the value when short enough (long strings: kLongStr)
	kLongStr
	kBytes
	kTuple // n.items holds up to maxTupleItems elements
	kList
	kDict
	kSet
	kFrozenSet
	kGlobal  // n.module, n.name
	kCall    // result of REDUCE/NEWOBJ/NEWOBJ_EX/INST/OBJ: n.callee
	kPersist // result of persistent_load: n.items (the pid tuple)
	kBuffer  // out-of-band buffer
)

const maxTupleItems = 16

// value is a symbolic Python object. Scalars live in the struct (no
// allocation); containers, globals and call results share a node, so memo
// references keep identity.
type value struct {
	k kind
	i int64
	s string
	n *node
}

type node struct {
	module, name string  // kGlobal
	callee       *value  // kCall: what was called
	items        []value // kTuple (first maxTupleItems), kPersist
	truncated    bool    // kTuple with more items than kept
	long         bool    // kTuple with more than maxTupleItems items, all kept (Options.Tree)
	off          int64   // where the value was made
	allowed      bool    // kGlobal: on the allowlist
	weight       int64   // objects this container stands for when expanded (0: 1)
	rebuild      *TensorRebuild
	storage      *StorageRef
	// A global on the defaultdict factory list (see factories) is not
	// reported where it is named but when the stream ends, unless it was
	// only used as the factory of an allowed collections.defaultdict.
	pending  bool // kGlobal: its finding waits for the end of the stream
	factory  bool // kGlobal: used as a defaultdict factory
	reported bool // kGlobal: its finding was made
	op       byte // kGlobal: the opcode that named it
	// With Options.Tree (tree.go):
	kept  []value // kList, kSet, kFrozenSet: items; kDict: keys and values, alternating
	args  *value  // kCall: the arguments (a tuple)
	state *value  // kCall: what BUILD gave it
}

// calleeName returns "module.name" for a call of a global, else "".
func (v value) globalName() string {
	if v.k == kGlobal {
		return v.n.module + "." + v.n.name
	}
	return ""
}

func (k kind) String() string {
	switch k {
	case kMark:
		return "mark"
	case kNone:
		return "None"
	case kBool:
		return "bool"
	case kInt, kBigInt:
		return "int"
	case kFloat:
		return "float"
	case kStr, kLongStr:
		return "str"
	case kBytes:
		return "bytes"
	case kTuple:
		return "tuple"
	case kList:
		return "list"
	case kDict:
		return "dict"
	case kSet:
		return "set"
	case kFrozenSet:
		return "frozenset"
	case kGlobal:
		return "global"
	case kCall:
		return "object"
	case kPersist:
		return "persistent object"
	case kBuffer:
		return "buffer"
	}
	return "unknown"
}
