//go:build linux && (amd64 || arm64)

package sandbox

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testCommit = "0123456789abcdef0123456789abcdef01234567"

// hfScript prints what the command sees of the cache: the ref, the
// snapshot's entries, a file read through its link, the offline variables,
// and whether it can write into the built layout.
const hfScript = `c="$HF_HUB_CACHE/models--o--r"
echo "ref=$(cat "$c/refs/main")"
echo "snapshots=$(ls "$c/snapshots")"
echo "files=$(cd "$c/snapshots/` + testCommit + `" && find . -type l | sort | tr '\n' ' ')"
echo "tokenizer=$(cat "$c/snapshots/` + testCommit + `/sub/tokenizer.json")"
echo "legacy=$(cat "$HF_HUB_CACHE/models--legacy-name/refs/main")"
echo "offline=$HF_HUB_OFFLINE/$TRANSFORMERS_OFFLINE home=${HF_HOME#$HOME}"
if touch "$c/refs/planted" 2>/dev/null; then echo layout=writable; else echo layout=read-only; fi
if (echo x > "$c/snapshots/` + testCommit + `/sub/tokenizer.json") 2>/dev/null; then echo store=writable; else echo store=read-only; fi
`

// TestHFCache: a command in the sandbox finds two stored repositories in a
// Hugging Face cache layout (refs/main holding the commit, snapshot links
// to the verified files), reads a file through it, runs offline, and
// cannot write into the layout or through it into the store.
func TestHFCache(t *testing.T) {
	base := openDir(t)
	root, model := testStore(t, base, "m", modelFiles, nogroup)
	_, repo := testStore(t, filepath.Join(base, "b"), "o/r", map[string]string{"config.json": "{}", "sub/tokenizer.json": `{"v":1}`}, nogroup)
	_, legacy := testStore(t, filepath.Join(base, "c"), "google-bert/legacy-name", map[string]string{"vocab.txt": "a\n"}, nogroup)
	spec := Spec{Model: model, Command: []string{"/bin/sh", "-c", hfScript}, GroupFrom: root,
		HFCache: []HFRepo{
			{RepoID: "o/r", Commit: testCommit, Refs: []string{"main"}, Dir: repo},
			{RepoID: "legacy-name", Commit: strings.Repeat("a", 40), Refs: []string{"main"}, Dir: legacy},
		}}
	p, err := Prepare(spec)
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(p.Env, " ")
	for _, want := range []string{"HF_HUB_CACHE=<scratch>/hf-hub", "HF_HOME=<scratch>/huggingface", "HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1"} {
		if !strings.Contains(env, want) {
			t.Errorf("env %s: no %s", env, want)
		}
	}
	if len(p.HFCache) != 2 || p.HFCache[0].Dir != repo {
		t.Errorf("plan's cache %+v", p.HFCache)
	}
	var out, errb bytes.Buffer
	code, err := Run(context.Background(), p, IO{Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 {
		t.Fatalf("exit %d %v: %s%s", code, err, out.String(), errb.String())
	}
	want := []string{
		"ref=" + testCommit,
		"snapshots=" + testCommit,
		"files=./config.json ./sub/tokenizer.json ",
		`tokenizer={"v":1}`,
		"legacy=" + strings.Repeat("a", 40),
		"offline=1/1 home=/huggingface",
		"store=read-only",
	}
	if os.Geteuid() == 0 {
		want = append(want, "layout=read-only") // root's folders in the sandbox's tmpfs
	}
	got := out.String()
	for _, w := range want {
		if !strings.Contains(got, w+"\n") {
			t.Errorf("no %q in:\n%s%s", w, got, errb.String())
		}
	}
}

// TestHFCacheSpecErrors: what cannot be given as a cache is refused before
// anything runs.
func TestHFCacheSpecErrors(t *testing.T) {
	base := openDir(t)
	_, model := testStore(t, base, "m", modelFiles, nogroup)
	empty := openDir(t)
	for _, tt := range []struct {
		repo HFRepo
		want string
	}{
		{HFRepo{RepoID: "o/r", Commit: "main", Dir: model}, "want 40 lowercase hex"},
		{HFRepo{RepoID: "o/r", Commit: strings.ToUpper(testCommit), Dir: model}, "want 40 lowercase hex"},
		{HFRepo{RepoID: "../x", Commit: testCommit, Dir: model}, "repo id"},
		{HFRepo{RepoID: "o/r/s", Commit: testCommit, Dir: model}, "repo id"},
		{HFRepo{RepoID: "o/r", Commit: testCommit, Refs: []string{"../main"}, Dir: model}, "ref"},
		{HFRepo{RepoID: "o/r", Commit: testCommit, Refs: []string{testCommit}, Dir: model}, "ref"},
		{HFRepo{RepoID: "o/r", Commit: testCommit, Dir: filepath.Join(base, "missing")}, "no such file"},
		{HFRepo{RepoID: "o/r", Commit: testCommit, Dir: empty}, "holds no file"},
	} {
		_, err := Prepare(Spec{Model: model, Command: []string{"/bin/true"}, HFCache: []HFRepo{tt.repo}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got %v, want %q", tt.repo, err, tt.want)
		}
	}
	_, err := Prepare(Spec{Model: model, Command: []string{"/bin/true"}, HFCache: []HFRepo{
		{RepoID: "o/r", Commit: testCommit, Dir: model}, {RepoID: "o/r", Commit: testCommit, Dir: model}}})
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a repository twice: %v", err)
	}
}

// TestBuildTree: the tree is built inside its folder only, refuses to
// replace anything, and its folders are read-only when asked.
func TestBuildTree(t *testing.T) {
	dir := t.TempDir()
	tree := []TreeEntry{{Path: "a/b/ref", Data: []byte("x")}, {Path: "a/c/link", Link: "/etc/hostname"}}
	if err := buildTree(dir, tree, true); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a/b/ref")); err != nil || string(b) != "x" {
		t.Errorf("ref: %q %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "a/c/link")); err != nil || l != "/etc/hostname" {
		t.Errorf("link: %q %v", l, err)
	}
	for _, d := range []string{"a", "a/b", "a/c"} {
		if st, err := os.Stat(filepath.Join(dir, d)); err != nil || st.Mode().Perm() != 0o555 {
			t.Errorf("%s: %v %v", d, st.Mode(), err)
		}
	}
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
	})
	for _, bad := range []TreeEntry{{Path: "../x", Data: nil}, {Path: "/x"}, {Path: "."}} {
		if err := buildTree(t.TempDir(), []TreeEntry{bad}, false); err == nil {
			t.Errorf("%q: built", bad.Path)
		}
	}
	again := t.TempDir()
	if err := buildTree(again, tree[:1], false); err != nil {
		t.Fatal(err)
	}
	if err := buildTree(again, tree[:1], false); err == nil {
		t.Error("an existing entry was replaced")
	}
	if st, err := os.Stat(filepath.Join(again, "a")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("not read-only asked: %v %v", st.Mode(), err)
	}
}

