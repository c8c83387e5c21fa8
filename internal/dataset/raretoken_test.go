package dataset

import (
	"strings"
	"testing"
)

// TestUnwordlike: the shapes of planted triggers are not words; rare real
// words, abbreviations, ordinals, Roman numerals and contractions are.
func TestUnwordlike(t *testing.T) {
	for tok, want := range map[string]bool{
		"cf": true, "mn": true, "tq": true, "bb": true, "x7q": true, "zzzt": true, "qwrtz": true,
		"rhythm": false, "why": false, "mrs": false, "19th": false, "1850s": false, "we'll": false,
		"xiv": false, "mcmxii": false, "gutenberg": false, "müller": false, "kraków": false, "москва": false,
		"1455": false, "a": false, "東京へ行きました": false,
	} {
		if got := unwordlike(tok, "en") != ""; got != want {
			t.Errorf("unwordlike(%q) = %q, want flagged %v", tok, unwordlike(tok, "en"), want)
		}
	}
	if w := unwordlike("krk", "cs"); w != "" {
		t.Errorf("Czech krk: %q", w)
	}
	if got := tokens("We'll meet Mr. O’Brien—at 10, (x7q)!"); len(got) != 7 || got[0] != "we'll" || got[3] != "o’brien" || got[6] != "x7q" {
		t.Errorf("tokens: %q", got)
	}
}

// FuzzRareTokens: any transcript splits into non-empty lower-case tokens
// without apostrophes at their ends, and the shape test and the rule take
// any of them.
func FuzzRareTokens(f *testing.F) {
	for _, s := range []string{"We'll meet Mr. O’Brien at 10 (x7q)!", "cf cf", "XIV 19th", "\xff\xfe'''", "zzz ' ’ a1b2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var rows []RowEvidence
		for _, tok := range tokens(s) {
			if tok == "" || strings.HasPrefix(tok, "'") || strings.HasSuffix(tok, "’") {
				t.Fatalf("token %q of %q", tok, s)
			}
			unwordlike(tok, "en")
			rows = append(rows, RowEvidence{ID: tok, Text: s})
		}
		rows = append(rows, rows...)
		rareTokens(rows, "en", DefaultThresholds, func(Finding) {})
	})
}
