package weightdiff

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/scan/config"
	"github.com/ttsguard/ttsguard/internal/tensors"
)

// ConfigChange is a key of a JSON config (a file that is a JSON object)
// added, removed or changed; Key is the path of object keys and array
// indexes joined with ".".
type ConfigChange struct {
	File   string `json:"file"`
	Key    string `json:"key"`
	Change string `json:"change"`
	Old    string `json:"old,omitempty"` // JSON text
	New    string `json:"new,omitempty"`
}

// maxConfigKeys bounds the leaves a config contributes.
const maxConfigKeys = 100_000

// configDiff compares two JSON files key by key. A file that is not a JSON
// object (or is too large) is compared as a whole: one change with key "".
func configDiff(a, b manifest.File, o Options) []ConfigChange {
	ka, erra := configKeys(a.Path, o.Old.Opener, o.Limits.MaxConfigSize)
	kb, errb := configKeys(b.Path, o.New.Opener, o.Limits.MaxConfigSize)
	if erra != nil || errb != nil {
		return []ConfigChange{{File: b.Name, Change: Changed, Old: errText(erra), New: errText(errb)}}
	}
	var keys []string
	for k := range ka {
		keys = append(keys, k)
	}
	for k := range kb {
		if _, ok := ka[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []ConfigChange
	for _, k := range keys {
		va, ina := ka[k]
		vb, inb := kb[k]
		switch {
		case !inb:
			out = append(out, ConfigChange{File: b.Name, Key: k, Change: Removed, Old: va})
		case !ina:
			out = append(out, ConfigChange{File: b.Name, Key: k, Change: Added, New: vb})
		case va != vb:
			out = append(out, ConfigChange{File: b.Name, Key: k, Change: Changed, Old: va, New: vb})
		}
	}
	return out
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return "(" + err.Error() + ")"
}

// configKeys flattens a JSON object to its leaves (scalars, empty objects
// and arrays), as compact JSON text by key path.
func configKeys(path string, open tensors.Opener, maxSize int64) (map[string]string, error) {
	data, err := open.ReadAll(path, maxSize)
	if err != nil {
		return nil, err
	}
	v, err := config.Decode(data)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var flat func(prefix string, v any, depth int) error
	flat = func(prefix string, v any, depth int) error {
		if len(out) >= maxConfigKeys || depth > 64 {
			return fmt.Errorf("more than %d keys or nested deeper than 64 levels", maxConfigKeys)
		}
		join := func(k string) string {
			if prefix == "" {
				return k
			}
			return prefix + "." + k
		}
		switch x := v.(type) {
		case map[string]any:
			if len(x) > 0 {
				for k, e := range x {
					if err := flat(join(k), e, depth+1); err != nil {
						return err
					}
				}
				return nil
			}
		case []any:
			if len(x) > 0 {
				for i, e := range x {
					if err := flat(join(strconv.Itoa(i)), e, depth+1); err != nil {
						return err
					}
				}
				return nil
			}
		}
		out[prefix] = leafText(v)
		return nil
	}
	if err := flat("", any(v), 0); err != nil {
		return nil, err
	}
	return out, nil
}

// leafText is a config leaf as JSON text (Python's spelling for NaN and the
// infinities).
func leafText(v any) string {
	if f, ok := v.(float64); ok {
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "Infinity"
		case math.IsInf(f, -1):
			return "-Infinity"
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}
