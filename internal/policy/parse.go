package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parser walks the YAML node tree of one policy file.
type parser struct {
	file     string
	lines    map[string]int // line of each file path value, by key path
	deferred []func() error // checks that need the whole file
}

// Parse parses and validates a policy; name is the file name its errors
// report. Relative file paths are kept as written (Load resolves them) and no
// file is read. Errors are *Error values wrapping ErrInvalid.
func Parse(name string, data []byte) (*Policy, error) {
	p, _, err := parseLines(name, data)
	return p, err
}

// yamlLine matches yaml.v3's syntax errors, "yaml: line N: message".
var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

func (ps *parser) syntaxError(err error) error {
	e := &Error{File: ps.file, Msg: err.Error()}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	return e
}

// parseLines parses a policy and also returns the line of every file path
// value, by key path (see pathFields).
func parseLines(name string, data []byte) (*Policy, map[string]int, error) {
	ps := &parser{file: name, lines: map[string]int{}}
	if len(data) > MaxFileSize {
		return nil, nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	root := &yaml.Node{Kind: yaml.MappingNode}
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, nil, ps.syntaxError(err)
	case len(doc.Content) == 1:
		root = doc.Content[0]
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, nil, ps.syntaxError(err)
	default:
		return nil, nil, ps.errf(&extra, "", "only one YAML document is allowed")
	}
	p, err := ps.policy(root)
	if err != nil {
		return nil, nil, err
	}
	for _, check := range ps.deferred {
		if err := check(); err != nil {
			return nil, nil, err
		}
	}
	return p, ps.lines, nil
}

func (ps *parser) errf(n *yaml.Node, key, format string, args ...any) *Error {
	return &Error{File: ps.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// describe names what a node is, for type errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch t := n.ShortTag(); t {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	default:
		return fmt.Sprintf("a value tagged %q", t)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// wantType is the error for a value of the wrong type; aliases get their own.
func (ps *parser) wantType(n *yaml.Node, key, want string) error {
	if n.Kind == yaml.AliasNode {
		return ps.errf(n, key, "aliases are not allowed")
	}
	return ps.errf(n, key, "want %s, got %s", want, describe(n))
}

// str decodes a string scalar; null is "".
func (ps *parser) str(n *yaml.Node, key string) (string, error) {
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", ps.wantType(n, key, "a string")
	}
	return n.Value, nil
}

// strList decodes a list of strings; null is nil.
func (ps *parser) strList(n *yaml.Node, key string) ([]string, []*yaml.Node, error) {
	if isNull(n) {
		return nil, nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, nil, ps.wantType(n, key, "a list of strings")
	}
	out := make([]string, 0, len(n.Content))
	for i, item := range n.Content {
		s, err := ps.str(item, fmt.Sprintf("%s[%d]", key, i))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
	}
	return out, n.Content, nil
}

func (ps *parser) boolean(n *yaml.Node, key string) (bool, error) {
	if isNull(n) {
		return false, nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, ps.wantType(n, key, "true or false")
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, ps.wantType(n, key, "true or false")
	}
	return b, nil
}

// mapping walks a mapping node whose keys are strings given once; known
// lists the keys allowed (nil: any key). null is an empty mapping.
func (ps *parser) mapping(n *yaml.Node, key string, known []string, fn func(k string, kn, vn *yaml.Node) error) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return ps.wantType(n, key, "a mapping")
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode || kn.ShortTag() != "!!str" {
			if kn.Kind == yaml.ScalarNode && kn.ShortTag() == "!!merge" {
				return ps.errf(kn, key, "merge keys (<<) are not allowed")
			}
			return ps.errf(kn, key, "want a string key, got %s", describe(kn))
		}
		k := kn.Value
		if known != nil && !contains(known, k) {
			return ps.errf(kn, key, "unknown key %q", k)
		}
		if line, dup := seen[k]; dup {
			return ps.errf(kn, key, "key %q is given twice (first on line %d)", k, line)
		}
		seen[k] = kn.Line
		if vn.Kind == yaml.AliasNode {
			return ps.errf(vn, join(key, k), "aliases are not allowed")
		}
		if err := fn(k, kn, vn); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// join appends a key to a key path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var topKeys = []string{"version", "store", "sources", "ca_bundle", "signers", "models", "scan", "run", "access", "dataset", "channels"}

func (ps *parser) policy(root *yaml.Node) (*Policy, error) {
	p := &Policy{}
	sourcesSet := false
	var versionNode *yaml.Node
	err := ps.mapping(root, "", topKeys, func(k string, kn, vn *yaml.Node) error {
		var err error
		switch k {
		case "version":
			versionNode = vn
		case "store":
			err = ps.store(p, vn)
		case "sources":
			sourcesSet = !isNull(vn)
			err = ps.sources(p, vn)
		case "ca_bundle":
			if p.CABundle, err = ps.str(vn, k); err == nil && p.CABundle != "" {
				err = ps.path(vn, k, p.CABundle)
			}
		case "signers":
			err = ps.signers(p, vn)
		case "models":
			err = ps.models(p, vn)
		case "scan":
			err = ps.scan(p, vn)
		case "run":
			err = ps.run(p, vn)
		case "dataset":
			err = ps.dataset(p, vn)
		case "access":
			err = ps.access(p, vn)
		case "channels":
			err = ps.channels(p, vn)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := ps.version(p, root, versionNode); err != nil {
		return nil, err
	}
	if !sourcesSet {
		p.Sources = defaultSources()
	}
	if p.Scan.Profile == "" {
		p.Scan.Profile = ProfileCoqui
	}
	return p, nil
}

func (ps *parser) version(p *Policy, root, vn *yaml.Node) error {
	if vn == nil || isNull(vn) {
		return &Error{File: ps.file, Key: "version", Msg: "missing: want version: 1"}
	}
	if vn.Kind != yaml.ScalarNode || vn.ShortTag() != "!!int" {
		return ps.wantType(vn, "version", "an integer")
	}
	if vn.Value != "1" {
		return ps.errf(vn, "version", "unsupported version %s: want 1", vn.Value)
	}
	p.Version = Version
	return nil
}

// path checks a file path value and records its line for Load.
func (ps *parser) path(n *yaml.Node, key, value string) error {
	if strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return ps.errf(n, key, "path %q has a control character", value)
	}
	ps.lines[key] = n.Line
	return nil
}

func (ps *parser) sources(p *Policy, n *yaml.Node) error {
	list, nodes, err := ps.strList(n, "sources")
	if err != nil {
		return err
	}
	seen := map[string]int{}
	for i, s := range list {
		key := fmt.Sprintf("sources[%d]", i)
		if _, err := parseSource(s); err != nil {
			return ps.errf(nodes[i], key, "%v", err)
		}
		if line, dup := seen[s]; dup {
			return ps.errf(nodes[i], key, "%q is listed twice (first on line %d)", s, line)
		}
		seen[s] = nodes[i].Line
	}
	p.Sources = list
	return nil
}
