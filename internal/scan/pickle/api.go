// Package pickle decodes Python pickle streams (protocols 0 to 5) with
// CPython's semantics and runs them on a symbolic stack machine that never
// imports or calls anything. It reports every global the stream references
// that the policy does not allow, every call whose target is not a constant
// allowed global, and every construct that can only serve to hide one.
package pickle

import "errors"

// ErrTruncated is wrapped by errors that come from the data ending before
// the stream does (as opposed to bytes that are not a valid pickle).
var ErrTruncated = errors.New("pickle data was truncated")

// ErrLimit is wrapped by errors that come from a scan limit (opcodes, stack,
// marks, memo entries or reads) rather than from the data: the stream is not
// shown to end anywhere, so its reader cannot treat it as "not a pickle".
var ErrLimit = errors.New("pickle scan limit reached")

// Options say how a pickle stream is embedded.
type Options struct {
	// Stacked reads pickle after pickle until the end of data (raw pickle
	// files). Without it, Scan stops after the first STOP and reports its end.
	Stacked bool
	// Torch accepts persistent ids of torch's ('storage', type, key,
	// location, numel) shape and records them as storages; otherwise any
	// PERSID/BINPERSID is a finding (plain pickle.load fails on it).
	Torch bool
	// KeepStrList records the strings of a list that is the stream's result
	// (legacy torch files list their storage keys that way).
	KeepStrList bool
	// Plain reads the stream as pickle.load does without a persistent_load
	// function (numpy's pickle fallback, the first pickles of torch's legacy
	// path): PERSID and BINPERSID stop it with an error, as in CPython.
	Plain bool
	// Tree keeps what the symbolic machine otherwise forgets: the contents of
	// dicts, lists, sets and tuples, the arguments of calls and the state BUILD
	// gives an object, so that Result.Root describes the value of the (last)
	// stream: a state dict's keys and the tensors they name. Nothing is
	// imported or called; an object is its callee's name and arguments. The
	// items kept are bounded by Limits.MaxTreeItems and their nesting by
	// Limits.MaxTreeDepth (exceeding either is an ErrLimit error).
	Tree bool
}

// StorageRef is a torch storage named by a persistent id.
type StorageRef struct {
	Key      string // data/<key> in a zip checkpoint
	Type     string // "torch.FloatStorage", or the dtype for UntypedStorage
	Location string
	Numel    int64 // elements (typed storages) or bytes (untyped)
	Offset   int64 // offset of the BINPERSID opcode
}

// TensorRebuild is a call of torch._utils._rebuild_tensor_v2 (or _v3, or
// _rebuild_tensor) with constant arguments.
type TensorRebuild struct {
	StorageKey    string
	StorageOffset int64
	Size          []int64
	Stride        []int64
	Offset        int64 // offset of the REDUCE opcode
}

// Result is what a scan learned beyond its findings.
type Result struct {
	Streams  int   // pickle streams read
	End      int64 // offset just after the last STOP read
	Opcodes  int64
	Storages []StorageRef
	Rebuilds []TensorRebuild
	StrList  []string // with KeepStrList: the result list's strings, in order
	Result   string   // symbolic type of the last stream's result ("dict", "int", ...)
	Int      int64    // the last stream's result when it is a small int
	// IntText is the last stream's result in decimal when it is an int of at
	// most 64 bytes (torch's legacy magic number is one of 77 bits), else "".
	IntText string
	Globals []string // every global named, "module.name", in order (first 64)
	// FirstUnimportable is the offset of the first GLOBAL, INST or
	// STACK_GLOBAL whose module is not a dotted identifier (CPython's
	// find_class raises there), -1 when there is none.
	FirstUnimportable int64
	// Root is the value of the last stream read, with Options.Tree (tree.go).
	Root *Object
}
