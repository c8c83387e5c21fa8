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

// differentialCase is one entry of testdata/differential/expected.json, written by
// scripts/differential/gen_corpus.py from what the real loaders (torch 2.8, numpy,
// coqui-tts 0.28) did with the file under an audit hook. No Python runs here.
type differentialCase struct {
	File    string            `json:"file"`
	Kind    string            `json:"kind"`
	Family  string            `json:"family"`
	Loaders map[string]string `json:"loaders"`
	Effects [][2]string       `json:"loader_effects"`
	// Must is "not-clean" (a loader ran code or opened something outside the
	// model), "clean" (benign, accepted with no effects), "flagged" (the
	// loaders showed no effect but scan flags the file on purpose, for the
	// reason in Deliberate: docs/scan.md) or "any".
	Must       string `json:"must"`
	Deliberate string `json:"deliberate"`
	// KnownFailing names the class of a disagreement the scanner has today;
	// such a case is skipped with that name until the fix lands and the
	// entry is cleared.
	KnownFailing string `json:"known_failing"`
}

const differentialCorpus = "../testdata/differential"

// TestDifferentialCorpus holds the scanner to the real loaders: no clean verdict
// on a file a loader executed code on or opened something outside the model
// through, and no finding on a benign file the loaders accepted without effects.
func TestDifferentialCorpus(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(differentialCorpus, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []differentialCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 24 {
		t.Fatalf("differential corpus has %d cases, want at least 24", len(cases))
	}
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Scanner{Policy: pol, Limits: scan.DefaultLimits}
	for _, c := range cases {
		t.Run(c.File, func(t *testing.T) {
			fr := s.File(context.Background(), filepath.Join(differentialCorpus, c.File))
			var bad string
			switch c.Must {
			case "not-clean":
				if fr.Verdict == Clean {
					bad = fmt.Sprintf("scan says clean, but the loaders did: %s", effects(c.Effects))
				}
			case "flagged":
				if c.Deliberate == "" {
					t.Fatalf("must \"flagged\" without the reason (deliberate)")
				}
				if fr.Verdict == Clean {
					bad = fmt.Sprintf("scan says clean; it flags this file on purpose: %s", c.Deliberate)
				}
			case "clean":
				if fr.Verdict != Clean {
					bad = fmt.Sprintf("scan says %s, but the loaders (%v) accepted it with no effects", fr.Verdict, c.Loaders)
				}
			case "any":
			default:
				t.Fatalf("unknown must %q", c.Must)
			}
			if bad == "" {
				if c.KnownFailing != "" {
					t.Errorf("known-failing class %q now agrees with the loaders: clear known_failing in expected.json", c.KnownFailing)
				}
				return
			}
			var d strings.Builder
			for _, f := range fr.Findings {
				fmt.Fprintf(&d, "\n  %s", f)
			}
			if fr.Unscannable != "" {
				fmt.Fprintf(&d, "\n  unscannable: %s", fr.Unscannable)
			}
			if c.KnownFailing != "" {
				t.Skipf("known-failing class %q (%s, %s): %s%s", c.KnownFailing, c.Kind, c.Family, bad, d.String())
			}
			t.Errorf("%s (%s, %s): %s%s", fr.Format, c.Kind, c.Family, bad, d.String())
		})
	}
}

func effects(es [][2]string) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, e[0]+" "+e[1])
	}
	return strings.Join(parts, "; ")
}
