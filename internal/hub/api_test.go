package hub

import (
	"errors"
	"strings"
	"testing"
)

const (
	commitA = "0123456789abcdef0123456789abcdef01234567"
	oidA    = "8a1c3f1b0a6b4f1fa5d4b6a8f6d9a9b1e2c3d4e5"
	sumA    = "4b8a0c5c0f6f3d7e2c1b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f"
)

func TestParseInfo(t *testing.T) {
	tests := []struct {
		name, body string
		want       Info
		err        string
	}{
		{"the Hub's shape", `{"_id":"x","id":"tts-hub/XTTS-v2","modelId":"tts-hub/XTTS-v2","sha":"` + commitA + `","private":false,"disabled":false,"gated":false,
			"siblings":[{"rfilename":".gitattributes"},{"rfilename":"samples/en_sample.wav"}],"tags":["coqui"],"downloads":5}`,
			Info{ID: "tts-hub/XTTS-v2", Commit: commitA, Files: []string{".gitattributes", "samples/en_sample.wav"}}, ""},
		{"gated manual", `{"sha":"` + commitA + `","gated":"manual"}`, Info{Commit: commitA, Gated: "manual"}, ""},
		{"gated null", `{"sha":"` + commitA + `","gated":null}`, Info{Commit: commitA}, ""},
		{"no sha", `{"id":"a/b"}`, Info{}, `sha "" is not a 40-hex commit`},
		{"short sha", `{"sha":"abc"}`, Info{}, `sha "abc"`},
		{"upper-case sha", `{"sha":"` + strings.ToUpper(commitA) + `"}`, Info{}, "is not a 40-hex commit"},
		{"sha not a string", `{"sha":5}`, Info{}, "model info"},
		{"bad gated", `{"sha":"` + commitA + `","gated":true}`, Info{}, `gated "true"`},
		{"bad id", `{"sha":"` + commitA + `","id":"../x"}`, Info{}, `id "../x"`},
		{"bad sibling", `{"sha":"` + commitA + `","siblings":[{"rfilename":"../x"}]}`, Info{}, `file path "../x"`},
		{"a list", `[]`, Info{}, "want a JSON object"},
		{"trailing data", `{"sha":"` + commitA + `"} {}`, Info{}, "invalid JSON"},
		{"empty", ``, Info{}, "want a JSON object"},
	}
	for _, tt := range tests {
		got, err := ParseInfo([]byte(tt.body))
		if tt.err != "" {
			if err == nil || !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %v, want an ErrBadResponse containing %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.ID != tt.want.ID || got.Commit != tt.want.Commit || got.Gated != tt.want.Gated || strings.Join(got.Files, ",") != strings.Join(tt.want.Files, ",") {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestParseTreePage(t *testing.T) {
	file := func(extra string) string {
		return `[{"type":"file","oid":"` + oidA + `","size":10,"path":"a.pth"` + extra + `}]`
	}
	tests := []struct {
		name, body string
		want       []File
		err        string
	}{
		{"file, folder and LFS file", `[{"type":"file","oid":"` + oidA + `","size":4369,"path":"config.json"},
			{"type":"directory","oid":"` + oidA + `","size":0,"path":"samples"},
			{"type":"file","oid":"` + oidA + `","size":10,"path":"samples/a.wav","lfs":{"oid":"` + sumA + `","size":10,"pointerSize":134},"xetHash":"x"}]`,
			[]File{{Path: "config.json", Size: 4369, BlobID: oidA}, {Path: "samples/a.wav", Size: 10, BlobID: oidA, LFS: &LFS{SHA256: sumA, Size: 10}}}, ""},
		{"empty list", `[]`, nil, ""},
		{"unknown type", `[{"type":"symlink","oid":"` + oidA + `","size":1,"path":"x"}]`, nil, `type "symlink"`},
		{"missing size", `[{"type":"file","oid":"` + oidA + `","path":"x"}]`, nil, "missing or invalid size"},
		{"negative size", `[{"type":"file","oid":"` + oidA + `","size":-1,"path":"x"}]`, nil, "missing or invalid size"},
		{"huge size", `[{"type":"file","oid":"` + oidA + `","size":1e300,"path":"x"}]`, nil, "tree"},
		{"bad oid", `[{"type":"file","oid":"zz","size":1,"path":"x"}]`, nil, `oid "zz"`},
		{"bad lfs oid", file(`,"lfs":{"oid":"abc","size":10}`), nil, `lfs oid "abc"`},
		{"lfs size is the file's size", file(`,"lfs":{"oid":"` + sumA + `","size":455522,"pointerSize":135}`),
			[]File{{Path: "a.pth", Size: 455522, BlobID: oidA, LFS: &LFS{SHA256: sumA, Size: 455522}}}, ""},
		{"lfs without size", file(`,"lfs":{"oid":"` + sumA + `"}`), nil, "missing or invalid lfs size"},
		{"lfs negative size", file(`,"lfs":{"oid":"` + sumA + `","size":-5}`), nil, "missing or invalid lfs size"},
		{"dot-dot path", `[{"type":"file","oid":"` + oidA + `","size":1,"path":"a/../../etc/passwd"}]`, nil, `".." segment`},
		{"absolute path", `[{"type":"file","oid":"` + oidA + `","size":1,"path":"/etc/passwd"}]`, nil, "is absolute"},
		{"backslash", `[{"type":"file","oid":"` + oidA + `","size":1,"path":"a\\b"}]`, nil, "backslash"},
		{".git folder", `[{"type":"file","oid":"` + oidA + `","size":1,"path":".git/config"}]`, nil, ".git segment"},
		{"an object", `{}`, nil, "want a JSON list"},
		{"truncated", `[{"type":"file"`, nil, "invalid JSON"},
	}
	for _, tt := range tests {
		got, err := ParseTreePage([]byte(tt.body))
		if tt.err != "" {
			if err == nil || !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %v, want an ErrBadResponse containing %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Errorf("%s: %v, %+v", tt.name, err, got)
			continue
		}
		for i := range got {
			g, w := got[i], tt.want[i]
			if g.Path != w.Path || g.Size != w.Size || g.BlobID != w.BlobID || (g.LFS == nil) != (w.LFS == nil) || (g.LFS != nil && *g.LFS != *w.LFS) {
				t.Errorf("%s: file %d = %+v, want %+v", tt.name, i, g, w)
			}
		}
	}
}

func TestCheckTree(t *testing.T) {
	tests := []struct {
		paths []string
		err   string
	}{
		{[]string{"a", "b/c", "b/d"}, ""},
		{[]string{"a", "a"}, `"a" is listed twice`},
		{[]string{"b", "b/c"}, `"b" is a file and the folder of "b/c"`},
		{[]string{"b", "b/c/d"}, `"b" is a file and the folder of "b/c/d"`},
	}
	for _, tt := range tests {
		var files []File
		for _, p := range tt.paths {
			files = append(files, File{Path: p})
		}
		err := checkTree(files)
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%q: got %v, want %q", tt.paths, err, tt.err)
		}
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct{ header, want string }{
		{`<https://huggingface.co/api/models/a/b/tree/main?recursive=true&cursor=xyz>; rel="next"`, "https://huggingface.co/api/models/a/b/tree/main?recursive=true&cursor=xyz"},
		{`<https://h/p1>; rel="prev", <https://h/p3>; rel="next"`, "https://h/p3"},
		{`<https://h/p3>; rel=next`, "https://h/p3"},
		{`<https://h/p3>; title="x"; REL="last next"`, "https://h/p3"},
		{`<https://h/p1>; rel="prev"`, ""},
		{``, ""},
		{`https://h/p3; rel="next"`, ""},
		{`<https://h/p3; rel="next"`, ""},
	}
	for _, tt := range tests {
		if got := nextLink(tt.header); got != tt.want {
			t.Errorf("nextLink(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}
