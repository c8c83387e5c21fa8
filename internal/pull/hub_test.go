package pull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/fetch"
	"github.com/ttsguard/ttsguard/internal/hub"
	"github.com/ttsguard/ttsguard/internal/hub/hubtest"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// hubCatalog is coqui-tts 0.28's catalog entries (XTTS v2, Tortoise v2,
// OpenVoice v2 and others), copied unchanged.
const hubCatalog = "../coqui/testdata/models-hub.json"

type hubEnv struct {
	hub *hubtest.Server
	dir string
	pol *policy.Policy
}

// hubSources lets the fake Hub's API, resolve URLs, resolve cache and CDN
// through, as the default policy does for huggingface.co.
func hubSources(h *hubtest.Server) []string {
	return []string{h.Hub.URL + "/api/models/", h.Hub.URL + "/tts-hub/", h.Hub.URL + "/o/", h.Hub.URL + "/jbetker/",
		h.Hub.URL + "/myshell-ai/", h.Hub.URL + "/api/resolve-cache/models/", h.CDN.URL + "/xet-bridge-us/"}
}

// newHubEnv starts a fake Hub, points HF_ENDPOINT at it, keeps the real
// token file out of reach, and writes a policy with the sources that
// sources returns for it (nil: hubSources) and extra YAML.
func newHubEnv(t *testing.T, sources func(*hubtest.Server) []string, extra string) *hubEnv {
	e := &hubEnv{hub: hubtest.New(t), dir: t.TempDir()}
	if sources == nil {
		sources = hubSources
	}
	t.Setenv("HF_ENDPOINT", e.hub.Hub.URL)
	t.Setenv("HF_HOME", filepath.Join(e.dir, "hf"))
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	yaml := fmt.Sprintf("version: 1\nstore: %s\nsources:\n", filepath.Join(e.dir, "store"))
	for _, s := range sources(e.hub) {
		yaml += "  - " + s + "\n"
	}
	pp := filepath.Join(e.dir, "ttsguard.yaml")
	must(t, os.WriteFile(pp, []byte(yaml+extra), 0o600))
	pol, err := policy.Load(pp)
	must(t, err)
	e.pol = pol
	return e
}

func (e *hubEnv) pull(o Options, args ...string) (*Result, error) {
	o.Policy, o.TLS = e.pol, e.hub.TLS()
	return Pull(context.Background(), o, args)
}

func (e *hubEnv) lock(t *testing.T) *store.LockFile {
	lf, err := store.LoadLock(filepath.Join(e.dir, "ttsguard.lock"))
	must(t, err)
	return lf
}

// xttsRepo is a tts-hub/XTTS-v2 look-alike whose checkpoints are the
// example model's (so the scan gate passes).
func xttsRepo(pth []byte) map[string][]byte {
	return map[string][]byte{
		".gitattributes":        []byte("*.pth filter=lfs diff=lfs merge=lfs -text\n"),
		"README.md":             []byte("# XTTS-v2\n"),
		"config.json":           exampleFiles["config.json"],
		"model.pth":             pth,
		"speakers_xtts.pth":     exampleFiles["model_file.pth"],
		"dvae.pth":              exampleFiles["model_file.pth"],
		"vocab.json":            []byte(`{"model": {"vocab": {}}}`),
		"samples/en_sample.wav": []byte("RIFF\x24\x00\x00\x00WAVEfmt "),
	}
}

// storedFiles lists a model folder's files, slash-separated.
func storedFiles(t *testing.T, dir string) []string {
	var out []string
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	}))
	slices.Sort(out)
	return out
}

