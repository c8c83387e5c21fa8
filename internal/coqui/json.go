package coqui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// object decodes a JSON object into its members, refusing anything else.
func object(data []byte) (map[string]json.RawMessage, error) {
	d := bytes.TrimLeft(data, " \t\r\n")
	if len(d) == 0 || d[0] != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", jsonKind(d))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset > 0 && se.Offset <= int64(len(data)) {
			line := 1 + bytes.Count(data[:se.Offset-1], []byte("\n"))
			return nil, fmt.Errorf("line %d: %v", line, se)
		}
		return nil, err
	}
	return m, nil
}

// jsonKind names the kind of a JSON value from its first byte.
func jsonKind(d []byte) string {
	d = bytes.TrimLeft(d, " \t\r\n")
	if len(d) == 0 {
		return "nothing"
	}
	switch c := d[0]; {
	case c == '{':
		return "an object"
	case c == '[':
		return "a list"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "invalid JSON"
}

// stripLineComments removes "//" comments outside JSON strings, to the end
// of the line, like coqui's read_json_with_comments. ("/* */" comments are
// kept, as coqui keeps them, and fail to parse.)
func stripLineComments(data []byte) []byte {
	if !bytes.Contains(data, []byte("//")) {
		return data
	}
	out := make([]byte, 0, len(data))
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			if i < len(data) {
				out = append(out, '\n')
			}
			continue
		}
		out = append(out, c)
	}
	return out
}
