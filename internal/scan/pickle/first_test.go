package pickle

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

func first(t *testing.T, data string, lim scan.Limits) (*Prefix, error) {
	t.Helper()
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &scan.Context{Policy: pol, Limits: lim}
	return First(context.Background(), c, strings.NewReader(data), int64(len(data)), Options{Plain: true})
}

func globals(fs scan.Findings) string {
	var g []string
	for _, f := range fs {
		g = append(g, f.Rule+":"+f.Global)
	}
	return strings.Join(g, ",")
}

// TestFirst: what pickle.load reads from byte 0, as numpy's pickle fallback
// and torch's legacy path do (issue 16, class 1).
func TestFirst(t *testing.T) {
	sys := "cposix\nsystem\n(S'touch m'\ntR."
	big := "\x80\x02X" + string([]byte{0xa0, 0x86, 0x01, 0x00}) + strings.Repeat("a", 100000) + "0" + sys // 100 000-byte string, POP, payload
	cases := []struct {
		name     string
		data     string
		complete bool
		end      int64
		reached  string // findings CPython reaches
	}{
		{"complete then text", sys + "trailing text\n", true, int64(len(sys)), "pickle/global-not-allowed:posix.system"},
		{"complete then NUL", sys + "\x00\x00", true, int64(len(sys)), "pickle/global-not-allowed:posix.system"},
		{"no STOP: the call still ran", sys[:len(sys)-1] + "\nmore text", false, 0, "pickle/global-not-allowed:posix.system"},
		{"JSON: fails at byte 0", `{"a": 1}`, false, 0, ""},
		{"README: GLOBAL of a module no import finds", "coqui model\nREADME\n(S'x'\ntR.", false, 0, ""},
		{"YAML starting with INST", "input_sample_rate: 24000\nlang: en\n", false, 0, ""},
		{"unimportable global cuts what follows", "(c) 2024 coqui\nfoo\ncos\nsystem\n.", false, 0, ""},
		{"payload after a long prefix (grows past 64 KiB)", big, true, int64(len(big)), "pickle/global-not-allowed:posix.system"},
		{"persistent id: pickle.load raises", "Pfoo\ncos\nsystem\n.", false, 0, ""},
		{"magic in protocol 1", "L119547037146038801333356L\n.", true, 28, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := first(t, c.data, scan.DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if p.Complete != c.complete || (c.complete && p.Result.End != c.end) {
				t.Fatalf("complete %v end %d err %v, want %v %d", p.Complete, p.Result.End, p.Err, c.complete, c.end)
			}
			if got := globals(p.Reached()); got != c.reached {
				t.Fatalf("reached %q, want %q (all findings %v)", got, c.reached, p.Findings)
			}
		})
	}
}

// TestFirstLimits: a stream that outgrows the member limit, or a scan limit,
// is an error (unscannable), never "not a pickle".
func TestFirstLimits(t *testing.T) {
	lim := scan.DefaultLimits
	lim.MaxMemberSize = 70 << 10
	data := "\x80\x02X" + string([]byte{0xa0, 0x86, 0x01, 0x00}) + strings.Repeat("a", 100000) + "."
	if _, err := first(t, data, lim); !errors.Is(err, scan.ErrUnscannable) {
		t.Fatalf("over the member limit: err %v", err)
	}
	lim = scan.DefaultLimits
	lim.MaxStack = 10
	if _, err := first(t, "("+strings.Repeat("N", 20)+"t.", lim); !errors.Is(err, ErrLimit) {
		t.Fatalf("stack limit: err %v", err)
	}
	// A length past the end of the file: read once, not grown.
	p, err := first(t, "\x80\x02\x8e\x00\x00\x00\x00\x00\x01\x00\x00", scan.DefaultLimits)
	if err != nil || p.Complete || !errors.Is(p.Err, ErrTruncated) {
		t.Fatalf("%v %+v", err, p)
	}
}

// TestIntText: the value of big ints (torch's legacy magic number in any
// protocol) is kept, so the legacy path is recognised by value, not bytes.
func TestIntText(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"LONG1 p2", "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", "119547037146038801333356"},
		{"LONG p1 text", "L119547037146038801333356L\n.", "119547037146038801333356"},
		{"negative LONG1", "\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\xff.", "-18446744073709551616"},
		{"small", "K\x05.", "5"},
		{"not an int", "N.", ""},
	} {
		_, res, err := scanBytes(t, []byte(c.data), Options{})
		if err != nil || res.IntText != c.want {
			t.Errorf("%s: %q %v, want %q", c.name, res.IntText, err, c.want)
		}
	}
}

