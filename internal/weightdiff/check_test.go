package weightdiff

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheckFixtures(t *testing.T) {
	for _, tag := range []string{"fp32", "bf16"} {
		exp := load(t, tag)
		r, err := Diff(context.Background(), filepath.Join(fixtures, tag+"-old-zip.pth"), filepath.Join(fixtures, tag+"-new-zip.pth"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v := r.Check(Rules{}); v != nil {
			t.Errorf("no rules refused: %v", v)
		}
		// text_encoder.* is unchanged in the fixtures: frozen holds.
		if v := r.Check(Rules{Frozen: []string{"text_encoder.*"}}); len(v) != 0 {
			t.Errorf("%s: frozen text_encoder refused: %v", tag, v)
		}
		// decoder.conv.* changed: both tensors are named, with torch's numbers.
		v := r.Check(Rules{Frozen: []string{"decoder.conv.*"}})
		var names []string
		for _, x := range v {
			names = append(names, x.Tensor)
			rel := *exp.Relative[x.Tensor]
			if x.Rule != "frozen" || !strings.Contains(x.Detail, fmt.Sprintf("relative change %.6g", rel)) {
				t.Errorf("%s: %v, torch's change is %.6g", tag, x, rel)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"decoder.conv.bias", "decoder.conv.weight"}) {
			t.Errorf("%s: frozen decoder.conv.* refused %v", tag, names)
		}
		// max_relative_change 0.05: every weight torch measured above it (or
		// infinite), every reshaped, added, removed or unmeasurable weight.
		limit := 0.05
		v = r.Check(Rules{MaxRelativeChange: &limit})
		got := map[string]bool{}
		for _, x := range v {
			got[x.Tensor] = true
			if x.Rule != "max_relative_change" {
				t.Errorf("%s: %v", tag, x)
			}
		}
		want := map[string]bool{}
		old := map[string]listed{}
		for _, l := range exp.Old {
			old[l.Name] = l
		}
		for _, l := range exp.New {
			if !l.Weight {
				continue
			}
			o, ok := old[l.Name]
			rel, measured := exp.Relative[l.Name]
			if !ok || !slices.Equal(o.Shape, l.Shape) || !measured && l.DType == "int64" || measured && (rel == nil || *rel > limit) {
				want[l.Name] = true
			}
			delete(old, l.Name)
		}
		for n, l := range old {
			if l.Weight {
				want[n] = true
			}
		}
		if len(got) != len(want) || len(v) != len(want) {
			t.Errorf("%s: refused %v, want %v", tag, got, want)
		}
		for n := range want {
			if !got[n] {
				t.Errorf("%s: %s not refused", tag, n)
			}
		}
		if got["decoder.conv.weight"] || got["optimizer/state/0/exp_avg"] {
			t.Errorf("%s: refused a change below the limit or outside the weights: %v", tag, v)
		}
	}
}

func TestCheckUnreadable(t *testing.T) {
	limit := 0.5
	r := &Result{Checkpoints: []Checkpoint{{Old: "m.pth", New: "m.pth", Error: "new m.pth: truncated"}}, Unpaired: []FileChange{{Path: "x.pth", Change: Added}}}
	v := r.Check(Rules{MaxRelativeChange: &limit})
	if len(v) != 2 || v[0].Rule != "unpaired" || v[1].Rule != "unreadable" {
		t.Errorf("%v", v)
	}
}
