package pull

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/hub"
	"github.com/ttsguard/ttsguard/internal/hub/hubtest"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

func voiceFiles(readme string) map[string][]byte {
	return map[string][]byte{"config.json": exampleFiles["config.json"], "model.pth": exampleFiles["model_file.pth"], "README.md": []byte(readme)}
}

// requestsSince returns the Hub requests after the first n.
func requestsSince(h *hubtest.Server, n int) []hubtest.Request { return h.Requests()[n:] }

// TestPullHubPinsTheCommit: a revision that moves between two pulls. The
// second pull (and a --frozen one) fetches the pinned commit, not the
// branch; lock update moves the pin and names the changed files; a source
// naming another commit or repository is refused until the lock is updated.
func TestPullHubPinsTheCommit(t *testing.T) {
	e := newHubEnv(t, nil, "models:\n  voice:\n    source: hf://o/voice\n")
	c1 := e.hub.Commit("o/voice", "main", voiceFiles("v1"))
	r, err := e.pull(Options{}, "voice")
	if err != nil || r.Pinned != "added" || r.Revision.Commit != c1 {
		t.Fatalf("first pull: %v %+v", err, r)
	}
	first := r.Root
	files := voiceFiles("v2")
	files["notes.txt"] = []byte("new")
	c2 := e.hub.Commit("o/voice", "main", files)

	for _, frozen := range []bool{false, true} {
		n := len(e.hub.Requests())
		r, err = e.pull(Options{Frozen: frozen}, "voice")
		if err != nil || r.Pinned != "matched" || r.Revision.Commit != c1 || r.Root != first {
			t.Fatalf("frozen=%v: %v %+v", frozen, err, r)
		}
		for _, q := range requestsSince(e.hub, n) {
			if strings.Contains(q.Path, "/revision/") || (q.Server == "hub" && !strings.Contains(q.Path, c1)) {
				t.Errorf("frozen=%v: the pinned commit was not what was fetched: %+v", frozen, q)
			}
		}
	}

	r, err = e.pull(Options{Update: true}, e.lock(t).Entries["voice"].Source...)
	if err != nil || r.Pinned != "updated" || r.Revision.Commit != c2 {
		t.Fatalf("lock update: %v %+v", err, r)
	}
	for _, want := range []string{"o/voice commit " + c1 + " -> " + c2, `changed: "README.md"`, `added: "notes.txt"`} {
		if !strings.Contains(r.Changes, want) {
			t.Errorf("changes %q lack %q", r.Changes, want)
		}
	}
	if got := e.lock(t).Entries["voice"].Revision; got == nil || got.Commit != c2 || got.Ref != "main" {
		t.Fatalf("lock revision %+v", got)
	}

	refusals := []struct {
		name string
		o    Options
		src  string
		msg  string
	}{
		{"an older commit", Options{Name: "voice"}, "hf://o/voice@" + c1, "is commit " + c1 + ", the lock file pins " + c2},
		{"an older commit, frozen", Options{Name: "voice", Frozen: true}, "hf://o/voice@" + c1, "the lock file pins " + c2},
		{"another repository", Options{Name: "voice"}, "hf://o/other", `pins Hugging Face repository "o/voice", the source names "o/other"`},
	}
	for _, tt := range refusals {
		_, err := e.pull(tt.o, tt.src)
		if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "lock update voice") {
			t.Errorf("%s: got %v, want a gate error containing %q", tt.name, err, tt.msg)
		}
	}
	// The pinned commit given as the revision is the same pin.
	if r, err := e.pull(Options{Name: "voice"}, "hf://o/voice@"+c2); err != nil || r.Pinned != "matched" {
		t.Fatalf("the pinned commit by id: %v %+v", err, r)
	}
}