// TestPullHubCatalogEntry pulls coqui's xtts_v2 entry (repo_id
// tts-hub/XTTS-v2, ignore samples/* and dvae.pth, terms of service): the
// revision is resolved to a commit, the ignored files are left out, LFS files
// come from the CDN redirect without the token, and the lock pins the commit.
func TestPullHubCatalogEntry(t *testing.T) {
	e := newHubEnv(t, nil, "")
	commit := e.hub.Commit("tts-hub/XTTS-v2", "main", xttsRepo(exampleFiles["model_file.pth"]))
	id := "tts_models/multilingual/multi-dataset/xtts_v2"
	if _, err := e.pull(Options{Catalog: hubCatalog}, id); err == nil || !strings.Contains(err.Error(), "--accept-tos") {
		t.Fatalf("terms of service: %v", err)
	}
	r, err := e.pull(Options{Catalog: hubCatalog, AcceptTOS: true}, id)
	if err != nil {
		t.Fatalf("%v %+v", err, r)
	}
	want := []string{"README.md", "config.json", "model.pth", "speakers_xtts.pth", TOSFile, "vocab.json"}
	if got := storedFiles(t, r.Dir); !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	if r.Revision == nil || *r.Revision != (store.LockRevision{Repo: "tts-hub/XTTS-v2", Ref: "main", Commit: commit}) || r.Pinned != "added" {
		t.Fatalf("revision %+v, pin %s", r.Revision, r.Pinned)
	}
	if !strings.Contains(r.Gates[0].Detail, "tts-hub/XTTS-v2@main: commit "+commit) {
		t.Errorf("pin gate: %q", r.Gates[0].Detail)
	}
	for _, s := range r.Sources {
		if !strings.HasPrefix(s.URL, e.hub.Hub.URL+"/tts-hub/XTTS-v2/resolve/"+commit+"/") || strings.Contains(s.FinalURL, "?") || s.SHA256 == "" || s.CertSHA256 == "" {
			t.Errorf("source %+v", s)
		}
		if strings.HasSuffix(s.URL, ".pth") != strings.HasPrefix(s.FinalURL, e.hub.CDN.URL+"/") {
			t.Errorf("LFS files come from the CDN, others from the Hub: %+v", s)
		}
	}
	pin := e.lock(t).Entries[id]
	if pin.Revision == nil || pin.Revision.Commit != commit || pin.Archives != nil || pin.Root != r.Root {
		t.Fatalf("lock entry %+v", pin)
	}
	for _, q := range e.hub.Requests() {
		if q.Authorized {
			t.Errorf("a token was sent without one configured: %+v", q)
		}
		if strings.Contains(q.Path, "samples") || strings.Contains(q.Path, "dvae") || strings.Contains(q.Path, ".gitattributes") {
			t.Errorf("an ignored file was requested: %+v", q)
		}
	}
}

// TestPullHubPatternsAndFolders pulls entries with allow and ignore lists
// (Tortoise's nested .models/ and data/ files, OpenVoice v2's converter/),
// and refuses patterns that keep nothing.
func TestPullHubPatternsAndFolders(t *testing.T) {
	e := newHubEnv(t, nil, "")
	pth := exampleFiles["model_file.pth"]
	e.hub.Commit("jbetker/tortoise-tts-v2", "main", map[string][]byte{
		".models/autoregressive.pth": pth, ".models/classifier.pth": pth, ".models/vocoder.pth": pth,
		"data/mel_norms.pth": pth, "data/other.pth": pth, "clvp.pth": pth, "README.md": []byte("x"),
	})
	e.hub.Commit("myshell-ai/OpenVoiceV2", "main", map[string][]byte{
		"converter/config.json": exampleFiles["config.json"], "converter/checkpoint.pth": pth, "base_speakers/ses/en.pth": pth,
	})
	tests := []struct {
		id   string
		want []string
	}{
		{"tts_models/en/multi-dataset/tortoise-v2", []string{".models/autoregressive.pth", ".models/vocoder.pth", "data/mel_norms.pth"}},
		{"voice_conversion_models/multilingual/multi-dataset/openvoice_v2", []string{"converter/checkpoint.pth", "converter/config.json"}},
	}
	for _, tt := range tests {
		r, err := e.pull(Options{Catalog: hubCatalog}, tt.id)
		if err != nil {
			t.Fatalf("%s: %v", tt.id, err)
		}
		if got := storedFiles(t, r.Dir); !slices.Equal(got, tt.want) {
			t.Errorf("%s: stored %q, want %q", tt.id, got, tt.want)
		}
	}
	// openvoice_v1's pattern (checkpoints/converter/*) keeps nothing of this repository.
	e.hub.Commit("myshell-ai/OpenVoice", "main", map[string][]byte{"converter/checkpoint.pth": pth})
	_, err := e.pull(Options{Catalog: hubCatalog}, "voice_conversion_models/multilingual/multi-dataset/openvoice_v1")
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `matches allow ["checkpoints/converter/*"]`) {
		t.Fatalf("no file kept: %v", err)
	}
}