// TestDefaultdictFactory (issue 16, class 4): defaultdict(list) is allowed where
// collections.defaultdict is; the same factory used any other way, or a
// factory that is not a harmless builtin type, is reported.
func TestDefaultdictFactory(t *testing.T) {
	dd := "ccollections\ndefaultdict\nq\x00"
	cases := []struct {
		name, data string
		profile    string
		want       string
	}{
		{"defaultdict(list) p2", "\x80\x02" + dd + "c__builtin__\nlist\nq\x01\x85q\x02Rq\x03.", scan.ProfileCoqui, ""},
		{"defaultdict(list) p4 memoized", "\x80\x04\x8c\x0bcollections\x94\x8c\x0bdefaultdict\x94\x93\x94\x8c\x08builtins\x94\x8c\x04list\x94\x93\x94\x85\x94R\x94.", scan.ProfileCoqui, ""},
		{"defaultdict(int) with items", "\x80\x02" + dd + "cbuiltins\nint\n\x85R(X\x01\x00\x00\x00aK\x01u.", scan.ProfileCoqui, ""},
		{"list called directly", "\x80\x02cbuiltins\nlist\n)R.", scan.ProfileCoqui, "pickle/global-not-allowed:builtins.list"},
		{"list kept as data", "\x80\x02]cbuiltins\nlist\na.", scan.ProfileCoqui, "pickle/global-not-allowed:builtins.list"},
		{"factory reused as a callee", "\x80\x02" + dd + "cbuiltins\nlist\nq\x01\x85Rh\x01)R.", scan.ProfileCoqui, "pickle/global-not-allowed:builtins.list"},
		{"NEWOBJ does not set the factory", "\x80\x02" + dd + "cbuiltins\nlist\n\x85\x81.", scan.ProfileCoqui, "pickle/global-not-allowed:builtins.list"},
		{"dangerous factory", "\x80\x02" + dd + "cposix\nsystem\n\x85R.", scan.ProfileCoqui, "pickle/global-not-allowed:posix.system"},
		{"weights-only has no defaultdict", "\x80\x02" + dd + "cbuiltins\nlist\n\x85R.", scan.ProfileWeightsOnly,
			"pickle/global-not-allowed:collections.defaultdict,pickle/global-not-allowed:builtins.list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pol, err := scan.NewPolicy(c.profile, nil)
			if err != nil {
				t.Fatal(err)
			}
			var fs scan.Findings
			_, err = Scan(context.Background(), &scan.Context{Policy: pol, Limits: scan.DefaultLimits}, []byte(c.data), &fs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				if f.Rule != "pickle/weights-only-opcode" {
					got = append(got, f.Rule+":"+f.Global)
				}
			}
			if strings.Join(got, ",") != c.want {
				t.Fatalf("findings %q, want %q (%v)", got, c.want, fs)
			}
		})
	}
}

// FuzzFirst: reading the first pickle from a reader never panics, fails only
// with ErrUnscannable, and a complete stream ends inside the data.
func FuzzFirst(f *testing.F) {
	for _, s := range []string{"cposix\nsystem\n(S'x'\ntR.tail", "L119547037146038801333356L\n.", "{\"a\": 1}", "\x80\x02\x8e\xff\xff"} {
		f.Add([]byte(s))
	}
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	lim := scan.DefaultLimits
	lim.MaxPickleOps = 1 << 20
	lim.MaxMemberSize = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &scan.Context{Policy: pol, Limits: lim}
		p, err := First(context.Background(), c, bytes.NewReader(data), int64(len(data)), Options{Plain: true})
		if err != nil {
			if !errors.Is(err, scan.ErrUnscannable) {
				t.Fatalf("error not wrapping ErrUnscannable: %v", err)
			}
			return
		}
		if p.Complete && (p.Result.End > int64(len(data)) || p.Err != nil) {
			t.Fatalf("complete stream ends at %d of %d (err %v)", p.Result.End, len(data), p.Err)
		}
		if !p.Complete && p.Err == nil {
			t.Fatal("incomplete stream without an error")
		}
		if len(p.Reached()) > len(p.Findings) {
			t.Fatal("reached more findings than were made")
		}
	})
}
