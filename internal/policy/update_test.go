package policy

import (
	"slices"
	"strings"
	"testing"
)

func TestModelUpdate(t *testing.T) {
	p, err := Parse("p.yaml", []byte("version: 1\nmodels:\n  a:\n    update:\n      frozen: [\"text_encoder.*\", emb_g.weight]\n      max_relative_change: 0.05\n  b:\n    update: {max_relative_change: 1}\n  c: {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := p.Models["a"].Update
	if !slices.Equal(a.Frozen, []string{"text_encoder.*", "emb_g.weight"}) || a.MaxRelativeChange == nil || *a.MaxRelativeChange != 0.05 {
		t.Errorf("a: %+v", a)
	}
	if b := p.Models["b"].Update; b.Frozen != nil || b.MaxRelativeChange == nil || *b.MaxRelativeChange != 1 {
		t.Errorf("b: %+v", b)
	}
	if c := p.Models["c"].Update; !c.Empty() {
		t.Errorf("c: %+v", c)
	}
	// The effective policy prints it, and reads back the same.
	s := p.String()
	if !strings.Contains(s, "max_relative_change: 0.05") || !strings.Contains(s, "text_encoder.*") {
		t.Errorf("effective policy without the update rules:\n%s", s)
	}
	q, err := Parse("q.yaml", []byte(s))
	if err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	if qa := q.Models["a"].Update; !slices.Equal(qa.Frozen, a.Frozen) || *qa.MaxRelativeChange != *a.MaxRelativeChange {
		t.Errorf("round trip: %+v", qa)
	}
}

func TestModelUpdateErrors(t *testing.T) {
	v := "version: 1\nmodels:\n  a:\n    update:\n"
	for _, tc := range []struct{ in, want string }{
		{v + "      frozn: [x]\n", `policy "p.yaml": line 5: models["a"].update: unknown key "frozn"`},
		{v + "      frozen: x\n", `policy "p.yaml": line 5: models["a"].update.frozen: want a list of strings, got a string`},
		{v + "      frozen: [\"\"]\n", `policy "p.yaml": line 5: models["a"].update.frozen[0]: pattern "": empty`},
		{v + "      frozen: [\"a[\"]\n", `policy "p.yaml": line 5: models["a"].update.frozen[0]: pattern "a[": not a glob (path.Match syntax: *, ?, [a-z], \ escapes)`},
		{v + "      frozen: [x, x]\n", `policy "p.yaml": line 5: models["a"].update.frozen[1]: "x" is listed twice`},
		{v + "      max_relative_change: -0.1\n", `policy "p.yaml": line 5: models["a"].update.max_relative_change: want a number of at least 0 (0.05 allows a relative change of 5%), got a number`},
		{v + "      max_relative_change: \"0.1\"\n", `policy "p.yaml": line 5: models["a"].update.max_relative_change: want a number of at least 0 (0.05 allows a relative change of 5%), got a string`},
		{v + "      max_relative_change: .inf\n", `policy "p.yaml": line 5: models["a"].update.max_relative_change: want a number of at least 0 (0.05 allows a relative change of 5%), got a number`},
	} {
		_, err := Parse("p.yaml", []byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.in, err, tc.want)
		}
	}
}
