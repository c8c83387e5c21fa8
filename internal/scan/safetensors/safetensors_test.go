package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// stFile builds a safetensors file from a header and data.
func stFile(header, data string) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

// realFile is what safetensors 0.8 (safetensors.numpy.save) writes for
// {"w": arange(4, f32).reshape(2, 2), "b": [1, 2] int8, "m": [True]} with
// metadata {"format": "np"}.
var realFile = mustHex("c8000000000000007b225f5f6d657461646174615f5f223a7b22666f726d6174223a226e70227d2c2277223a7b22647479" +
	"7065223a22463332222c227368617065223a5b322c325d2c22646174615f6f666673657473223a5b302c31365d7d2c2262223a7b2264747970" +
	"65223a224938222c227368617065223a5b325d2c22646174615f6f666673657473223a5b31362c31385d7d2c226d223a7b226474797065223a" +
	"22424f4f4c222c227368617065223a5b315d2c22646174615f6f666673657473223a5b31382c31395d7d7d2020000000000000803f00000040" +
	"00004040010201")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// polyglot is a valid safetensors file (no tensors) whose bytes also decode
// as a pickle: the header length 0x1958 starts with 'X' (BINUNICODE of 25
// bytes, which swallows the rest of the length and the start of the header)
// and the pickle goes on inside the metadata value: POP, EMPTY_TUPLE,
// EMPTY_TUPLE, REDUCE (a call of a computed callable), STOP.
func polyglot() []byte {
	h := `{"__metadata__":{"p":"0))R."}}`
	h += strings.Repeat(" ", 0x1958-len(h))
	return stFile(h, "")
}

func testContext(t testing.TB) *scan.Context {
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &scan.Context{Policy: pol, Limits: scan.DefaultLimits}
}

func scanFile(t testing.TB, c *scan.Context, data []byte) (scan.Findings, error) {
	var fs scan.Findings
	err := Scan(context.Background(), c, bytes.NewReader(data), int64(len(data)), &fs)
	return fs, err
}