// TestLockRevisionCompat: a lock entry written before commits were pinned
// (no "revision") still matches, and gains the commit; a malformed revision
// makes the lock file unreadable, naming it.
func TestLockRevisionCompat(t *testing.T) {
	e := newHubEnv(t, nil, "")
	c1 := e.hub.Commit("o/voice", "main", voiceFiles("v1"))
	if _, err := e.pull(Options{}, "hf://o/voice"); err != nil {
		t.Fatal(err)
	}
	lp := filepath.Join(e.dir, "ttsguard.lock")
	data, err := os.ReadFile(lp)
	must(t, err)
	old := data
	for _, cut := range []string{`"revision": {`, `"repo": "o/voice",`, `"ref": "main",`, `"commit": "` + c1 + `"`} {
		if !strings.Contains(string(old), cut) {
			t.Fatalf("lock file lacks %q:\n%s", cut, old)
		}
	}
	// Remove the revision object as an older ttsguard wrote the entry.
	start := strings.Index(string(old), `,`+"\n"+`      "revision": {`)
	end := strings.Index(string(old)[start:], "}") + start + 1
	must(t, os.WriteFile(lp, []byte(string(old[:start])+string(old[end:])), 0o600))
	if lf := e.lock(t); lf.Entries["o/voice"].Revision != nil {
		t.Fatalf("revision still there")
	}
	r, err := e.pull(Options{}, "hf://o/voice")
	if err != nil || r.Pinned != "matched" {
		t.Fatalf("%v %+v", err, r)
	}
	if got := e.lock(t).Entries["o/voice"].Revision; got == nil || got.Commit != c1 {
		t.Fatalf("the matching pull did not record the commit: %+v", got)
	}
	for _, bad := range []string{`"commit": "` + strings.ToUpper(c1) + `"`, `"commit": "abc"`, `"repo": "voice"`} {
		k := bad[:strings.Index(bad, ":")]
		s := string(data)
		i := strings.Index(s, k)
		j := i + strings.IndexAny(s[i:], ",\n")
		must(t, os.WriteFile(lp, []byte(s[:i]+bad+s[j:]), 0o600))
		if _, err := store.LoadLock(lp); err == nil || !strings.Contains(err.Error(), "revision {repo") || !strings.Contains(err.Error(), lp) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestPullHubRefusals: bytes or headers that differ from the commit's
// listing, a policy that does not allow the API or the CDN redirect, and
// bad sources; nothing is stored.
func TestPullHubRefusals(t *testing.T) {
	hubOnly := func(h *hubtest.Server) []string { return hubSources(h)[:len(hubSources(h))-1] }
	noAPI := func(h *hubtest.Server) []string { return hubSources(h)[1:] }
	tests := []struct {
		name    string
		sources func(*hubtest.Server) []string
		setup   func(h *hubtest.Server)
		src     string
		is      error
		msg     string
		token   bool // HF_TOKEN set: fetch gets the signed URL, whose query errors never show
	}{
		{"CDN bytes differ", nil, func(h *hubtest.Server) { h.Corrupt(exampleFiles["model_file.pth"], []byte("evil")) },
			"hf://o/voice", hub.ErrMismatch, `file "model.pth"`, false},
		{"etag differs", nil, func(h *hubtest.Server) { h.BadETag("model.pth", strings.Repeat("0", 64)) },
			"hf://o/voice", hub.ErrMismatch, "the Hub's etag", false},
		{"small file etag differs", nil, func(h *hubtest.Server) { h.BadETag("config.json", strings.Repeat("0", 40)) },
			"hf://o/voice", hub.ErrMismatch, `file "config.json"`, false},
		{"CDN not allowed", hubOnly, nil, "hf://o/voice", policy.ErrNotAllowed, "/xet-bridge-us/", false},
		{"CDN not allowed, with a token", hubOnly, func(h *hubtest.Server) { h.SetGated("o/voice", true) },
			"hf://o/voice", policy.ErrNotAllowed, "/xet-bridge-us/" + sha256Hex(exampleFiles["model_file.pth"]) + "?…", true},
		{"API not allowed", noAPI, nil, "hf://o/voice", policy.ErrNotAllowed, "/api/models/o/voice/revision/main", false},
		{"unknown repository", nil, nil, "hf://o/missing", hub.ErrNotFound, `repository "o/missing"`, false},
		{"unknown revision", nil, nil, "hf://o/voice@v9", hub.ErrNotFound, "RevisionNotFound", false},
		{"malformed source", nil, nil, "hf://voice", ErrUsage, `"hf://voice": invalid Hugging Face reference`, false},
		{"a dataset", nil, nil, "hf://datasets/o/voice", ErrUsage, "only model repositories", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newHubEnv(t, tt.sources, "")
			if tt.token {
				t.Setenv("HF_TOKEN", hubtest.Token)
			}
			e.hub.Commit("o/voice", "main", voiceFiles("v1"))
			if tt.setup != nil {
				tt.setup(e.hub)
			}
			r, err := e.pull(Options{}, tt.src)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v, want %v with %q", err, tt.is, tt.msg)
			}
			if tt.token && strings.Contains(err.Error(), "X-Amz-Signature") {
				t.Errorf("a signed URL's query shows: %v", err)
			}
			if errors.Is(err, hub.ErrMismatch) && !errors.Is(err, ErrGate) {
				t.Errorf("a mismatch is not a gate failure: %v", err)
			}
			if r != nil && r.OK {
				t.Fatalf("%+v", r)
			}
			if entries, _ := os.ReadDir(filepath.Join(e.dir, "store", "models")); len(entries) != 0 {
				t.Fatalf("something was stored: %v", entries)
			}
		})
	}
	e := newHubEnv(t, nil, "")
	if _, err := e.pull(Options{Name: "x"}, "hf://o/voice", "https://example.test/a.pth"); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "cannot be combined") {
		t.Fatalf("combined: %v", err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
