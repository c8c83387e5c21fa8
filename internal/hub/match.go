package hub

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on allow/ignore patterns.
const (
	MaxPatterns   = 256  // patterns of one list
	MaxPatternLen = 1024 // bytes of one pattern
)

// Patterns select a repository's files as huggingface_hub's
// filter_repo_objects does. A nil list is "not given" (Python's None); an
// empty, non-nil list is given and matches nothing, so an empty Allow keeps
// no file.
type Patterns struct {
	Allow  []string // a file must match one of these (when not nil)
	Ignore []string // a file must match none of these
}

// Check validates the lists: at most MaxPatterns patterns of at most
// MaxPatternLen bytes, valid UTF-8 without NUL.
func (p Patterns) Check() error {
	for _, l := range []struct {
		name string
		list []string
	}{{"allow", p.Allow}, {"ignore", p.Ignore}} {
		if len(l.list) > MaxPatterns {
			return fmt.Errorf("%w: %s: more than %d patterns", ErrInvalid, l.name, MaxPatterns)
		}
		for _, s := range l.list {
			if len(s) > MaxPatternLen || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				return fmt.Errorf("%w: %s pattern %q: want valid UTF-8 without NUL, at most %d bytes", ErrInvalid, l.name, clip(s), MaxPatternLen)
			}
		}
	}
	return nil
}

// Keep reports whether a file path passes the lists. Patterns and path have
// backslashes turned into slashes, a pattern ending in "/" gets a "*"
// appended (a folder: everything under it), and matching is Python's
// fnmatch.fnmatchcase (see Match).
func (p Patterns) Keep(filePath string) bool {
	filePath = strings.ReplaceAll(filePath, `\`, "/")
	if p.Allow != nil && !matchAny(p.Allow, filePath) {
		return false
	}
	return !matchAny(p.Ignore, filePath)
}

// Filter returns the files Keep accepts, in order.
func (p Patterns) Filter(files []File) []File {
	var out []File
	for _, f := range files {
		if p.Keep(f.Path) {
			out = append(out, f)
		}
	}
	return out
}

func matchAny(patterns []string, name string) bool {
	for _, pat := range patterns {
		pat = strings.ReplaceAll(pat, `\`, "/")
		if strings.HasSuffix(pat, "/") {
			pat += "*"
		}
		if Match(pat, name) {
			return true
		}
	}
	return false
}

// Match reports whether name matches the shell pattern pat with the
// semantics of Python's fnmatch.fnmatchcase, compared by code point and
// case-sensitively:
//
//   - "*" matches any run of characters, "/" included;
//   - "?" matches any one character;
//   - "[...]" matches one character of a set, "[!...]" one not in it; a "]"
//     right after "[" or "[!" is a member; "a-z" is a range (one whose start
//     is after its end is empty), a "-" first or last is itself; a set
//     without a closing "]" is a literal "[";
//   - anything else, backslash included, matches itself.
func Match(pat, name string) bool {
	toks := compile(pat)
	s := []rune(name)
	// Greedy matching with one backtracking point, the last "*" seen:
	// linear in len(toks)*len(s).
	ti, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case ti < len(toks) && toks[ti].kind != tokStar && toks[ti].matches(s[si]):
			ti++
			si++
		case ti < len(toks) && toks[ti].kind == tokStar:
			star, mark = ti, si
			ti++
		case star >= 0:
			ti = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].kind == tokStar {
		ti++
	}
	return ti == len(toks)
}

type tokKind uint8

const (
	tokLit tokKind = iota
	tokAny
	tokStar
	tokSet
)

type token struct {
	kind   tokKind
	r      rune      // tokLit
	negate bool      // tokSet
	ranges [][2]rune // tokSet: inclusive ranges; an empty range is dropped
}

func (t token) matches(r rune) bool {
	switch t.kind {
	case tokLit:
		return r == t.r
	case tokAny:
		return true
	case tokSet:
		in := false
		for _, rg := range t.ranges {
			if rg[0] <= r && r <= rg[1] {
				in = true
				break
			}
		}
		return in != t.negate
	}
	return false
}

// compile turns a pattern into tokens, consecutive stars merged.
func compile(pat string) []token {
	p := []rune(pat)
	var toks []token
	for i := 0; i < len(p); {
		c := p[i]
		i++
		switch c {
		case '*':
			if len(toks) == 0 || toks[len(toks)-1].kind != tokStar {
				toks = append(toks, token{kind: tokStar})
			}
		case '?':
			toks = append(toks, token{kind: tokAny})
		case '[':
			t, next, ok := compileSet(p, i)
			if !ok {
				toks = append(toks, token{kind: tokLit, r: '['})
				continue
			}
			toks = append(toks, t)
			i = next
		default:
			toks = append(toks, token{kind: tokLit, r: c})
		}
	}
	return toks
}

// compileSet parses the set whose "[" is just before p[i]; it returns the
// set and the index after its "]", or ok=false when the set never closes.
func compileSet(p []rune, i int) (token, int, bool) {
	j := i
	if j < len(p) && p[j] == '!' {
		j++
	}
	if j < len(p) && p[j] == ']' {
		j++
	}
	for j < len(p) && p[j] != ']' {
		j++
	}
	if j >= len(p) {
		return token{}, 0, false
	}
	body := p[i:j]
	t := token{kind: tokSet}
	if len(body) > 0 && body[0] == '!' {
		t.negate, body = true, body[1:]
	}
	for k := 0; k < len(body); {
		lo, hi := body[k], body[k]
		if k+2 < len(body) && body[k+1] == '-' {
			hi = body[k+2]
			k += 3
		} else {
			k++
		}
		if lo <= hi {
			t.ranges = append(t.ranges, [2]rune{lo, hi})
		}
	}
	return t, j + 1, true
}
