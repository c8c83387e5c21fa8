package coqui

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/hub"
)

// FuzzLoadCatalog: ParseCatalog never panics; it fails only with ErrCatalog;
// every id it accepts resolves to itself, has a safe folder name, and every
// file name of a file list is a plain, unique name.
func FuzzLoadCatalog(f *testing.F) {
	for _, p := range []string{"testdata/models.json", "testdata/models-comments.json", "testdata/models-hub.json"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{}`, `{"tts_models": {"en": {"d": {"m": {"hf_url": ["https://x.test/a.pth"]}}}}}`,
		`{"tts_models": {"en": {"d": {"m": {"hf_url": "https://x.test/a.zip", "tos_required": true}}}}} // c`,
		`{"a": 1}`, `[`, `{"tts_models": {"en": {"d": {"m": {"github_rls_url": ["http://x.test/%2e%2e"]}}}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCatalog("f.json", data)
		if err != nil {
			if !errors.Is(err, ErrCatalog) {
				t.Fatalf("error does not wrap ErrCatalog: %v", err)
			}
			return
		}
		for _, id := range c.IDs() {
			e, err := c.Resolve(id)
			if err != nil {
				if strings.Contains(id, "/fairseq/") {
					continue
				}
				t.Fatalf("Resolve(%q): %v", id, err)
			}
			if e.Synthetic {
				continue // a fairseq id is built, not read
			}
			if e.ID != id {
				t.Fatalf("Resolve(%q).ID = %q", id, e.ID)
			}
			folder := FolderName(id)
			if folder == "" || strings.ContainsAny(folder, "/\\") || strings.HasPrefix(folder, ".") {
				t.Fatalf("FolderName(%q) = %q", id, folder)
			}
			seen := map[string]bool{}
			for _, file := range e.Files {
				n := file.Name
				if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\\x00") || seen[n] {
					t.Fatalf("%s: file name %q", id, n)
				}
				seen[n] = true
			}
			if (e.Shape == ShapeNone || e.Shape == ShapeHub) != (len(e.URLs) == 0) || (e.Shape == ShapeHub) != (e.Hub != nil) {
				t.Fatalf("%s: shape %s with %d URLs, hub %+v", id, e.Shape, len(e.URLs), e.Hub)
			}
			if e.Hub != nil && (hub.ParseRepoID(e.Hub.RepoID) != nil || e.Hub.Patterns().Check() != nil) {
				t.Fatalf("%s: hub %+v", id, e.Hub)
			}
		}
	})
}

// FuzzResolve: Resolve never panics, and what it resolves has a safe folder
// name and http(s) URLs.
func FuzzResolve(f *testing.F) {
	c := fixture(f)
	for _, s := range []string{"tts_models/en/ljspeech/vits", "xtts_v2.0.2", "tts_models/eng/fairseq/vits", "../x", "xtts/../../a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		e, err := c.Resolve(id)
		if err != nil {
			return
		}
		folder := FolderName(e.ID)
		if folder == "" || strings.ContainsAny(folder, "/\\") || strings.HasPrefix(folder, ".") {
			t.Fatalf("Resolve(%q): folder %q", id, folder)
		}
		for _, u := range e.URLs {
			if err := checkURL(u); err != nil || strings.Contains(u, "/../") {
				t.Fatalf("Resolve(%q): URL %q", id, u)
			}
		}
	})
}
