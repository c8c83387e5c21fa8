package dataset

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// bidiControls reorder text without being seen (Trojan Source); the marks
// (LRM, RLM, ALM) occur in real Arabic and Hebrew text and grade lower.
var bidiControls = map[rune]scan.Severity{
	0x202A: scan.High, 0x202B: scan.High, 0x202C: scan.High, 0x202D: scan.High, 0x202E: scan.High,
	0x2066: scan.High, 0x2067: scan.High, 0x2068: scan.High, 0x2069: scan.High,
	0x200E: scan.Medium, 0x200F: scan.Medium, 0x061C: scan.Medium,
}

// invisible reports characters that render as nothing: format characters
// (Cf: zero-width space, joiners, word joiner, BOM, soft hyphen, tags), the
// Hangul fillers, the combining grapheme joiner, variation selectors and the
// blank braille pattern.
func invisible(r rune) bool {
	switch {
	case r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0, r == 0x034F, r == 0x2800:
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// confusableScripts are the scripts whose letters pass for each other.
var confusableScripts = []struct {
	name  string
	table *unicode.RangeTable
}{{"Latin", unicode.Latin}, {"Cyrillic", unicode.Cyrillic}, {"Greek", unicode.Greek}, {"Armenian", unicode.Armenian}}

// fieldRules checks one metadata field for control characters, terminal
// escapes, invisible and bidirectional-control characters.
func fieldRules(row Row, fieldName, v string, emit func(Finding)) {
	loc := Finding{File: row.MetaFile, Line: row.Line, Clip: row.ID, Field: fieldName}
	rs := []rune(v)
	var ctl, inv []string
	var esc bool
	bidi := scan.Info
	var bidiSeen []string
	for i, r := range rs {
		switch {
		case r == 0x1b || r == 0x9b:
			esc = true
		case unicode.Is(unicode.Cc, r):
			if _, ok := splitlinesOnly[r]; ok || r == '\t' || r == '\n' || r == '\r' {
				continue // tabs are whitespace; line breaks are meta/line-break's
			}
			ctl = append(ctl, fmt.Sprintf("U+%04X at %d", r, i))
		case bidiControls[r] > 0:
			bidi = max(bidi, bidiControls[r])
			bidiSeen = append(bidiSeen, fmt.Sprintf("U+%04X at %d", r, i))
		case invisible(r) && !joinerInWord(rs, i):
			inv = append(inv, fmt.Sprintf("U+%04X at %d", r, i))
		}
	}
	if esc {
		f := loc
		f.Rule, f.Severity = "text/terminal-escape", scan.High
		f.Message = fmt.Sprintf("terminal escape sequence in %q: it rewrites a terminal or log viewer that shows it", v)
		emit(f)
	}
	if len(ctl) > 0 {
		f := loc
		f.Rule, f.Severity = "text/control-char", scan.Medium
		f.Message = fmt.Sprintf("control characters (%s) in %q", strings.Join(ctl, ", "), v)
		emit(f)
	}
	if len(bidiSeen) > 0 {
		f := loc
		f.Rule, f.Severity = "text/bidi-control", bidi
		f.Message = fmt.Sprintf("bidirectional controls (%s) in %q: the text reads differently than it is stored", strings.Join(bidiSeen, ", "), v)
		emit(f)
	}
	if len(inv) > 0 {
		f := loc
		f.Rule, f.Severity = "text/invisible", scan.Medium
		f.Message = fmt.Sprintf("invisible characters (%s) in %q", strings.Join(inv, ", "), v)
		emit(f)
	}
}

// joinerInWord allows ZWNJ/ZWJ between two letters of one script that uses
// them (Arabic, Persian, Indic scripts ...), ZWJ and variation selectors in
// emoji sequences.
func joinerInWord(rs []rune, i int) bool {
	r := rs[i]
	prev, next := rune(-1), rune(-1)
	if i > 0 {
		prev = rs[i-1]
	}
	if i+1 < len(rs) {
		next = rs[i+1]
	}
	emoji := func(x rune) bool { return x >= 0x2190 && unicode.In(x, unicode.So, unicode.Sk) }
	switch {
	case r == 0x200D && (emoji(prev) || prev >= 0xFE00 && prev <= 0xFE0F) && emoji(next):
		return true
	case r == 0xFE0F && emoji(prev):
		return true
	case r == 0x200C || r == 0x200D:
		lp, ln := letterScript(prev), letterScript(next)
		return lp != "" && lp == ln && lp != "Latin" && lp != "Cyrillic" && lp != "Greek"
	}
	return false
}

// letterScript names the script of a letter or mark ("" for others).
func letterScript(r rune) string {
	if r < 0 || !unicode.In(r, unicode.L, unicode.M) {
		return ""
	}
	for name, t := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && unicode.Is(t, r) {
			return name
		}
	}
	return ""
}

// mixedScript reports words that mix Latin, Cyrillic, Greek or Armenian
// letters: the homoglyph substitutions that look like one word and tokenize
// as another.
func mixedScript(row Row, emit func(Finding)) {
	words := strings.FieldsFunc(row.Text, func(r rune) bool { return !unicode.In(r, unicode.L, unicode.M) })
	for _, w := range words {
		var names []string
		for _, s := range confusableScripts {
			if strings.ContainsFunc(w, func(r rune) bool { return unicode.Is(s.table, r) }) {
				names = append(names, s.name)
			}
		}
		if len(names) > 1 {
			var cps []string
			for _, r := range w {
				if r > 0x7f {
					cps = append(cps, fmt.Sprintf("U+%04X", r))
				}
			}
			emit(Finding{Rule: "text/mixed-script", Severity: scan.Medium, File: row.MetaFile, Line: row.Line, Clip: row.ID, Field: "text",
				Message: fmt.Sprintf("word %q mixes %s letters (%s): a homoglyph reads as one word and trains as another", w, strings.Join(names, " and "), strings.Join(cps, " "))})
		}
	}
}

// charsetRule reports transcript characters outside the config's character
// set (either case counts, whitespace always passes): coqui's tokenizer
// drops them, so the audio says more than the text the model sees.
func charsetRule(row Row, charset map[rune]bool, cleaner string, emit func(Finding)) {
	var out []string
	seen := map[rune]bool{}
	for _, r := range row.Text {
		if seen[r] || charset[r] || charset[unicode.ToLower(r)] || charset[unicode.ToUpper(r)] || pyIsSpace(r) {
			continue
		}
		seen[r] = true
		out = append(out, fmt.Sprintf("%q", r))
	}
	if len(out) == 0 {
		return
	}
	msg := fmt.Sprintf("characters outside the config's character set: %s", strings.Join(out, " "))
	if cleaner != "" {
		msg += fmt.Sprintf(" (before the %q text cleaner, which may map some of them)", cleaner)
	}
	emit(Finding{Rule: "text/out-of-charset", Severity: scan.Low, File: row.MetaFile, Line: row.Line, Clip: row.ID, Field: "text", Message: msg})
}