func TestScan(t *testing.T) {
	const w = `"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}`
	data16 := strings.Repeat("x", 16)
	tests := []struct {
		name       string
		data       []byte
		unscanable bool
		rules      []string
		offset     int64 // of the first finding, when not 0
	}{
		{name: "real file", data: realFile},
		{name: "empty header", data: stFile("{}", "")},
		{name: "padded", data: stFile("{"+w+"}    ", data16)},
		{name: "sub-byte dtype", data: stFile(`{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}`, "xx")},
		{name: "F6 misaligned", data: stFile(`{"a":{"dtype":"F6_E2M3","shape":[3],"data_offsets":[0,2]}}`, "xx"), rules: []string{RuleSizeMismatch}},
		{name: "zero-size tensor", data: stFile(`{"z":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},`+w+`}`, data16)},
		{name: "out of order offsets", data: stFile(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[16,17]},`+w+`}`, data16+"y")},
		{name: "leading whitespace", data: stFile(" {"+w+"}", data16), rules: []string{RuleHeaderStart}},
		{name: "trailing in header", data: stFile("{"+w+"}cos\nsystem\n", data16), rules: []string{RuleHeaderTrailing}, offset: 8 + 2 + int64(len(w))},
		{name: "duplicate tensor", data: stFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},`+w+`}`, data16), rules: []string{RuleDuplicateKey}, offset: 8 + 54},
		{name: "duplicate metadata", data: stFile(`{"__metadata__":{},"__metadata__":{"a":"b"},`+w+`}`, data16), rules: []string{RuleDuplicateKey}},
		{name: "duplicate field", data: stFile(`{"w":{"dtype":"F32","dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`, data16), rules: []string{RuleDuplicateKey}},
		{name: "metadata not strings", data: stFile(`{"__metadata__":{"a":1,"b":{"c":"d"}},`+w+`}`, data16), rules: []string{RuleMetadata}},
		{name: "metadata list", data: stFile(`{"__metadata__":["a"],`+w+`}`, data16), rules: []string{RuleMetadata}},
		{name: "unknown field", data: stFile(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],"code":"x"}}`, data16), rules: []string{RuleUnknownField}},
		{name: "unknown dtype", data: stFile(`{"w":{"dtype":"F128","shape":[2],"data_offsets":[0,16]}}`, data16), rules: []string{RuleUnknownDtype}},
		{name: "entry not object", data: stFile(`{"w":[1,2]}`, ""), rules: []string{RuleInvalidEntry}},
		{name: "missing shape", data: stFile(`{"w":{"dtype":"F32","data_offsets":[0,16]}}`, data16), rules: []string{RuleInvalidEntry}},
		{name: "negative shape", data: stFile(`{"w":{"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]}}`, data16), rules: []string{RuleInvalidEntry}},
		{name: "float shape", data: stFile(`{"w":{"dtype":"F32","shape":[2.0,2],"data_offsets":[0,16]}}`, data16), rules: []string{RuleInvalidEntry}},
		{name: "three offsets", data: stFile(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16,16]}}`, data16), rules: []string{RuleInvalidEntry, RuleTrailingData}},
		{name: "end before begin", data: stFile(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[16,0]}}`, data16), rules: []string{RuleInvalidEntry, RuleTrailingData}},
		{name: "size mismatch", data: stFile(`{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}}`, data16), rules: []string{RuleSizeMismatch}},
		{name: "shape overflow", data: stFile(`{"w":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,16]}}`, data16), rules: []string{RuleSizeMismatch}},
		{name: "gap", data: stFile(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[4,20]}}`, "PAYL"+data16), rules: []string{RuleGap}, offset: 8 + 57},
		{name: "overlap", data: stFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, "123456789012"), rules: []string{RuleOverlap}},
		{name: "trailing data", data: stFile("{"+w+"}", data16+"cos\nsystem\n."), rules: []string{RuleTrailingData}, offset: 8 + 2 + int64(len(w)) + 16},
		{name: "no tensors, data", data: stFile("{}", "xx"), rules: []string{RuleTrailingData}},
		{name: "past end of file", data: stFile("{"+w+"}", data16[:8]), rules: []string{RuleOutOfBounds}},
		{name: "pickle polyglot", data: polyglot(), rules: []string{RulePicklePolyglot, "pickle/computed-call"}},
		{name: "too short", data: []byte("\x02\x00\x00"), unscanable: true},
		{name: "header past end", data: append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), unscanable: true},
		{name: "header length huge", data: append(binary.LittleEndian.AppendUint64(nil, 1<<62), "{}"...), unscanable: true},
		{name: "not json", data: stFile("{nope}", ""), unscanable: true},
		{name: "json array", data: stFile("[1]", ""), unscanable: true, rules: []string{RuleHeaderStart}},
		{name: "truncated json", data: stFile(`{"w":{"dtype":"F32"`, ""), unscanable: true},
		{name: "invalid utf-8", data: stFile("{\"\xff\":{}}", ""), unscanable: true},
		{name: "empty header", data: stFile("", ""), unscanable: true, rules: []string{RuleHeaderStart}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := scanFile(t, testContext(t), tt.data)
			if tt.unscanable != (err != nil) {
				t.Fatalf("err = %v, want unscannable %v (findings %v)", err, tt.unscanable, fs)
			}
			if err != nil && !errors.Is(err, scan.ErrUnscannable) {
				t.Fatalf("error %v does not wrap ErrUnscannable", err)
			}
			var rules []string
			for _, f := range fs {
				rules = append(rules, f.Rule)
			}
			if strings.Join(rules, ",") != strings.Join(tt.rules, ",") {
				t.Fatalf("rules %v, want %v (%v)", rules, tt.rules, fs)
			}
			if tt.offset != 0 && fs[0].Offset != tt.offset {
				t.Fatalf("offset %d, want %d (%v)", fs[0].Offset, tt.offset, fs[0])
			}
		})
	}
}

func TestProbeLimit(t *testing.T) {
	// 'B' BINBYTES with a length of 0x20 taken from the header length; the
	// decoder wants more bytes than the limit allows.
	h := `{"__metadata__":{"p":"x"}}`
	h += strings.Repeat(" ", 0x2042-len(h))
	data := stFile(h, "")
	c := testContext(t)
	c.Limits.MaxMemberSize = 16
	if _, err := scanFile(t, c, data); !errors.Is(err, scan.ErrUnscannable) {
		t.Fatalf("err = %v, want unscannable", err)
	}
	// With the whole file in reach, the decode fails and the file is clean.
	if fs, err := scanFile(t, testContext(t), data); err != nil || len(fs) != 0 {
		t.Fatalf("whole file: %v %v", fs, err)
	}
}
