package hub

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// golden is testdata/fnmatch.json: answers of CPython 3.11's
// fnmatch.fnmatchcase and of huggingface_hub 2.4.0's filter_repo_objects.
type golden struct {
	Match []struct {
		Pattern, Name string
		Match         bool
	}
	Files  []string
	Filter []struct {
		Allow, Ignore json.RawMessage // null, a string or a list, as Python accepts
		Kept          []string
	}
}

func loadGolden(t testing.TB) golden {
	data, err := os.ReadFile("testdata/fnmatch.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestMatchAgreesWithCPython(t *testing.T) {
	g := loadGolden(t)
	if len(g.Match) < 1000 {
		t.Fatalf("only %d golden cases", len(g.Match))
	}
	for _, c := range g.Match {
		if got := Match(c.Pattern, c.Name); got != c.Match {
			t.Errorf("Match(%q, %q) = %v, CPython says %v", c.Pattern, c.Name, got, c.Match)
		}
	}
}

// patternList decodes a Python argument: None, one string or a list.
func patternList(t *testing.T, raw json.RawMessage) []string {
	if string(raw) == "null" || len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return list // empty and not nil for []
}

func TestFilterAgreesWithHuggingfaceHub(t *testing.T) {
	g := loadGolden(t)
	var files []File
	for _, p := range g.Files {
		files = append(files, File{Path: p})
	}
	for _, c := range g.Filter {
		p := Patterns{Allow: patternList(t, c.Allow), Ignore: patternList(t, c.Ignore)}
		var kept []string
		for _, f := range p.Filter(files) {
			kept = append(kept, f.Path)
		}
		if !slices.Equal(kept, c.Kept) {
			t.Errorf("allow %s ignore %s: kept %q, huggingface_hub keeps %q", c.Allow, c.Ignore, kept, c.Kept)
		}
	}
}

func TestPatternsKeep(t *testing.T) {
	tests := []struct {
		name string
		p    Patterns
		path string
		keep bool
	}{
		{"no lists keep all", Patterns{}, "a/b.pth", true},
		{"empty allow keeps none", Patterns{Allow: []string{}}, "config.json", false},
		{"empty ignore drops none", Patterns{Ignore: []string{}}, "config.json", true},
		{"folder pattern", Patterns{Allow: []string{"converter/"}}, "converter/sub/x.pth", true},
		{"folder pattern is not the folder name", Patterns{Allow: []string{"converter/"}}, "converter", false},
		{"star crosses slashes", Patterns{Ignore: []string{"samples/*"}}, "samples/de/x.wav", false},
		{"windows separators", Patterns{Allow: []string{`checkpoints\converter\*`}}, "checkpoints/converter/config.json", true},
		{"case-sensitive", Patterns{Allow: []string{"*.PTH"}}, "model.pth", false},
		{"ignore wins", Patterns{Allow: []string{"*.pth"}, Ignore: []string{"dvae.pth"}}, "dvae.pth", false},
	}
	for _, tt := range tests {
		if got := tt.p.Keep(tt.path); got != tt.keep {
			t.Errorf("%s: Keep(%q) = %v, want %v", tt.name, tt.path, got, tt.keep)
		}
	}
}

func TestPatternsCheck(t *testing.T) {
	many := make([]string, MaxPatterns+1)
	for i := range many {
		many[i] = "x"
	}
	tests := []struct {
		name string
		p    Patterns
		err  string
	}{
		{"ok", Patterns{Allow: []string{"*.pth"}, Ignore: []string{"samples/"}}, ""},
		{"too many", Patterns{Ignore: many}, "ignore: more than 256 patterns"},
		{"too long", Patterns{Allow: []string{strings.Repeat("a", MaxPatternLen+1)}}, "allow pattern"},
		{"nul", Patterns{Allow: []string{"a\x00b"}}, `allow pattern "a\x00b"`},
		{"not utf-8", Patterns{Ignore: []string{"\xff"}}, `ignore pattern "\xff"`},
	}
	for _, tt := range tests {
		err := tt.p.Check()
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%s: got %v, want an ErrInvalid containing %q", tt.name, err, tt.err)
		}
	}
}

func BenchmarkMatchBacktracking(b *testing.B) {
	name := strings.Repeat("a", 200) + "c"
	for b.Loop() {
		if Match("*a*a*a*a*a*a*a*a*b", name) {
			b.Fatal("matched")
		}
	}
}