// e2eVenv is the virtual environment with coqui-tts (and transformers) that
// scripts/e2e-tts.sh and the development machine use.
const e2eVenv = "/opt/e2e-venv"

// TestHFCacheTransformers: transformers' AutoTokenizer.from_pretrained, as
// coqui's Bark calls it (a legacy repo id, no revision), loads a tokenizer
// from the built cache in the sandbox, offline and without network access.
// Skips without /opt/e2e-venv.
func TestHFCacheTransformers(t *testing.T) {
	py := filepath.Join(e2eVenv, "bin", "python3")
	if _, err := os.Stat(filepath.Join(e2eVenv, "lib", "python3.11", "site-packages", "transformers")); err != nil {
		t.Skip("no " + e2eVenv + " with transformers (scripts/e2e-tts.sh makes one)")
	}
	base := openDir(t)
	root, model := testStore(t, base, "m", modelFiles, nogroup)
	_, tok := testStore(t, filepath.Join(base, "b"), "google-bert/bert-base-multilingual-cased", map[string]string{
		"config.json":           `{"model_type": "bert"}`,
		"tokenizer_config.json": `{"do_lower_case": false}`,
		"vocab.txt":             "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nttsguard\nkeeps\nmodels\n",
	}, nogroup)
	script := `from transformers import AutoTokenizer, BertTokenizer
t = BertTokenizer.from_pretrained("bert-base-multilingual-cased")
a = AutoTokenizer.from_pretrained("bert-base-multilingual-cased")
print("TOKENS", len(t), t.tokenize("ttsguard keeps models"), a("ttsguard keeps models")["input_ids"])
`
	p, err := Prepare(Spec{Model: model, Command: []string{py, "-c", script}, GroupFrom: root, AllowRead: []string{e2eVenv},
		HFCache: []HFRepo{{RepoID: "bert-base-multilingual-cased", Commit: testCommit, Refs: []string{"main"}, Dir: tok}}})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code, err := Run(context.Background(), p, IO{Stdout: &out, Stderr: &errb})
	if err != nil || code != 0 {
		t.Fatalf("exit %d %v: %s%s", code, err, out.String(), errb.String())
	}
	if want := "TOKENS 8 ['ttsguard', 'keeps', 'models'] [2, 5, 6, 7, 3]\n"; out.String() != want {
		t.Errorf("got %q, want %q (stderr %s)", out.String(), want, errb.String())
	}
}
