package pull

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// requiresPolicy makes model "voice" (hf://o/voice) require a tokenizer,
// loaded under a legacy id and only two of its files, and a codec, whole.
const requiresPolicy = `models:
  voice:
    source: hf://o/voice
    requires:
      - source: hf://o/tok
        load_as: tok-legacy
        allow: [vocab.txt, "tokenizer*.json"]
      - hf://o/codec
`

func tokFiles() map[string][]byte {
	return map[string][]byte{"vocab.txt": []byte("[PAD]\nhello\n"), "tokenizer_config.json": []byte(`{"do_lower_case": false}`),
		"tf_model.h5": []byte("not wanted"), "README.md": []byte("# tok\n")}
}

// TestPullRequires: pulling a model pulls (and pins, with their commits)
// the repositories its policy requires, only the files their allow
// patterns keep; run finds them stored and pinned; check checks them.
func TestPullRequires(t *testing.T) {
	e := newHubEnv(t, nil, requiresPolicy)
	e.hub.Commit("o/voice", "main", voiceFiles("v1"))
	cTok := e.hub.Commit("o/tok", "main", tokFiles())
	cCodec := e.hub.Commit("o/codec", "main", map[string][]byte{"config.json": []byte(`{"model_type": "encodec"}`)})
	r, err := e.pull(Options{}, "voice")
	if err != nil || !r.OK {
		t.Fatalf("pull: %v %+v", err, r)
	}
	if len(r.Requires) != 2 || r.Requires[0].Name != "o/tok" || r.Requires[1].Name != "o/codec" {
		t.Fatalf("requires %+v", r.Requires)
	}
	g := r.Gates[len(r.Gates)-1]
	if g.Name != "requires" || !g.OK || !strings.Contains(g.Detail, "o/tok (hf://o/tok, loaded as tok-legacy, commit "+cTok+"): stored, pinned (first pull)") {
		t.Errorf("gate %+v", g)
	}
	if got := storedFiles(t, r.Requires[0].Dir); !slices.Equal(got, []string{"tokenizer_config.json", "vocab.txt"}) {
		t.Errorf("o/tok stored %v", got)
	}
	for _, q := range e.hub.Requests() {
		if strings.Contains(q.Path, "tf_model.h5") {
			t.Errorf("a file the allow patterns leave out was fetched: %+v", q)
		}
	}
	lf := e.lock(t)
	for name, commit := range map[string]string{"o/tok": cTok, "o/codec": cCodec} {
		if rev := lf.Entries[name].Revision; rev == nil || rev.Commit != commit || rev.Repo != name {
			t.Errorf("lock entry %s: %+v", name, rev)
		}
	}

	st, err := store.Open(e.pol.Store)
	must(t, err)
	v, err := st.Get("voice")
	must(t, err)
	deps, err := StoredRequirements(e.pol, st, v)
	if err != nil || len(deps) != 2 {
		t.Fatalf("stored requirements: %v %+v", err, deps)
	}
	if d := deps[0]; d.LoadAs != "tok-legacy" || d.Commit != cTok || d.Ref != "main" || d.Dir != r.Requires[0].Dir {
		t.Errorf("dependency %+v", d)
	}

	// A second pull matches every pin.
	r, err = e.pull(Options{Frozen: true}, "voice")
	if err != nil || len(r.Requires) != 2 || r.Requires[0].Pinned != "matched" {
		t.Fatalf("second pull: %v %+v", err, r)
	}

	cr, err := CheckStored(context.Background(), e.pol, "voice")
	if err != nil || !cr.OK || len(cr.Requires) != 2 {
		t.Fatalf("check: %v %+v", err, cr)
	}
	corruptStored(t, deps[1].Dir, "config.json", 0)
	cr, err = CheckStored(context.Background(), e.pol, "voice")
	if err == nil || cr.OK || !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "requirement o/codec") {
		t.Fatalf("check of a changed requirement: %v", err)
	}
	if g := cr.Gates[len(cr.Gates)-1]; g.Name != "requires" || g.OK || !strings.Contains(g.Detail, "o/tok (loaded as tok-legacy): ok") {
		t.Errorf("gate %+v", g)
	}
}

