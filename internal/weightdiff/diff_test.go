package weightdiff

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fixtures: internal/tensors/testdata/gen.py saved them with torch and wrote
// what torch computes.
var fixtures = filepath.Join("..", "tensors", "testdata", "ckpt")

type listed struct {
	Name   string  `json:"name"`
	Weight bool    `json:"weight"`
	DType  string  `json:"dtype"`
	Shape  []int64 `json:"shape"`
}

type expected struct {
	Old, New []listed
	Relative map[string]*float64
	Groups   map[string]*float64
}

func load(t *testing.T, tag string) expected {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, "expected-"+tag+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func near(got, want float64) bool {
	return math.Abs(got-want) <= 1e-9*math.Max(math.Abs(want), 1e-12)
}

func TestDiffTorchFixtures(t *testing.T) {
	for _, tag := range []string{"fp32", "bf16", "fp16"} {
		exp := load(t, tag)
		for _, format := range []string{"zip", "legacy", "safetensors"} {
			oldF, newF := tag+"-old-"+format+".pth", tag+"-new-"+format+".pth"
			if format == "safetensors" {
				oldF, newF = tag+"-old.safetensors", tag+"-new.safetensors"
			}
			t.Run(oldF, func(t *testing.T) {
				r, err := Diff(context.Background(), filepath.Join(fixtures, oldF), filepath.Join(fixtures, newF), Options{Workers: 3})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Checkpoints) != 1 || r.Checkpoints[0].Error != "" {
					t.Fatalf("checkpoints: %+v", r.Checkpoints)
				}
				ck := r.Checkpoints[0]
				keep := func(l listed) bool { return format != "safetensors" || l.Weight }
				old := map[string]listed{}
				for _, l := range exp.Old {
					if keep(l) {
						old[l.Name] = l
					}
				}
				want := map[string]string{} // name -> change
				unchanged := 0
				for _, l := range exp.New {
					if !keep(l) {
						continue
					}
					o, ok := old[l.Name]
					rel, measured := exp.Relative[l.Name]
					switch {
					case !ok:
						want[l.Name] = Added
					case !slices.Equal(o.Shape, l.Shape):
						want[l.Name] = Reshaped
					case measured && rel != nil && *rel == 0:
						unchanged++
					default:
						want[l.Name] = Changed
					}
					delete(old, l.Name)
				}
				for n := range old {
					want[n] = Removed
				}
				got := map[string]string{}
				var last = math.Inf(1)
				for _, c := range ck.Tensors {
					got[c.Name] = c.Change
					if c.Change != Changed {
						continue
					}
					rel, measured := exp.Relative[c.Name]
					switch {
					case !measured: // an integer tensor
						if c.Relative != nil || c.Note == "" {
							t.Errorf("%s: integer tensor measured: %+v", c.Name, c)
						}
					case rel == nil:
						if !c.Infinite || c.Relative != nil {
							t.Errorf("%s: torch says infinite, got %+v", c.Name, c)
						}
					case c.Relative == nil || !near(*c.Relative, *rel):
						t.Errorf("%s: relative %v, torch says %v", c.Name, c.Relative, *rel)
					}
					if c.Relative != nil {
						if *c.Relative > last {
							t.Errorf("%s: not sorted, largest first", c.Name)
						}
						last = *c.Relative
					}
				}
				if len(got) != len(want) {
					t.Errorf("changes %v, want %v", got, want)
				}
				for n, w := range want {
					if got[n] != w {
						t.Errorf("%s: %q, want %q", n, got[n], w)
					}
				}
				if ck.Unchanged != unchanged {
					t.Errorf("%d unchanged, want %d", ck.Unchanged, unchanged)
				}
				for _, g := range ck.Groups {
					w, ok := exp.Groups[g.Prefix]
					switch {
					case !ok:
						t.Errorf("group %q not in torch's", g.Prefix)
					case w == nil:
						if !g.Infinite {
							t.Errorf("group %q: torch says infinite, got %+v", g.Prefix, g)
						}
					case g.Relative == nil || !near(*g.Relative, *w):
						t.Errorf("group %q: %v, torch says %v", g.Prefix, g.Relative, *w)
					}
				}
				n := 0
				for p, w := range exp.Groups {
					if (w == nil || *w != 0) && (format != "safetensors" || !slices.Contains([]string{"optimizer/state", "views/rows", "views/transposed"}, p)) {
						n++
					}
				}
				if len(ck.Groups) != n {
					t.Errorf("%d groups, torch has %d with a change", len(ck.Groups), n)
				}
			})
		}
	}
}
