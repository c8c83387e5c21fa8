package config

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Decode reads a coqui config.json as coqui's load_config reads JSON:
// json.load (NaN, Infinity and -Infinity accepted), and when that fails its
// comment-stripping fallback. The value is a JSON object: map[string]any
// (a key given twice keeps its last value, as Python's dict), []any,
// float64, string, bool or nil. YAML configs are not decoded here.
func Decode(data []byte) (map[string]any, error) {
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("config is not valid UTF-8")
	}
	text := string(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	n, err := parseJSON(text, false)
	if err != nil {
		var ferr error
		if n, ferr = parseJSON(coquiFallback(text), false); ferr != nil {
			return nil, err
		}
	}
	if n.kind != mapping {
		return nil, fmt.Errorf("config is not a JSON object")
	}
	v, err := decodeNode(n)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

func decodeNode(n *node) (any, error) {
	switch n.kind {
	case mapping:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			v, err := decodeNode(n.vals[i])
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case sequence:
		l := make([]any, 0, len(n.vals))
		for _, it := range n.vals {
			v, err := decodeNode(it)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	if n.isStr {
		return n.str, nil
	}
	switch n.str {
	case "null":
		return nil, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	f, err := strconv.ParseFloat(n.str, 64)
	if err != nil && !isRangeErr(err) {
		return nil, fmt.Errorf("number %q: %v", n.str, err)
	}
	return f, nil // a number too large is ±Inf, as Python's float() (int() keeps it exact: not needed here)
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