// TestPullRequiresFails: a requirement that cannot be pulled is the pull's
// error, after the model was stored and pinned; run then names what is
// missing.
func TestPullRequiresFails(t *testing.T) {
	e := newHubEnv(t, nil, "models:\n  voice:\n    source: hf://o/voice\n    requires: [hf://o/missing]\n")
	e.hub.Commit("o/voice", "main", voiceFiles("v1"))
	r, err := e.pull(Options{}, "voice")
	if err == nil || r == nil || !r.OK || r.Pinned != "added" || !errors.Is(err, ErrUsage) ||
		!strings.Contains(err.Error(), "voice is stored, but its requirement o/missing (hf://o/missing) is not") {
		t.Fatalf("pull: %v %+v", err, r)
	}
	if g := r.Gates[len(r.Gates)-1]; g.Name != "requires" || g.OK {
		t.Errorf("gate %+v", g)
	}
	if _, ok := e.lock(t).Entries["voice"]; !ok {
		t.Error("the model is not pinned")
	}
	st, err := store.Open(e.pol.Store)
	must(t, err)
	v, err := st.Get("voice")
	must(t, err)
	if _, err := StoredRequirements(e.pol, st, v); !errors.Is(err, ErrRequirement) || !strings.Contains(err.Error(), "`ttsguard pull voice`") {
		t.Errorf("stored requirements: %v", err)
	}
	if cr, err := CheckStored(context.Background(), e.pol, "voice"); err == nil || cr.OK || !strings.Contains(err.Error(), "not in the store") {
		t.Errorf("check: %v", err)
	}
}

// TestRequirements: the policy's list wins (an empty one too); without it,
// a coqui catalog model gets the built-in list, by its name or by the
// coqui id it was pulled from.
func TestRequirements(t *testing.T) {
	const bark = "tts_models/multilingual/multi-dataset/bark"
	pol, err := policy.Parse("p.yaml", []byte("version: 1\nmodels:\n  "+bark+":\n    requires: []\n  mybark:\n    requires: [hf://o/r]\n"))
	must(t, err)
	def := policy.Default()
	if rs := Requirements(def, bark, nil); len(rs) != 2 || rs[0].LoadAs != "bert-base-multilingual-cased" || rs[1].LoadAs != "facebook/encodec_24khz" {
		t.Errorf("built-in: %+v", rs)
	}
	if rs := Requirements(def, "house-bark", []string{bark}); len(rs) != 2 {
		t.Errorf("pulled from the id: %+v", rs)
	}
	if rs := Requirements(pol, bark, nil); len(rs) != 0 {
		t.Errorf("requires: [] gave %+v", rs)
	}
	if rs := Requirements(pol, "mybark", []string{bark}); len(rs) != 1 || rs[0].Name != "o/r" || rs[0].LoadAs != "o/r" {
		t.Errorf("policy: %+v", rs)
	}
	if rs := Requirements(def, "tts_models/en/ljspeech/vits", nil); rs != nil {
		t.Errorf("vits: %+v", rs)
	}
	// The built-in repositories are allowed by the default policy's sources.
	for _, q := range builtinRequires[bark] {
		repo := q.Repo()
		for _, u := range []string{"https://huggingface.co/api/models/" + repo + "/revision/main", "https://huggingface.co/" + repo + "/resolve/" + strings.Repeat("a", 40) + "/config.json",
			"https://huggingface.co/api/resolve-cache/models/" + repo + "/" + strings.Repeat("a", 40) + "/config.json"} {
			if err := def.AllowURLString(u); err != nil {
				t.Errorf("default policy: %v", err)
			}
		}
	}
}
