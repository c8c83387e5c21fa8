package config

import (
	"math"
	"testing"
)

func TestDecode(t *testing.T) {
	v, err := Decode([]byte(`{"a": 1, "a": 2, "b": [NaN, Infinity, -Infinity, null, true, "x"], "c": {"d": 1.5e3}}`))
	if err != nil {
		t.Fatal(err)
	}
	b := v["b"].([]any)
	if v["a"] != 2.0 || !math.IsNaN(b[0].(float64)) || !math.IsInf(b[1].(float64), 1) || !math.IsInf(b[2].(float64), -1) ||
		b[3] != nil || b[4] != true || b[5] != "x" || v["c"].(map[string]any)["d"] != 1500.0 {
		t.Errorf("%#v", v)
	}
	// coqui's fallback: "//" comments to the end of a line.
	if v, err := Decode([]byte("{\"a\": 1, // note\n\"b\": 2}")); err != nil || v["b"] != 2.0 {
		t.Errorf("%v %v", v, err)
	}
	for _, bad := range []string{`[1]`, `{"a": }`, "\xff"} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// FuzzDecode: any bytes decode to an object or fail; nothing panics.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"model": "vits", "model_args": {"hidden_channels": 192, "x": [NaN, {"y": null}]}}`))
	f.Add([]byte("{\"a\": 1, // c\n}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err == nil && v == nil {
			t.Fatal("nil object without an error")
		}
	})
}
