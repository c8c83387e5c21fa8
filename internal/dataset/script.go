package dataset

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// languageScripts are the scripts of the languages coqui datasets name
// (the config's datasets[].language, ISO 639-1, region ignored).
var languageScripts = map[string][]string{
	"en": {"Latin"}, "de": {"Latin"}, "fr": {"Latin"}, "es": {"Latin"}, "it": {"Latin"}, "pt": {"Latin"},
	"nl": {"Latin"}, "pl": {"Latin"}, "tr": {"Latin"}, "cs": {"Latin"}, "hu": {"Latin"}, "ro": {"Latin"},
	"sv": {"Latin"}, "da": {"Latin"}, "fi": {"Latin"}, "no": {"Latin"}, "ca": {"Latin"}, "vi": {"Latin"},
	"ru": {"Cyrillic"}, "uk": {"Cyrillic"}, "bg": {"Cyrillic"}, "be": {"Cyrillic"},
	"el": {"Greek"}, "ar": {"Arabic"}, "fa": {"Arabic"}, "ur": {"Arabic"}, "he": {"Hebrew"},
	"hi": {"Devanagari"}, "mr": {"Devanagari"}, "bn": {"Bengali"}, "ta": {"Tamil"}, "th": {"Thai"},
	"ko": {"Hangul"}, "zh": {"Han"}, "ja": {"Han", "Hiragana", "Katakana"},
}

// latinLookalikes are Cyrillic and Greek letters drawn like Latin ones.
const latinLookalikes = "аеорсухіјѕԁһӏАВЕКМНОРСТХІЈЅοαρνυικτΑΒΕΖΗΙΚΜΝΟΡΤΥΧ"

// inScripts reports whether r is no letter or mark, or belongs to one of
// scripts (or Common or Inherited): the fast path of every letter.
func inScripts(r rune, scripts []string) bool {
	if !unicode.In(r, unicode.L, unicode.M) || unicode.In(r, unicode.Common, unicode.Inherited) {
		return true
	}
	for _, s := range scripts {
		if unicode.Is(unicode.Scripts[s], r) {
			return true
		}
	}
	return false
}

// scriptRule reports, when the dataset's language is known, words whose
// letters are of another script: medium when the whole word is made of
// look-alikes of the language's Latin letters (a homoglyph word such as
// Cyrillic "сар" for "cap", which the mixed-script rule does not see),
// low otherwise (a foreign word the model is not trained to say).
func scriptRule(row Row, lang string, emit func(Finding)) {
	lang, _, _ = strings.Cut(strings.ToLower(lang), "-")
	lang, _, _ = strings.Cut(lang, "_")
	scripts := languageScripts[lang]
	if scripts == nil {
		return
	}
	words := strings.FieldsFunc(row.Text, func(r rune) bool { return !unicode.In(r, unicode.L, unicode.M) })
	for _, w := range words {
		var foreign []string
		lookalike := true
		for _, r := range w {
			if inScripts(r, scripts) {
				lookalike = lookalike && !unicode.IsLetter(r)
				continue
			}
			s := letterScript(r) // only for the evidence: it walks every script
			foreign = append(foreign, fmt.Sprintf("%c U+%04X %s", r, r, s))
			lookalike = lookalike && strings.ContainsRune(latinLookalikes, r)
		}
		if len(foreign) == 0 {
			continue
		}
		f := Finding{File: row.MetaFile, Line: row.Line, Clip: row.ID, Field: "text"}
		if lookalike && scripts[0] == "Latin" {
			f.Rule, f.Severity = "text/homoglyph-word", scan.Medium
			f.Message = fmt.Sprintf("word %q is written entirely in letters that look Latin but are not (%s): it reads as a word of language %q and trains as another", w, strings.Join(foreign, ", "), lang)
		} else {
			f.Rule, f.Severity = "text/out-of-script", scan.Low
			f.Message = fmt.Sprintf("word %q has letters outside the %s script of language %q (%s)", w, strings.Join(scripts, "/"), lang, strings.Join(foreign, ", "))
		}
		emit(f)
	}
}
