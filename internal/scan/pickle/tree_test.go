package pickle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// describe renders an Object the way Python's repr would, closely enough to
// compare; a cycle is "...".
func describe(o *Object, path map[*Object]bool) string {
	if path[o] {
		return "..."
	}
	path[o] = true
	defer delete(path, o)
	var parts []string
	switch o.Kind {
	case KindDict:
		for i, k := range o.Keys {
			parts = append(parts, describe(k, path)+": "+describe(o.Items[i], path))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case KindList, KindTuple, KindObject:
		for _, it := range o.Items {
			parts = append(parts, describe(it, path))
		}
		open, close := "[", "]"
		if o.Kind == KindTuple {
			open, close = "(", ")"
		}
		if o.Kind == KindObject {
			open = o.Str + "("
			close = ")"
		}
		return open + strings.Join(parts, ", ") + close
	case KindStr:
		return fmt.Sprintf("%q", o.Str)
	case KindInt:
		return fmt.Sprint(o.Int)
	case KindFloat:
		return fmt.Sprint(o.Float)
	case KindBool:
		return fmt.Sprint(o.Int == 1)
	}
	return string(o.Kind)
}

func TestTree(t *testing.T) {
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	c := &scan.Context{Policy: pol, Limits: scan.DefaultLimits}
	for _, tc := range []struct{ name, data, want string }{
		{"protocol 2", "\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eX\x01\x00\x00\x00bq\x04\x88N\x86q\x05X\x01\x00\x00\x00cq\x06}q\x07X\x01\x00\x00\x00dq\x08J\xf9\xff\xff\xffsu.",
			`{"a": [1, 2.5, "x"], "b": (true, None), "c": {"d": -7}}`},
		{"protocol 0", "(dp0\nVa\np1\n(lp2\nI1\naF2.5\naVx\np3\nasVb\np4\n(I01\nNtp5\nsVc\np6\n(dp7\nVd\np8\nI-7\nss.",
			`{"a": [1, 2.5, "x"], "b": (true, None), "c": {"d": -7}}`},
		{"OrderedDict", "\x80\x04\x950\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01o\x94\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94\x8c\x01w\x94K\x01ss.",
			`{"o": {"w": 1}}`},
		{"cycle", "\x80\x02]q\x00(K\x01h\x00e.", `[1, ...]`},
		// {1: "a", True: "b", "k": 2, "k": 3}: Python keeps 1's place with "b", and "k": 3.
		{"duplicate keys", "\x80\x02}(K\x01X\x01\x00\x00\x00a\x88X\x01\x00\x00\x00bX\x01\x00\x00\x00kK\x02X\x01\x00\x00\x00kK\x03u.",
			`{1: "b", "k": 3}`},
		{"object", "\x80\x02c__main__\nThing\nK\x01\x85R}X\x01\x00\x00\x00aK\x02sb.", `__main__.Thing(1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var plain, tree scan.Findings
			if _, err := Scan(context.Background(), c, []byte(tc.data), &plain, Options{}); err != nil {
				t.Fatal(err)
			}
			res, err := Scan(context.Background(), c, []byte(tc.data), &tree, Options{Tree: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(res.Root, map[*Object]bool{}); got != tc.want {
				t.Errorf("tree %s, want %s", got, tc.want)
			}
			if fmt.Sprint(plain) != fmt.Sprint(tree) {
				t.Errorf("findings differ with Tree: %v vs %v", plain, tree)
			}
			if tc.name == "object" && (res.Root.State == nil || describe(res.Root.State, map[*Object]bool{}) != `{"a": 2}`) {
				t.Errorf("object state not kept: %+v", res.Root.State)
			}
		})
	}
}

func TestTreeLimits(t *testing.T) {
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	lim := scan.DefaultLimits
	lim.MaxTreeItems, lim.MaxTreeDepth = 10, 3
	c := &scan.Context{Policy: pol, Limits: lim}
	many := "\x80\x02](" + strings.Repeat("K\x01", 11) + "e."
	deep := "\x80\x02" + strings.Repeat("]", 5) + strings.Repeat("a", 4) + "."
	for name, data := range map[string]string{"items": many, "depth": deep} {
		if _, err := Scan(context.Background(), c, []byte(data), &scan.Findings{}, Options{Tree: true}); !errors.Is(err, ErrLimit) || !errors.Is(err, scan.ErrUnscannable) {
			t.Errorf("%s: error %v, want a limit error", name, err)
		}
		if _, err := Scan(context.Background(), c, []byte(data), &scan.Findings{}, Options{}); err != nil {
			t.Errorf("%s without Tree: %v", name, err)
		}
	}
}

// FuzzTree: materialising a stream's value changes nothing the scanner
// reports, stays within its limits and builds consistent dicts.
func FuzzTree(f *testing.F) {
	f.Add([]byte("\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x03eu."))
	f.Add([]byte("\x80\x02]q\x00(K\x01h\x00e."))
	f.Add([]byte("(dp0\nVa\np1\n(lp2\nI1\naF2.5\naVx\np3\nas."))
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	lim := scan.DefaultLimits
	lim.MaxPickleOps, lim.MaxTreeItems, lim.MaxTreeDepth = 1<<16, 1<<12, 32
	c := &scan.Context{Policy: pol, Limits: lim}
	f.Fuzz(func(t *testing.T, data []byte) {
		var plain, tree scan.Findings
		_, perr := Scan(context.Background(), c, data, &plain, Options{Torch: true})
		res, terr := Scan(context.Background(), c, data, &tree, Options{Torch: true, Tree: true})
		if terr != nil && !errors.Is(terr, scan.ErrUnscannable) {
			t.Fatalf("error not wrapping ErrUnscannable: %v", terr)
		}
		if perr == nil && terr == nil && fmt.Sprint(plain) != fmt.Sprint(tree) {
			t.Fatalf("findings differ with Tree:\n%v\n%v", plain, tree)
		}
		if perr != nil && terr == nil {
			t.Fatalf("Tree accepted what the scanner refused: %v", perr)
		}
		if terr != nil {
			return
		}
		n := 0
		var walk func(o *Object, depth int)
		seen := map[*Object]bool{}
		walk = func(o *Object, depth int) {
			if seen[o] {
				return
			}
			seen[o] = true
			n++
			if depth > lim.MaxTreeDepth+1 {
				t.Fatalf("nesting %d past the limit", depth)
			}
			if o.Kind == KindDict && len(o.Keys) != len(o.Items) {
				t.Fatalf("dict with %d keys and %d values", len(o.Keys), len(o.Items))
			}
			for _, k := range o.Keys {
				walk(k, depth+1)
			}
			for _, it := range o.Items {
				walk(it, depth+1)
			}
			if o.State != nil {
				walk(o.State, depth+1)
			}
		}
		walk(res.Root, 0)
		if n > 2*lim.MaxTreeItems+int(res.Opcodes)+1 {
			t.Fatalf("%d objects from %d opcodes", n, res.Opcodes)
		}
	})
}
