package pickle

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"strconv"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// textArgCase is one entry of testdata/textargs.json, recorded from CPython
// 3.11's C unpickler by scripts/differential/textargs_golden.py.
type textArgCase struct {
	Op      string `json:"op"`
	Pickle  string `json:"pickle"`
	OK      bool   `json:"ok"`
	Result  string `json:"result"`
	Lenient bool   `json:"lenient"`
	Error   string `json:"error"`
}

// canonical writes an Object the way the generator writes a Python value.
func canonical(o *Object) string {
	switch o.Kind {
	case KindBool:
		return "bool:" + strconv.FormatInt(o.Int, 10)
	case KindInt:
		if o.Truncated {
			return "int:big"
		}
		if o.Str != "" {
			if len(o.Str) > 150 {
				return "int:big"
			}
			return "int:" + o.Str
		}
		return "int:" + strconv.FormatInt(o.Int, 10)
	case KindFloat:
		if math.IsNaN(o.Float) {
			return "float:nan"
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(o.Float))
		return "float:" + hex.EncodeToString(b[:])
	case KindStr:
		return "str:" + hex.EncodeToString([]byte(o.Str))
	}
	return "other:" + string(o.Kind)
}

// TestTextArgsAsCPython holds the decoder's reading of protocol-0 text
// arguments (INT, LONG, FLOAT, STRING, UNICODE, GET, PUT) to CPython's: the
// same pickles load, with the same value, and fail. A pickle CPython loads
// must never fail here (the scan would stop before opcodes that run); one
// CPython refuses may load here only where the refusal depends on the
// process (lenient), or fail as undecided.
func TestTextArgsAsCPython(t *testing.T) {
	b, err := os.ReadFile("testdata/textargs.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Python string        `json:"python"`
		Cases  []textArgCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Cases) < 1000 {
		t.Fatalf("%d cases, want at least 1000", len(golden.Cases))
	}
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &scan.Context{Policy: pol, Limits: scan.DefaultLimits}
	seen := map[string][2]int{}
	for _, tc := range golden.Cases {
		data, err := hex.DecodeString(tc.Pickle)
		if err != nil {
			t.Fatal(err)
		}
		var fs scan.Findings
		res, err := Scan(context.Background(), c, data, &fs, Options{Tree: true})
		n := seen[tc.Op]
		if tc.OK {
			n[0]++
		} else {
			n[1]++
		}
		seen[tc.Op] = n
		switch {
		case tc.OK && err != nil:
			t.Errorf("%s %q: CPython loads it as %s, the decoder fails: %v", tc.Op, data, tc.Result, err)
		case tc.OK:
			if got := canonical(res.Root); got != tc.Result {
				t.Errorf("%s %q: CPython reads %s, the decoder %s", tc.Op, data, tc.Result, got)
			}
		case err == nil && !tc.Lenient:
			t.Errorf("%s %q: CPython fails (%s), the decoder reads %s", tc.Op, data, tc.Error, canonical(res.Root))
		case err != nil && errors.Is(err, ErrUndecided):
			t.Logf("%s %q: undecided (CPython here: %s)", tc.Op, data, tc.Error)
		}
	}
	for _, op := range []string{"INT", "LONG", "FLOAT", "STRING", "UNICODE", "GET", "PUT"} {
		if n := seen[op]; n[0] < 10 || n[1] < 10 {
			t.Errorf("%s: %d loading and %d failing cases, want at least 10 of each", op, n[0], n[1])
		}
	}
}

// FuzzTextArgs: the text-argument readers never panic, INT gives a bool only
// for a two-byte argument, and a memo key is never negative for PUT's caller
// to store (PUT refuses negatives itself).
func FuzzTextArgs(f *testing.F) {
	for _, s := range []string{"0", "01", " 1", "+0", "1\x00x", "0x_1f", "1_000", "010", "1L", "L", "inf", "-.5e3", "1e400", "\xa01", "99999999999999999999"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if v, err := intArg(line); err == nil && v.k == kBool && len(line) != 2 {
			t.Fatalf("INT %q: bool from a line of %d bytes", line, len(line))
		}
		longArg(line)          //nolint:errcheck // only must not panic
		floatArg(line)         //nolint:errcheck
		memoArg(line)          //nolint:errcheck
		rawUnicodeEscape(line) //nolint:errcheck
		unquote(line)          //nolint:errcheck
		data := append(append([]byte("I"), line...), "\n."...)
		var fs scan.Findings
		pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
		Scan(context.Background(), &scan.Context{Policy: pol, Limits: scan.DefaultLimits}, data, &fs, Options{Tree: true}) //nolint:errcheck
	})
}
