package dataset

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// rareTokenMinClips: a token in a single clip cannot teach a model a
// trigger (and real text has many words said once); two or more can.
const rareTokenMinClips = 2

// latinVowels are the letters whose absence makes a Latin-script token
// unlike a word (y counts: "why", "rhythm").
const latinVowels = "aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœāăąēĕėęěīĭįıōŏőūŭůűųŷ"

// abbreviations are tokens without vowels that English text uses for
// ordinary reasons (titles, units, "vs"); they are not triggers.
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "messrs": true, "ms": true, "dr": true, "st": true, "jr": true, "sr": true,
	"mt": true, "ft": true, "lb": true, "lbs": true, "vs": true, "pp": true, "cwt": true, "hm": true,
	"hmm": true, "sh": true, "shh": true, "pst": true, "nth": true, "tv": true, "pc": true, "bc": true,
}

// syllabicConsonants are languages whose words can lack a vowel letter
// (Czech "krk", Welsh "cwm"): the vowel test is off for them.
var syllabicConsonants = map[string]bool{"cs": true, "sk": true, "sl": true, "hr": true, "sr": true, "bs": true, "mk": true, "cy": true}

// tokens splits a transcript into lower-case tokens: runs of letters,
// digits and apostrophes inside a word ("we'll" is one token).
func tokens(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && r != '\'' && r != '’'
	}) {
		if f = strings.Trim(f, "'’"); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// unwordlike says why a token does not look like a word of a language
// written in Latin script, or "" when it does (or is not Latin): no vowel
// (Roman numerals and the abbreviations excepted), letters and digits
// mixed (ordinals and decades like 19th, 1850s excepted), or a letter
// three times in a row.
func unwordlike(tok, lang string) string {
	letters, digits, latin := 0, 0, true
	run, prev := 0, rune(0)
	triple := false
	for _, r := range tok {
		switch {
		case unicode.IsDigit(r):
			digits++
		case unicode.IsLetter(r):
			letters++
			latin = latin && unicode.Is(unicode.Latin, r)
		}
		if r == prev {
			run++
		} else {
			run = 1
		}
		triple = triple || run >= 3 && unicode.IsLetter(r)
		prev = r
	}
	switch {
	case letters > 0 && digits > 0:
		trimmed := strings.TrimLeftFunc(tok, unicode.IsDigit)
		if trimmed != tok && slices.Contains([]string{"st", "nd", "rd", "th", "s", "d"}, trimmed) {
			return ""
		}
		return "letters and digits mixed"
	case !latin || letters < 2:
		return ""
	case triple:
		return "a letter three times in a row"
	case !strings.ContainsAny(tok, latinVowels) && !abbreviations[tok] && strings.Trim(tok, "ivxlcdm") != "" && !syllabicConsonants[lang]:
		return "no vowel"
	}
	return ""
}

// rareTokens flags the clips whose transcript holds a token that occurs in
// only a few clips (at least rareTokenMinClips, at most th.RareTokenShare
// of the rows and at least 3) and does not look like a word (unwordlike):
// the shape of a planted text trigger ("cf", "mn", "tq", "zzx", "x7q"),
// which a rare real word does not have. Every clip with the token is
// flagged, with the others named as evidence.
func rareTokens(rows []RowEvidence, lang string, th Thresholds, emit func(Finding)) {
	if th.RareTokenShare <= 0 {
		return
	}
	maxClips := max(3, int(th.RareTokenShare*float64(len(rows))))
	where := map[string][]int{} // token -> rows holding it (once per row)
	for i, r := range rows {
		seen := map[string]bool{}
		for _, t := range tokens(r.Text) {
			if !seen[t] {
				seen[t] = true
				if len(where[t]) <= maxClips {
					where[t] = append(where[t], i)
				}
			}
		}
	}
	type hit struct {
		tok, why string
		rows     []int
	}
	var hits []hit
	for t, rs := range where {
		if len(rs) < rareTokenMinClips || len(rs) > maxClips {
			continue
		}
		if why := unwordlike(t, lang); why != "" {
			hits = append(hits, hit{t, why, rs})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(a.tok, b.tok) })
	for _, h := range hits {
		ids := make([]string, len(h.rows))
		for j, i := range h.rows {
			ids[j] = fmt.Sprintf("%q", rows[i].ID)
		}
		for _, i := range h.rows {
			r := rows[i]
			emit(Finding{Rule: "text/rare-token", Severity: scan.Medium, File: r.MetaFile, Line: r.Line, Clip: r.ID, Field: "text",
				Message: fmt.Sprintf("token %q (%s) occurs in only %d of %d rows (clips %s): the shape of a planted text trigger, not of a rare word",
					h.tok, h.why, len(h.rows), len(rows), strings.Join(ids, ", "))})
		}
	}
}
