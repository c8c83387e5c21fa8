package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// standardTags are the tags yaml.safe_load (PyYAML's SafeLoader) constructs.
// Any other tag makes safe_load fail, and the python/ ones are how unsafe
// loaders are made to run code.
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!map": true,
	"!!seq": true, "!!binary": true, "!!timestamp": true, "!!set": true, "!!omap": true,
	"!!pairs": true, "!!merge": true, "!!value": true, "!": true,
}

// parseYAML parses data as one YAML document into a node tree. Aliases are
// expanded (an alias under a path field is as dangerous as a literal), with
// at most budget nodes in all, so that alias bombs stop.
func parseYAML(data []byte, budget int) (n *node, err error) {
	defer func() {
		// The YAML library is third-party code fed hostile input: a panic
		// in it makes the file unscannable, not the scanner crash.
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty YAML document")
		}
		return nil, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document (yaml.safe_load refuses the file)")
	}
	c := &yamlConv{lines: lineStarts(data), data: data, budget: budget}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) != 1 {
			return nil, errors.New("empty YAML document")
		}
		root = root.Content[0]
	}
	return c.convert(root, 0)
}

type yamlConv struct {
	lines  []int // byte offset of each line start
	data   []byte
	budget int
}

// lineStarts returns the byte offset of each line start, with the line
// breaks the YAML parser counts: LF, CR LF, a lone CR, and NEL, LS and PS.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\n':
			starts = append(starts, i+1)
		case data[i] == '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			starts = append(starts, i+1)
		case bytes.HasPrefix(data[i:], nel):
			i++
			starts = append(starts, i+1)
		case bytes.HasPrefix(data[i:], lineSep) || bytes.HasPrefix(data[i:], paraSep):
			i += 2
			starts = append(starts, i+1)
		}
	}
	return starts
}

// Unicode line breaks YAML 1.1 (and so the parser) counts: NEL, LS, PS.
var (
	nel     = []byte("\u0085")
	lineSep = []byte("\u2028")
	paraSep = []byte("\u2029")
)

// offset turns a 1-based line and column (in characters) into a byte offset.
// A position the line table does not know (the parser and lineStarts
// disagree on a line break) falls back to the start of the last line, so a
// finding always points inside the file.
func (c *yamlConv) offset(line, col int) int64 {
	if line < 1 {
		return 0
	}
	if line > len(c.lines) {
		return int64(c.lines[len(c.lines)-1])
	}
	off := c.lines[line-1]
	for i := 1; i < col && off < len(c.data) && c.data[off] != '\n' && c.data[off] != '\r'; i++ {
		_, size := utf8.DecodeRune(c.data[off:])
		off += size
	}
	return int64(off)
}

func (c *yamlConv) convert(y *yaml.Node, depth int) (*node, error) {
	if c.budget--; c.budget < 0 {
		return nil, errors.New("YAML expands to too many nodes (alias bomb?)")
	}
	if depth > maxDepth {
		return nil, fmt.Errorf("YAML nested deeper than %d", maxDepth)
	}
	n := &node{offset: c.offset(y.Line, y.Column)}
	tag := y.ShortTag()
	if !standardTags[tag] {
		n.tag = tag
	}
	switch y.Kind {
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, errors.New("YAML alias without an anchor")
		}
		a, err := c.convert(y.Alias, depth+1)
		if err != nil {
			return nil, err
		}
		a.offset = n.offset
		return a, nil
	case yaml.ScalarNode:
		n.str = y.Value
		switch tag {
		case "!!null", "!!bool", "!!int", "!!float", "!!timestamp":
		case "!!binary":
			// safe_load returns bytes, which np.load and open take as a path.
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(y.Value), ""))
			if err != nil {
				return nil, fmt.Errorf("bad !!binary value: %v", err)
			}
			n.str, n.isStr = string(b), true
		default:
			n.isStr = true
		}
		return n, nil
	case yaml.SequenceNode:
		n.kind = sequence
		for _, item := range y.Content {
			v, err := c.convert(item, depth+1)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		return n, nil
	case yaml.MappingNode:
		n.kind = mapping
		return n, c.mapping(n, y, depth)
	}
	return nil, fmt.Errorf("unexpected YAML node kind %d", y.Kind)
}

// mapping fills n with the pairs of y; merge keys ("<<") bring their
// mappings' pairs in at the same level, as PyYAML does.
func (c *yamlConv) mapping(n *node, y *yaml.Node, depth int) error {
	if len(y.Content)%2 != 0 {
		return errors.New("YAML mapping with an odd number of nodes")
	}
	for i := 0; i < len(y.Content); i += 2 {
		k, v := y.Content[i], y.Content[i+1]
		kn, err := c.convert(k, depth+1)
		if err != nil {
			return err
		}
		vn, err := c.convert(v, depth+1)
		if err != nil {
			return err
		}
		if k.ShortTag() == "!!merge" {
			merged := []*node{vn}
			if vn.kind == sequence {
				merged = vn.vals
			}
			for _, m := range merged {
				if m.kind != mapping {
					return errors.New("YAML merge key whose value is not a mapping")
				}
				n.keys, n.vals = append(n.keys, m.keys...), append(n.vals, m.vals...)
			}
			continue
		}
		key := kn.str
		if kn.kind != scalar {
			key = fmt.Sprintf("<%s key>", map[kind]string{mapping: "mapping", sequence: "sequence"}[kn.kind])
			// A complex key is unusual in a config; its own contents are audited too.
			n.keys, n.vals = append(n.keys, key), append(n.vals, kn)
		}
		if kn.tag != "" {
			n.keys, n.vals = append(n.keys, key), append(n.vals, &node{tag: kn.tag, offset: kn.offset})
		}
		n.keys, n.vals = append(n.keys, key), append(n.vals, vn)
	}
	return nil
}
