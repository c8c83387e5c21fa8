package store

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ttsguard/ttsguard/internal/policy"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func h(c string) string { return strings.Repeat(c, 64) }

// entry returns a valid lock entry with the given files.
func entry(name string, files map[string]string) LockEntry {
	return LockEntry{Name: name, Source: []string{name}, Files: files, Root: filesRoot(files),
		Updated: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func sampleLock(path string) *LockFile {
	vits := entry("tts_models/en/ljspeech/vits", map[string]string{"config.json": h("1"), "model_file.pth": h("2")})
	vits.Archives = map[string]string{"https://github.com/coqui-ai/TTS/releases/download/v0.6.1_models/tts_models--en--ljspeech--vits.zip?a=1&b=2": h("a")}
	local := entry("local-voice", map[string]string{"model.pth": h("3"), "sub/config.json": h("4"), "sub.json": h("5")})
	local.Source = []string{"/srv/models/voice"}
	return &LockFile{Path: path, Entries: map[string]LockEntry{vits.Name: vits, local.Name: local}}
}

func TestLockRoundTripGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttsguard.lock")
	l, err := LoadLock(path)
	if err != nil || len(l.Entries) != 0 {
		t.Fatalf("missing lock file: %v, %v", l, err)
	}
	want := sampleLock(path)
	l.Entries = want.Entries
	if err := l.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "ttsguard.lock.golden")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	if g, _ := os.ReadFile(golden); !bytes.Equal(got, g) {
		t.Errorf("lock file bytes differ from %s (go test -update):\n%s", golden, got)
	}
	l2, err := LoadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l2.Entries, want.Entries) {
		t.Errorf("round trip:\n got %+v\nwant %+v", l2.Entries, want.Entries)
	}
	if err := l2.Save(); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, got) {
		t.Error("saving a loaded lock file changed its bytes")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %04o", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("temporary files left beside the lock file: %v", ents)
	}
}

func TestLockConflict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttsguard.lock")
	a, _ := LoadLock(path)
	b, _ := LoadLock(path)
	a.Entries["x"] = entry("x", map[string]string{"f": h("1")})
	b.Entries["y"] = entry("y", map[string]string{"f": h("2")})
	if err := a.Save(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(); !errors.Is(err, ErrLockConflict) {
		t.Fatalf("second writer: %v, want ErrLockConflict", err)
	}
	b, _ = LoadLock(path)
	b.Entries["y"] = entry("y", map[string]string{"f": h("2")})
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	if err := a.Save(); !errors.Is(err, ErrLockConflict) {
		t.Errorf("stale first writer: %v", err)
	}
}

