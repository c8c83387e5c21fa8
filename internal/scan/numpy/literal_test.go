package numpy

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
)

func TestParseLiteral(t *testing.T) {
	i := func(n int64) *big.Int { return big.NewInt(n) }
	tests := []struct {
		in   string
		want any // nil: a syntax error
	}{
		{"{}", &pyDict{}},
		{"{'a': 1, }", &pyDict{keys: []any{"a"}, vals: []any{i(1)}}},
		{`{"a" : (1, 2), 'b': [True, False]}`, &pyDict{keys: []any{"a", "b"}, vals: []any{pyTuple{i(1), i(2)}, pyList{true, false}}}},
		{"()", pyTuple{}},
		{"(3,)", pyTuple{i(3)}},
		{"(3)", i(3)},
		{"((3))", i(3)},
		{"(1, 2, )", pyTuple{i(1), i(2)}},
		{"[]", pyList(nil)},
		{"- 7", i(-7)},
		{"0", i(0)},
		{"00", i(0)},
		{" 'x'\n  ", "x"},
		{`'a\'b'`, "a'b"},
		{`"a\"b\\c"`, `a"b\c`},
		{`'\x41\u00e9\U0001F600\101\n'`, "A\u00e9\U0001F600A\n"},
		{`'\d'`, `\d`},
		{`u'x'`, "x"},
		{"'a\\\nb'", "ab"},
		{"True", true},
		{"False", false},
		// Rejected: everything numpy does not write.
		{"", nil},
		{"{", nil},
		{"{'a' 1}", nil},
		{"{'a': 1,,}", nil},
		{"(,)", nil},
		{"[1 2]", nil},
		{"01", nil},
		{"1.5", nil},
		{"1e3", nil},
		{"0x10", nil},
		{"3L", nil},
		{"None", nil},
		{"Truex", nil},
		{"b'x'", nil},
		{"r'x'", nil},
		{"'''x'''", nil},
		{"'a' 'b'", nil},
		{"'unterminated", nil},
		{"'new\nline'", nil},
		{`'\N{DIGIT ONE}'`, nil},
		{`'\x4'`, nil},
		{"{} # comment", nil},
		{"{}\x00", nil},
		{"-", nil},
		{"+1", nil},
		{"f(1)", nil},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), nil},
		{"1" + strings.Repeat("0", 70), nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseLiteral(tt.in, false)
			if tt.want == nil {
				if err == nil || !errors.Is(err, errLiteral) {
					t.Fatalf("got %#v, %v; want a literal error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseLiteralLongSuffix(t *testing.T) {
	got, err := parseLiteral("(3L, 4l)", true)
	if err != nil || !reflect.DeepEqual(got, pyTuple{big.NewInt(3), big.NewInt(4)}) {
		t.Fatalf("got %#v, %v", got, err)
	}
}

func TestParseDescr(t *testing.T) {
	tests := []struct {
		descr    string
		itemsize int64 // -1: rejected
		object   bool
	}{
		{"'<f4'", 4, false}, {"'>f8'", 8, false}, {"'|b1'", 1, false}, {"'|u1'", 1, false}, {"'<i8'", 8, false},
		{"'<c16'", 16, false}, {"'|S5'", 5, false}, {"'<U3'", 12, false}, {"'|V8'", 8, false}, {"'<m8[25s]'", 8, false},
		{"'|O'", 8, true}, {"'O'", 8, true}, {"'|O8'", 8, true},
		{"[('a', '<f4'), ('', '|V4'), ('o', '|O')]", 16, true},
		{"[('a', [('x', '<i2'), ('y', '<i2')], (2, 3))]", 24, false},
		{"('<f4', (2, 2))", 16, false},
		{"'<f3'", -1, false}, {"'<i3'", -1, false}, {"'float32'", -1, false}, {"'<f4[s]'", -1, false}, {"'b'", -1, false},
		{"'<M4'", -1, false}, {"3", -1, false}, {"[('a',)]", -1, false}, {"[(1, '<f4')]", -1, false},
		{"[('a', '<f4', (-1,))]", -1, false}, {"[['a', '<f4']]", -1, false},
	}
	for _, tt := range tests {
		t.Run(tt.descr, func(t *testing.T) {
			v, err := parseLiteral(tt.descr, false)
			if err != nil {
				t.Fatal(err)
			}
			dt, err := parseDescr(v, 0)
			if tt.itemsize < 0 {
				if err == nil {
					t.Fatalf("accepted: %+v", dt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if dt.itemsize.Int64() != tt.itemsize || dt.hasObject != tt.object {
				t.Fatalf("itemsize %v object %v, want %d %v", dt.itemsize, dt.hasObject, tt.itemsize, tt.object)
			}
		})
	}
}

// formatLiteral writes v back as a Python literal, for the round trip in
// FuzzParseLiteral.
func formatLiteral(v any) string {
	join := func(items []any) string {
		var parts []string
		for _, x := range items {
			parts = append(parts, formatLiteral(x))
		}
		return strings.Join(parts, ", ")
	}
	switch x := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`, "\n", `\n`, "\r", `\r`).Replace(x) + "'"
	case *big.Int:
		return x.String()
	case bool:
		return map[bool]string{true: "True", false: "False"}[x]
	case pyTuple:
		if len(x) == 0 {
			return "()"
		}
		return "(" + join(x) + ",)"
	case pyList:
		return "[" + join(x) + "]"
	case *pyDict:
		var parts []string
		for i := range x.keys {
			parts = append(parts, formatLiteral(x.keys[i])+": "+formatLiteral(x.vals[i]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

// FuzzParseLiteral: the parser never panics, every error is a literal
// error, and what it accepts formats back into a literal that parses to the
// same value.
func FuzzParseLiteral(f *testing.F) {
	for _, s := range []string{objectHdr, float6Hdr, "{'descr': [('a', '<f4'), ('b', '<i8', (2,))], 'fortran_order': False, 'shape': (2,), }",
		`'\x41\u00e9\101'`, "(1, (2,), [3, True])", "- 3", "(3L,)"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, long bool) {
		v, err := parseLiteral(s, long)
		if err != nil {
			if !errors.Is(err, errLiteral) {
				t.Fatalf("error %v does not wrap errLiteral", err)
			}
			return
		}
		out := formatLiteral(v)
		w, err := parseLiteral(out, false)
		if err != nil {
			t.Fatalf("%q parsed to %#v, formatted as %q, which does not parse: %v", s, v, out, err)
		}
		if !reflect.DeepEqual(v, w) {
			t.Fatalf("round trip of %q: %#v != %#v", s, v, w)
		}
	})
}
