package pickle

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

func scanBytes(t *testing.T, data []byte, opt Options) (scan.Findings, *Result, error) {
	t.Helper()
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	var fs scan.Findings
	res, err := Scan(context.Background(), &scan.Context{Policy: pol, Limits: scan.DefaultLimits}, data, &fs, opt)
	return fs, res, err
}

func TestPickleCases(t *testing.T) {
	cases := []struct {
		name    string
		data    string
		opt     Options
		global  string // expected global of the first finding ("" for none)
		rule    string
		offset  int64
		sev     scan.Severity
		unparse bool
	}{
		// Benign: protocol 2 dict {'a': 1} and an OrderedDict.
		{name: "dict", data: "\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s."},
		{name: "ordereddict", data: "\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01."},
		// cos\nsystem\n(S'ls'\ntR.  — protocol 0 GLOBAL + REDUCE.
		{name: "global os.system", data: "cos\nsystem\n(S'ls'\ntR.", global: "os.system", rule: "pickle/global-not-allowed", offset: 0, sev: scan.Critical},
		// Python 2 spelling mapped by fix_imports.
		{name: "__builtin__.eval", data: "c__builtin__\neval\n(S'1'\ntR.", global: "builtins.eval", offset: 0, sev: scan.Critical, rule: "pickle/global-not-allowed"},
		// Protocol 4 STACK_GLOBAL with constants.
		{name: "stack_global", data: "\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.", global: "os.system", offset: 16, sev: scan.Critical, rule: "pickle/global-not-allowed"},
		// STACK_GLOBAL whose module is computed: module = builtins.str('os') via REDUCE.
		{name: "computed module", data: "\x80\x04cbuiltins\nstr\n\x8c\x02os\x85R\x8c\x06system\x93.", global: "builtins.str", rule: "pickle/global-not-allowed", offset: 2, sev: scan.Medium},
		// INST calls directly.
		{name: "inst", data: "(S'ls'\nios\nsystem\n.", global: "os.system", offset: 7, sev: scan.Critical, rule: "pickle/global-not-allowed"},
		// EXT1 without a registration in the file.
		{name: "ext", data: "\x80\x02\x82\x01)R.", rule: "pickle/extension-code", offset: 2, sev: scan.Critical},
		// Memo trick: global memoized, popped, fetched, called.
		{name: "memo", data: "\x80\x02cos\nsystem\nq\x000h\x00X\x02\x00\x00\x00id\x85R.", global: "os.system", offset: 2, sev: scan.Critical, rule: "pickle/global-not-allowed"},
		// Dotted name through a harmless module.
		{name: "dotted", data: "\x80\x04\x8c\x05torch\x8c\x10_utils.os.system\x93.", global: "torch._utils.os.system", offset: 27, sev: scan.Critical, rule: "pickle/global-not-allowed"},
		{name: "dunder", data: "\x80\x04\x8c\x0bcollections\x8c\x15OrderedDict.__class__\x93.", global: "collections.OrderedDict.__class__", offset: 38, sev: scan.Critical, rule: "pickle/global-not-allowed"},
		// Call of a computed callable: OrderedDict()() .
		{name: "computed call", data: "\x80\x02ccollections\nOrderedDict\n)R)R.", rule: "pickle/computed-call", offset: 30, sev: scan.Critical},
		// Truncated: no STOP.
		{name: "truncated", data: "\x80\x02}q\x00", unparse: true},
		// Payload then garbage: finding kept, unscannable.
		{name: "payload then garbage", data: "cos\nsystem\n(S'ls'\ntR.\xff\xff", opt: Options{Stacked: true}, global: "os.system", offset: 0, sev: scan.Critical, rule: "pickle/global-not-allowed", unparse: true},
		// Benign then malicious, stacked.
		{name: "stacked", data: "\x80\x02}.\x80\x02cposix\nsystem\n.", opt: Options{Stacked: true}, global: "posix.system", offset: 6, sev: scan.Critical, rule: "pickle/global-not-allowed"},
		// FRAME shorter than its content (protocol 4).
		{name: "frame lie", data: "\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94.", rule: "pickle/frame-mismatch", offset: 2, sev: scan.High},
		// FRAME longer than the data: unscannable.
		{name: "frame too long", data: "\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00}.", rule: "pickle/frame-mismatch", offset: 2, sev: scan.High, unparse: true},
		// Non-ASCII module name (Cyrillic o).
		{name: "non-ascii", data: "c\xd0\xbes\nsystem\n.", global: "\u043es.system", offset: 0, sev: scan.Critical, rule: "pickle/global-not-allowed"},
		// Invalid UTF-8 in GLOBAL: CPython refuses to load it.
		{name: "bad utf8", data: "c\xffos\nsystem\n.", rule: "pickle/invalid-name", offset: 0, sev: scan.High, unparse: true},
		// BUILD on a global.
		{name: "build on global", data: "\x80\x02ccollections\nOrderedDict\n}b.", rule: "pickle/build-on-global", global: "collections.OrderedDict", offset: 28, sev: scan.Critical},
		// Out-of-band buffer.
		{name: "buffer", data: "\x80\x05\x97.", rule: "pickle/out-of-band-buffer", offset: 2, sev: scan.Medium},
		// Persistent id outside torch.
		{name: "persid", data: "\x80\x02X\x01\x00\x00\x00aQ.", rule: "pickle/persistent-id", offset: 8, sev: scan.Medium},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs, _, err := scanBytes(t, []byte(c.data), c.opt)
			if c.unparse != (err != nil) {
				t.Fatalf("err = %v, want unscannable=%v (findings %v)", err, c.unparse, fs)
			}
			if err != nil && !errors.Is(err, scan.ErrUnscannable) {
				t.Fatalf("err %v does not wrap ErrUnscannable", err)
			}
			if c.rule == "" {
				if len(fs) != 0 {
					t.Fatalf("unexpected findings %v", fs)
				}
				return
			}
			if len(fs) == 0 {
				t.Fatalf("no findings, want %s", c.rule)
			}
			f := fs[0]
			if f.Rule != c.rule || f.Global != c.global || f.Offset != c.offset || f.Severity != c.sev {
				t.Fatalf("first finding %v\nwant rule %s global %q offset %d severity %s (all: %v)", f, c.rule, c.global, c.offset, c.sev, fs)
			}
		})
	}
}

func TestExpansionBomb(t *testing.T) {
	// ]q\x00 then 40 x (DUP, TUPLE2): a tuple of 2^40 leaves when expanded.
	data := "\x80\x02]" + strings.Repeat("2\x86", 40) + "."
	fs, _, err := scanBytes(t, []byte(data), Options{})
	if err != nil || len(fs) != 1 || fs[0].Rule != "pickle/expansion-bomb" {
		t.Fatalf("%v %v", err, fs)
	}
}

func TestLimits(t *testing.T) {
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	lim := scan.DefaultLimits
	lim.MaxStack = 100
	lim.MaxMemoReads = 100
	// ]q\x00 then 1000 x h\x00 (BINGET 0): memo reads and stack both grow.
	data := "\x80\x02]q\x00" + strings.Repeat("h\x00", 1000) + "."
	var fs scan.Findings
	_, err := Scan(context.Background(), &scan.Context{Policy: pol, Limits: lim}, []byte(data), &fs, Options{})
	if !errors.Is(err, scan.ErrUnscannable) {
		t.Fatalf("err = %v", err)
	}
}