// TestUpdateLock: writers that load the lock file at the same time and
// change different entries through UpdateLock all land; a refused change
// writes nothing.
func TestUpdateLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ttsguard.lock")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("m%02d", i)
			errs <- UpdateLock(path, func(l *LockFile) error {
				l.Entries[name] = entry(name, map[string]string{"f": fmt.Sprintf("%064x", i)})
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := LoadLock(path)
	if err != nil || len(l.Entries) != 16 {
		t.Fatalf("%d entries after 16 concurrent updates: %v", len(l.Entries), err)
	}
	before, _ := os.ReadFile(path)
	refused := errors.New("refused")
	if err := UpdateLock(path, func(l *LockFile) error { delete(l.Entries, "m00"); return refused }); !errors.Is(err, refused) {
		t.Fatalf("err = %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused change was written")
	}
	st0, _ := os.Stat(path)
	if err := UpdateLock(path, func(l *LockFile) error { return ErrUnchanged }); err != nil {
		t.Fatalf("ErrUnchanged: %v", err)
	}
	if st1, _ := os.Stat(path); !os.SameFile(st0, st1) {
		t.Fatal("ErrUnchanged rewrote the lock file")
	}
	if err := UpdateLock(filepath.Join(t.TempDir(), "missing", "ttsguard.lock"), func(*LockFile) error { return nil }); err == nil {
		t.Fatal("lock file in a missing folder: no error")
	}
}

func TestLockStrictParse(t *testing.T) {
	valid := func(body string) string {
		e := entry("m", map[string]string{"f": h("1")})
		return `{"version": 1, "models": {"m": {"source": ["m"], "root": "` + e.Root + `", "files": {"f": "` + h("1") + `"}, "updated": "2025-06-01T12:00:00Z"` + body + `}}}`
	}
	e := entry("m", map[string]string{"f": h("1")})
	for _, c := range []struct{ name, text, want string }{
		{"unknown key in entry", valid(`, "extra": 1`), `model "m": json: unknown field "extra"`},
		{"unknown top key", `{"version": 1, "models": {}, "x": 2}`, `unknown field "x"`},
		{"duplicate key", valid(`, "root": "` + e.Root + `"`), `duplicate key "root" in "/models/m"`},
		{"duplicate model", `{"version": 1, "models": {"m": {}, "m": {}}}`, `duplicate key "m"`},
		{"trailing data", valid("") + ` {}`, "data after"},
		{"version", `{"version": 2, "models": {}}`, "version 2"},
		{"syntax", "{\n  \"version\": 1,\n  \"models\": {,}\n}", "line 3, column"},
		{"bad name", strings.Replace(valid(""), `"m": {`, `"../m": {`, 1), `model name "../m"`},
		{"bad digest", strings.Replace(valid(""), `"f": "`+h("1"), `"f": "`+strings.ToUpper(h("a")), 1), `model "m": file "f": digest`},
		{"bad path", strings.Replace(valid(""), `"f": "`, `"../f": "`, 1), `file "../f": not a clean`},
		{"root not of files", strings.Replace(valid(""), e.Root, "sha256:"+h("0"), 1), "is not the root of its files"},
		{"no files", strings.Replace(valid(""), `"f": "`+h("1")+`"`, "", 1), "no files"},
		{"bad time", strings.Replace(valid(""), "2025-06-01T12:00:00Z", "yesterday", 1), `updated "yesterday"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ttsguard.lock")
			os.WriteFile(path, []byte(c.text), 0o644)
			_, err := LoadLock(path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("got %v, want an error naming %q and containing %q", err, path, c.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "ttsguard.lock")
	os.WriteFile(path, []byte(valid("")), 0o644)
	if _, err := LoadLock(path); err != nil {
		t.Errorf("valid lock file: %v", err)
	}
	bad := &LockFile{Path: path, Entries: map[string]LockEntry{"m": {Name: "m", Root: "sha256:" + h("0"), Files: map[string]string{"f": h("1")}}}}
	if err := bad.Save(); err == nil || !strings.Contains(err.Error(), `model "m"`) {
		t.Errorf("saving an invalid entry: %v", err)
	}
}

func TestLockCheck(t *testing.T) {
	l := sampleLock("ttsguard.lock")
	name := "tts_models/en/ljspeech/vits"
	pinned := l.Entries[name]
	if p, d, err := l.Check("unknown", pinned); p || !d.Empty() || err != nil {
		t.Errorf("no entry: %v %v %v", p, d, err)
	}
	if p, d, err := l.Check(name, pinned); !p || !d.Empty() || err != nil {
		t.Errorf("same: %v %v %v", p, d, err)
	}
	if p, _, err := l.Check(name, LockEntry{Root: pinned.Root}); !p || err != nil {
		t.Errorf("root only: %v %v", p, err)
	}
	files := map[string]string{"config.json": h("1"), "model_file.pth": h("9"), "speakers.pth": h("8")}
	got := LockEntry{Root: filesRoot(files), Files: files, Archives: map[string]string{"https://mirror/x.zip": h("b")}}
	p, d, err := l.Check(name, got)
	if !p || !errors.Is(err, ErrPinMismatch) || !strings.Contains(err.Error(), name) {
		t.Fatalf("changed model: %v %v", p, err)
	}
	if d.OldRoot != pinned.Root || d.NewRoot != got.Root || !slices.Equal(d.Changed, []string{"model_file.pth"}) ||
		!slices.Equal(d.Added, []string{"speakers.pth"}) || len(d.Removed) != 0 || len(d.ArchivesAdded) != 1 || len(d.ArchivesRemoved) != 1 {
		t.Errorf("diff: %+v", d)
	}
	if s := d.String(); !strings.Contains(s, `changed: "model_file.pth"`) || !strings.Contains(s, `added: "speakers.pth"`) {
		t.Errorf("diff text: %s", s)
	}
	delete(files, "speakers.pth")
	delete(files, "config.json")
	got = LockEntry{Root: filesRoot(files), Files: files}
	if _, d, err := l.Check(name, got); !errors.Is(err, ErrPinMismatch) || !slices.Equal(d.Removed, []string{"config.json"}) {
		t.Errorf("removed file: %+v %v", d, err)
	}
	if _, d, err := l.Check(name, LockEntry{Root: "sha256:" + h("c")}); !errors.Is(err, ErrPinMismatch) || d.NewRoot == "" {
		t.Errorf("root only, different: %+v %v", d, err)
	}
	arch := pinned
	arch.Archives = map[string]string{}
	for k := range pinned.Archives {
		arch.Archives[k] = h("f")
	}
	if _, d, err := l.Check(name, arch); !errors.Is(err, ErrPinMismatch) || len(d.ArchivesChanged) != 1 {
		t.Errorf("archive changed: %+v %v", d, err)
	}
	for _, bad := range []LockEntry{{Root: "sha256:xyz"}, {Root: pinned.Root, Files: map[string]string{"f": h("1")}}} {
		if _, _, err := l.Check(name, bad); err == nil || errors.Is(err, ErrPinMismatch) {
			t.Errorf("invalid got %+v: %v", bad, err)
		}
	}
}

func TestMetaLockEntry(t *testing.T) {
	s := openStore(t)
	prov := Provenance{Requested: "tts_models/en/x/m", Sources: []SourceRecord{{URL: "https://e/x.zip", SHA256: h("e")}}}
	v, err := tryCommit(s, "m", "a", prov)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Meta(v)
	if err != nil {
		t.Fatal(err)
	}
	e := m.LockEntry()
	if err := e.validate(); err != nil || e.Root != v.Root || len(e.Files) != 4 || e.Archives["https://e/x.zip"] != h("e") {
		t.Errorf("LockEntry = %+v, %v", e, err)
	}
	l := &LockFile{Path: "x", Entries: map[string]LockEntry{"m": e}}
	if p, _, err := l.Check("m", e); !p || err != nil {
		t.Errorf("check against itself: %v", err)
	}
}

// TestLoadLockRefusesUntrusted is the lock-file half of issue 9 item 11:
// whoever can change the lock file decides which pins hold. Another user's
// lock file (pins of their choosing), a lock file others may write, or one in
// a folder others may write (where they could delete it, so that a changed
// model reads as "not pinned" and is pinned anew) is refused, by LoadLock and
// by UpdateLock, which then writes nothing.
func TestLoadLockRefusesUntrusted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	tests := []struct {
		name    string
		exists  bool
		mode    fs.FileMode
		uid     int
		dirMode fs.FileMode
		dirUID  int
		want    string // "" accepted
	}{
		{"own lock file", true, 0o644, 0, 0o755, 0, ""},
		{"another user's lock file", true, 0o644, 65534, 0o755, 0, "the file is owned by uid 65534"},
		{"group-writable lock file", true, 0o664, 0, 0o755, 0, "the file is writable by its group"},
		{"folder of another user", true, 0o644, 0, 0o755, 65534, "is owned by uid 65534"},
		{"world-writable folder", true, 0o644, 0, 0o777, 0, "is writable by everyone"},
		{"missing, world-writable folder", false, 0, 0, 0o777, 0, "is writable by everyone"},
		{"missing, group-writable folder", false, 0, 0, 0o775, 0, "is writable by its group"},
		{"missing, own folder", false, 0, 0, 0o755, 0, ""},
		{"missing, sticky folder", false, 0, 0, 0o777 | os.ModeSticky, 0, ""},
		{"sticky folder, own lock file", true, 0o644, 0, 0o777 | os.ModeSticky, 0, ""},
		{"sticky folder, another user's lock file", true, 0o644, 65534, 0o777 | os.ModeSticky, 0, "the file is owned by uid 65534"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("TTSGUARD_TRUSTED_PATHS", "")
			dir := filepath.Join(t.TempDir(), "shared")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "ttsguard.lock")
			var before []byte
			if tt.exists {
				if err := sampleLock(path).Save(); err != nil {
					t.Fatal(err)
				}
				mustDo(t, os.Chown(path, tt.uid, tt.uid))
				mustDo(t, os.Chmod(path, tt.mode))
				before, _ = os.ReadFile(path)
			}
			mustDo(t, os.Chown(dir, tt.dirUID, tt.dirUID))
			mustDo(t, os.Chmod(dir, tt.dirMode))

			l, err := LoadLock(path)
			errU := UpdateLock(path, func(l *LockFile) error {
				e := entry("new", map[string]string{"m.pth": h("6")})
				l.Entries[e.Name] = e
				return nil
			})
			if tt.want == "" {
				if err != nil || errU != nil {
					t.Fatalf("refused: %v; update: %v", err, errU)
				}
				if tt.exists && len(l.Entries) != 2 {
					t.Errorf("entries: %v", l.Entries)
				}
				return
			}
			for _, err := range []error{err, errU} {
				if !errors.Is(err, policy.ErrUntrusted) || !strings.Contains(err.Error(), tt.want) ||
					!strings.HasPrefix(err.Error(), fmt.Sprintf("lock file %q: ", path)) || !strings.Contains(err.Error(), "TTSGUARD_TRUSTED_PATHS") {
					t.Errorf("error %v, want one that says %q", err, tt.want)
				}
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Errorf("UpdateLock changed the refused lock file")
			}
			// Trusted on purpose.
			t.Setenv("TTSGUARD_TRUSTED_PATHS", dir)
			if _, err := LoadLock(path); err != nil {
				t.Errorf("trusted: %v", err)
			}
		})
	}
	// A lock file whose folder does not exist yet: empty, as before.
	if l, err := LoadLock(filepath.Join(t.TempDir(), "no", "ttsguard.lock")); err != nil || len(l.Entries) != 0 {
		t.Errorf("missing folder: %v %v", l, err)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