// TestPullHubGated: a gated repository needs the token (here from the
// Hub's token file); the token goes to the Hub only, and nothing ttsguard
// writes or prints holds it.
func TestPullHubGated(t *testing.T) {
	e := newHubEnv(t, nil, "")
	e.hub.Commit("o/voice", "main", map[string][]byte{"config.json": exampleFiles["config.json"], "model.pth": exampleFiles["model_file.pth"]})
	e.hub.SetGated("o/voice", true)
	_, err := e.pull(Options{}, "hf://o/voice")
	if !errors.Is(err, ErrUsage) || !errors.Is(err, hub.ErrGated) || !strings.Contains(err.Error(), "set HF_TOKEN") {
		t.Fatalf("without a token: %v", err)
	}
	tokenFile := filepath.Join(e.dir, "hf", "token")
	must(t, os.MkdirAll(filepath.Dir(tokenFile), 0o700))
	must(t, os.WriteFile(tokenFile, []byte(hubtest.Token+"\n"), 0o600))
	r, err := e.pull(Options{}, "hf://o/voice")
	if err != nil {
		t.Fatalf("%v %+v", err, r)
	}
	if r.Name != "o/voice" || r.Files != 2 {
		t.Fatalf("%+v", r)
	}
	authorized := 0
	for _, q := range e.hub.Requests() {
		if q.Server == "cdn" && q.Authorized {
			t.Errorf("the token went to the CDN: %+v", q)
		}
		if q.Server == "hub" && q.Authorized {
			authorized++
		}
	}
	if authorized == 0 {
		t.Error("the token was never sent to the Hub")
	}
	js, _ := json.Marshal(r)
	leaks := []string{string(js), err2s(err)}
	must(t, filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && p != tokenFile {
			b, _ := os.ReadFile(p)
			leaks = append(leaks, string(b))
		}
		return err
	}))
	for _, s := range leaks {
		if strings.Contains(s, hubtest.Token) {
			t.Fatalf("the token shows in %.200q", s)
		}
	}
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestPullHubBodyBeyondListing: a file whose body is larger than the size
// the commit's listing gives is refused at its headers (ErrTooLarge, the
// listed size as the limit), not read up to the cap of any download and
// then found wrong; nothing of it is left in the store.
func TestPullHubBodyBeyondListing(t *testing.T) {
	e := newHubEnv(t, nil, "")
	pth := exampleFiles["model_file.pth"]
	e.hub.Commit("o/big", "main", map[string][]byte{"config.json": exampleFiles["config.json"], "model.pth": pth})
	e.hub.Corrupt(pth, append(slices.Clone(pth), make([]byte, 4<<20)...))
	_, err := e.pull(Options{Name: "big"}, "hf://o/big")
	if !errors.Is(err, fetch.ErrTooLarge) || !strings.Contains(err.Error(), fmt.Sprintf("the limit is %d", len(pth))) {
		t.Fatalf("a body past its listed size: %v", err)
	}
	st, err := store.Open(filepath.Join(e.dir, "store"))
	must(t, err)
	if _, err := st.Get("big"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stored after a failed pull: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(e.dir, "store", "tmp", "*"))
	if len(left) != 0 {
		t.Fatalf("left behind: %q", left)
	}
}
