package config

// kind is the shape of a node of a parsed config.
type kind int

const (
	scalar kind = iota
	mapping
	sequence
)

// node is a parsed config value, the same for JSON and YAML: mappings keep
// their keys in order and keep duplicates (every occurrence is audited, so
// it does not matter which one a loader keeps).
type node struct {
	kind   kind
	keys   []string // mapping keys, as text
	vals   []*node  // mapping values, or sequence items
	str    string   // scalar text
	isStr  bool     // the scalar is a string (not a number, bool or null)
	tag    string   // YAML tag when it is not a standard one
	offset int64    // byte offset of the value in the file
	end    int64    // byte offset after a JSON string's closing quote; 0 otherwise
}
