package config

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestFsspecURL (issue 16, class 3): strings fsspec opens as URLs, by its own
// parsing, and strings it reads as local paths.
func TestFsspecURL(t *testing.T) {
	urls := map[string]string{
		"https://example.invalid/x.json": "https", "data:,{}": "data", "data:application/json;base64,e30=": "data",
		" https://example.invalid/x.json": " https", "x/../https://host/x": "x/../https", "memory://x": "memory",
		"simplecache::https://h/x": "simplecache", "blockcache::file:///x": "blockcache", "filecache::/x.pth": "filecache",
		"zip://a::file:///b.zip": "zip", "a::b": "chain", "file:///etc/hostname": "file", "file:/etc/x": "file",
		"local:/etc/x": "local", "local:../outside/speakers.json": "local", "memory": "memory", "github": "github",
		"data": "data", "async_wrapper": "async_wrapper", "hf": "hf",
	}
	for s, want := range urls {
		if got, ok := FsspecURL(s); !ok || got != want {
			t.Errorf("FsspecURL(%q) = %q, %v; want %q", s, got, ok, want)
		}
	}
	for _, s := range []string{"speakers.pth", "sub/d.json", "/abs/x.pth", "~/x", `C:\m\x.pth`, "C://x.pth", "../up.json",
		"speakers", "file", "local", "DATA:x", "Data:,x", "a:b", "model_file"} {
		if p, ok := FsspecURL(s); ok {
			t.Errorf("FsspecURL(%q) = %q, want a local path", s, p)
		}
	}
}

// fsspecCase is one entry of testdata/fsspec_cases.json: a string and the
// protocols fsspec's own _un_chain gives it, directly (fsspec.open) and after
// trainer's load_fsspec puts "filecache::" in front.
type fsspecCase struct {
	S   string `json:"s"`
	URL bool   `json:"url"`
}

// TestFsspecCasesMatchFsspec holds FsspecURL to fsspec itself: every string
// the installed fsspec reads as a non-local protocol or a chain is a URL here;
// a string fsspec reads as a local path is one here too, unless it spells a
// protocol out ("file:", "local:", or "://" and "::" with a protocol fsspec
// refuses as unknown).
func TestFsspecCasesMatchFsspec(t *testing.T) {
	b, err := os.ReadFile("../testdata/fsspec_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []fsspecCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, c := range cases {
		_, got := FsspecURL(c.S)
		spelled := strings.Contains(c.S, "://") || strings.Contains(c.S, "::") || strings.HasPrefix(c.S, "file:") || strings.HasPrefix(c.S, "local:")
		if c.URL && !got || !c.URL && got && !spelled {
			t.Errorf("%q: fsspec says url=%v, FsspecURL says %v", c.S, c.URL, got)
		}
	}
}

// TestFsspecProtocolsMatchInstalled: the built-in list is fsspec's own
// (available_protocols() of the version coqui-tts 0.28 installs).
func TestFsspecProtocolsMatchInstalled(t *testing.T) {
	b, err := os.ReadFile("../testdata/fsspec_protocols.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Fields(string(b))
	var got []string
	for p := range fsspecProtocols {
		got = append(got, p)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("protocols differ:\n got %v\nwant %v", got, want)
	}
}

// FuzzFsspecURL: never panics; anything with a protocol before "://" or a
// chain is a URL.
func FuzzFsspecURL(f *testing.F) {
	for _, s := range []string{"data:,x", "a::b", "memory", " https://x", "local:../x", "C://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, ok := FsspecURL(s)
		if p, _, found := strings.Cut(s, "://"); (found && len(p) > 1 || strings.Contains(s, "::")) && !ok {
			t.Fatalf("%q is a URL to fsspec", s)
		}
	})
}
