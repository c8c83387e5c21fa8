package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseTreePage: no panic; an accepted page holds only valid paths,
// sizes and digests, and re-encoding it in the Hub's shape parses to the
// same files.
func FuzzParseTreePage(f *testing.F) {
	f.Add([]byte(`[{"type":"file","oid":"` + oidA + `","size":4,"path":"config.json"},{"type":"directory","oid":"` + oidA + `","size":0,"path":"d"}]`))
	f.Add([]byte(`[{"type":"file","oid":"` + oidA + `","size":10,"path":"d/m.pth","lfs":{"oid":"` + sumA + `","size":10,"pointerSize":134}}]`))
	f.Add([]byte(`[{"type":"file","path":"../x"}]`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := ParseTreePage(data)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error outside ErrBadResponse: %v", err)
			}
			return
		}
		var wire []map[string]any
		for _, f := range files {
			if CheckPath(f.Path) != nil || f.Size < 0 || !isHex(f.BlobID, 40) || (f.LFS != nil && (!isHex(f.LFS.SHA256, 64) || f.LFS.Size != f.Size)) {
				t.Fatalf("accepted %+v", f)
			}
			e := map[string]any{"type": "file", "path": f.Path, "oid": f.BlobID, "size": f.Size + 7} // ignored for LFS
			if f.LFS != nil {
				e["lfs"] = map[string]any{"oid": f.LFS.SHA256, "size": f.LFS.Size}
			} else {
				e["size"] = f.Size
			}
			wire = append(wire, e)
		}
		if wire == nil {
			wire = []map[string]any{}
		}
		again, _ := json.Marshal(wire)
		back, err := ParseTreePage(again)
		if err != nil || len(back) != len(files) {
			t.Fatalf("round trip: %v, %d files, want %d", err, len(back), len(files))
		}
		for i := range back {
			if back[i].Path != files[i].Path || back[i].Size != files[i].Size || back[i].BlobID != files[i].BlobID {
				t.Fatalf("round trip: %+v != %+v", back[i], files[i])
			}
		}
	})
}

// FuzzParseInfo: no panic; an accepted answer has a commit and valid paths.
func FuzzParseInfo(f *testing.F) {
	f.Add([]byte(`{"id":"tts-hub/XTTS-v2","sha":"` + commitA + `","gated":"auto","siblings":[{"rfilename":"config.json"}]}`))
	f.Add([]byte(`{"sha":null,"gated":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInfo(data)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error outside ErrBadResponse: %v", err)
			}
			return
		}
		if !IsCommit(in.Commit) || (in.Gated != "" && in.Gated != "auto" && in.Gated != "manual") {
			t.Fatalf("accepted %+v", in)
		}
		for _, p := range in.Files {
			if CheckPath(p) != nil {
				t.Fatalf("accepted path %q", p)
			}
		}
	})
}

// FuzzNextLink: no panic; a link found is a bracketed part of the header.
func FuzzNextLink(f *testing.F) {
	f.Add(`<https://h/a?cursor=1>; rel="next"`)
	f.Add(`<a>; rel="prev", <b>; rel=next`)
	f.Add(`<<>>;rel=next,`)
	f.Fuzz(func(t *testing.T, header string) {
		if l := nextLink(header); l != "" && !strings.Contains(header, "<"+l+">") {
			t.Fatalf("nextLink(%q) = %q, not a bracketed part", header, l)
		}
	})
}

// FuzzParseSource: no panic; an accepted source round-trips and is valid.
func FuzzParseSource(f *testing.F) {
	f.Add("hf://tts-hub/XTTS-v2@v2.0.3")
	f.Add("hf://a/b")
	f.Add("hf://datasets/a/b")
	f.Fuzz(func(t *testing.T, s string) {
		src, err := ParseSource(s)
		if err != nil {
			return
		}
		if ParseRepoID(src.Repo) != nil || ValidRevision(src.Revision) != nil {
			t.Fatalf("accepted %q as %+v", s, src)
		}
		if again, err := ParseSource(src.String()); err != nil || again != src {
			t.Fatalf("%q: round trip %+v %v", s, again, err)
		}
	})
}

// FuzzMatch compares Match with an independent translation of the same
// fnmatch rules into an RE2 regular expression.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{{"*.pth", "a/b.pth"}, {"[a-c]x", "bx"}, {"[!]]*", "]x"}, {"[z-a-b]", "-"}, {"a[", "a["}, {"*a*a*b", "aaaaac"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		if len(pat) > 64 || len(name) > 256 || !utf8.ValidString(pat) || !utf8.ValidString(name) {
			return
		}
		re, err := regexp.Compile(translate(pat))
		if err != nil {
			t.Fatalf("translate(%q) = %q: %v", pat, translate(pat), err)
		}
		if got, want := Match(pat, name), re.MatchString(name); got != want {
			t.Fatalf("Match(%q, %q) = %v, the regexp %q says %v", pat, name, got, translate(pat), want)
		}
	})
}

// translate writes a pattern as a regular expression, character by
// character, the way fnmatch.translate documents it (independently of
// compile).
func translate(pat string) string {
	p := []rune(pat)
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := i + 1
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
				b.WriteString(`\[`)
				continue
			}
			body, neg := p[i+1:j], false
			if len(body) > 0 && body[0] == '!' {
				body, neg = body[1:], true
			}
			var alts []string
			for k := 0; k < len(body); k++ {
				if k+2 < len(body) && body[k+1] == '-' {
					if body[k] <= body[k+2] {
						alts = append(alts, hexRune(body[k])+"-"+hexRune(body[k+2]))
					}
					k += 2
					continue
				}
				alts = append(alts, hexRune(body[k]))
			}
			switch {
			case len(alts) == 0 && neg:
				b.WriteString(".")
			case len(alts) == 0:
				b.WriteString(`[^\x00-\x{10FFFF}]`)
			case neg:
				b.WriteString("[^" + strings.Join(alts, "") + "]")
			default:
				b.WriteString("[" + strings.Join(alts, "") + "]")
			}
			i = j
		default:
			b.WriteString(regexp.QuoteMeta(string(p[i])))
		}
	}
	b.WriteString(`\z`)
	return b.String()
}

func hexRune(r rune) string { return fmt.Sprintf(`\x{%x}`, r) }
