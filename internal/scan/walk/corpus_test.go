package walk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// expectation is one entry of testdata/corpus/expected.json, written by
// testdata/gen_corpus.py.
type expectation struct {
	File      string  `json:"file"`
	Format    string  `json:"format"`
	Verdict   string  `json:"verdict"`
	Technique string  `json:"technique"`
	Global    *string `json:"global"`
	Member    string  `json:"member"`
	Offset    *int64  `json:"offset"`
	Opcode    string  `json:"opcode"`
	Field     string  `json:"field"`
	Also      []struct {
		Global string `json:"global"`
		Opcode string `json:"opcode"`
		Offset int64  `json:"offset"`
	} `json:"also"`
	RuleHint string `json:"rule_hint"`
}

const corpus = "../testdata/corpus"

func loadExpectations(t testing.TB) []expectation {
	b, err := os.ReadFile(filepath.Join(corpus, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []expectation
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// py3Name maps Python 2 spellings the way the unpickler resolves them.
func py3Name(g string) string {
	if rest, ok := strings.CutPrefix(g, "__builtin__."); ok {
		return "builtins." + rest
	}
	return g
}

// TestCorpus asserts the exact verdict of every corpus file and, for
// malicious files, the reported global, member and offset.
func TestCorpus(t *testing.T) {
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Scanner{Policy: pol, Limits: scan.DefaultLimits}
	for _, e := range loadExpectations(t) {
		t.Run(e.File, func(t *testing.T) {
			fr := s.File(context.Background(), filepath.Join(corpus, e.File))
			dump := func() string {
				var b strings.Builder
				for _, f := range fr.Findings {
					fmt.Fprintf(&b, "\n  %s", f)
				}
				return b.String() + "\n  unscannable: " + fr.Unscannable
			}
			if fr.Verdict != e.Verdict {
				t.Fatalf("verdict %s, want %s (%s)%s", fr.Verdict, e.Verdict, e.Technique, dump())
			}
			if e.Format != "" && string(fr.Format) != e.Format {
				t.Errorf("format %s, want %s", fr.Format, e.Format)
			}
			match := func(f scan.Finding) bool {
				if e.Global != nil && f.Global != py3Name(*e.Global) && f.Global != *e.Global {
					return false
				}
				if e.Offset != nil && f.Offset != *e.Offset {
					return false
				}
				if e.Member != "" && f.Member != e.Member {
					return false
				}
				if e.Field != "" && f.Field != e.Field {
					return false
				}
				if e.Opcode != "" && f.Opcode != "" && f.Opcode != e.Opcode {
					return false
				}
				return f.Severity > scan.Info
			}
			if e.Global != nil || e.Offset != nil || e.Field != "" {
				found := false
				for _, f := range fr.Findings {
					found = found || match(f)
				}
				if !found {
					g := "<none>"
					if e.Global != nil {
						g = *e.Global
					}
					t.Errorf("no finding with global %s member %q offset %v field %q (%s)%s", g, e.Member, deref(e.Offset), e.Field, e.RuleHint, dump())
				}
			}
			for _, a := range e.Also {
				found := false
				for _, f := range fr.Findings {
					found = found || (f.Global == py3Name(a.Global) || f.Global == a.Global) && f.Offset == a.Offset
				}
				if !found {
					t.Errorf("no finding naming %s at offset %d%s", a.Global, a.Offset, dump())
				}
			}
		})
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
