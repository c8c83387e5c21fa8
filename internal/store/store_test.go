package store

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ttsguard/ttsguard/internal/manifest"
)

func TestEscapeName(t *testing.T) {
	good := map[string]string{
		"tts_models/en/ljspeech/vits":              "tts_models--en--ljspeech--vits",
		"tts_models/zh-CN/baker/tacotron2-DDC-GST": "tts_models--zh-CN--baker--tacotron2-DDC-GST",
		"vocoder_models/en/ljspeech/hifigan_v2":    "vocoder_models--en--ljspeech--hifigan_v2",
		"my-model":                                 "my-model",
		"a.b/c_d":                                  "a.b--c_d",
	}
	for name, want := range good {
		if got, err := EscapeName(name); err != nil || got != want {
			t.Errorf("EscapeName(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"", "..", "a/../b", "../a", "/abs", "a/", "a//b", "a--b", "a/-b", ".hidden",
		"a\x00b", `a\b`, "a b", "a/./b", "ü", strings.Repeat("a", 201)} {
		if _, err := EscapeName(name); !errors.Is(err, ErrBadName) {
			t.Errorf("EscapeName(%q): %v, want ErrBadName", name, err)
		}
	}
}

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestCommitGetModes(t *testing.T) {
	s := openStore(t)
	if m := mode(t, s.Root); m != 0o750 {
		t.Errorf("store root mode %04o, want 0750", m)
	}
	if m := mode(t, filepath.Join(s.Root, dirTmp)); m != 0o700 {
		t.Errorf("tmp mode %04o, want 0700", m)
	}
	_, err := s.Get("tts_models/en/ljspeech/vits")
	mustNotFound(t, err)
	prov := Provenance{Requested: "tts_models/en/ljspeech/vits", Sources: []SourceRecord{{URL: "https://example.com/a.zip", SHA256: strings.Repeat("ab", 32), Size: 3}}}
	v := commitVariant(t, s, "tts_models/en/ljspeech/vits", "a")
	if _, err := tryCommit(s, "tts_models/en/ljspeech/vits", "a", prov); err != nil {
		t.Fatalf("recommit of the same content: %v", err)
	}
	got, err := s.Get("tts_models/en/ljspeech/vits")
	if err != nil {
		t.Fatal(err)
	}
	if got.Dir != v.Dir || got.Root != rootOfVariant(t, "a") || got.Files != 4 || got.ID != v.ID || got.Provenance.Name != got.Name {
		t.Errorf("Get = %+v, commit gave %+v", got, v)
	}
	if want := filepath.Join(s.Root, "models", "tts_models--en--ljspeech--vits", v.ID); got.Dir != want {
		t.Errorf("Dir %q, want %q", got.Dir, want)
	}
	if got.Provenance.Requested != "" {
		t.Errorf("recommit replaced the first provenance: %+v", got.Provenance)
	}
	for name, content := range variant("a") {
		p := filepath.Join(got.Dir, filepath.FromSlash(name))
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Errorf("%s: %q, %v", name, b, err)
		}
		if m := mode(t, p); m != 0o444 {
			t.Errorf("%s: mode %04o, want 0444", name, m)
		}
	}
	for _, d := range []string{got.Dir, filepath.Join(got.Dir, "sub")} {
		if m := mode(t, d); m != 0o555 {
			t.Errorf("%s: mode %04o, want 0555", d, m)
		}
	}
	if m := mode(t, filepath.Join(filepath.Dir(got.Dir), got.ID+".json")); m != 0o444 {
		t.Errorf("metadata mode %04o, want 0444", m)
	}
	if cur, err := os.Readlink(filepath.Join(filepath.Dir(got.Dir), "current")); err != nil || cur != got.ID {
		t.Errorf("current -> %q, %v", cur, err)
	}
	if n := tmpEntries(t, s); len(n) != 0 {
		t.Errorf("tmp/ not empty after commits: %v", n)
	}
	// A new version becomes current; the old one stays listed.
	v2 := commitVariant(t, s, "tts_models/en/ljspeech/vits", "a2")
	if got, _ := s.Get("tts_models/en/ljspeech/vits"); got.ID != v2.ID {
		t.Errorf("current is %s, want %s", got.ID, v2.ID)
	}
	vs, err := s.Versions("tts_models/en/ljspeech/vits")
	if err != nil || len(vs) != 2 || vs[0].ID != v.ID || vs[1].ID != v2.ID {
		t.Errorf("Versions = %v, %v", vs, err)
	}
	commitVariant(t, s, "other", "b")
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].Name != "other" || list[1].ID != v2.ID {
		t.Errorf("List = %v, %v", list, err)
	}
	checkConsistent(t, s)
}

func TestCommitRefusesWrongRoot(t *testing.T) {
	s := openStore(t)
	commitVariant(t, s, "m", "a")
	before := snapshot(t, s)
	dir := t.TempDir()
	if err := writeFiles(dir, variant("b")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Commit(context.Background(), "m", dir, rootOfVariant(t, "a2"), Provenance{})
	if !errors.Is(err, ErrRootMismatch) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("commit with the wrong root: %v", err)
	}
	if d := diffSnapshots(before, snapshot(t, s)); d != "" {
		t.Errorf("store changed:\n%s", d)
	}
	if n := tmpEntries(t, s); len(n) != 0 {
		t.Errorf("tmp/ not empty: %v", n)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "model_file.pth")); err != nil || len(b) == 0 {
		t.Errorf("staged folder was touched: %v", err)
	}
	for _, bad := range []string{"", "sha256:zz", "sha512:" + strings.Repeat("0", 128), "md5:" + strings.Repeat("0", 32)} {
		if _, err := s.Commit(context.Background(), "m", dir, bad, Provenance{}); err == nil {
			t.Errorf("want root %q accepted", bad)
		}
	}
	root := rootOfVariant(t, "b")
	if _, err := s.Commit(context.Background(), "m", dir, root, Provenance{Root: rootOfVariant(t, "a")}); err == nil {
		t.Error("provenance with another root accepted")
	}
	if _, err := s.Commit(context.Background(), "../m", dir, root, Provenance{}); !errors.Is(err, ErrBadName) {
		t.Errorf("bad name: %v", err)
	}
	if _, err := s.Commit(context.Background(), "m", filepath.Join(s.Root, "objects"), root, Provenance{}); err == nil {
		t.Error("staging inside objects/ accepted")
	}
	// A symbolic link in the staged folder is refused (never followed into the store).
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(context.Background(), "m", dir, root, Provenance{}); err == nil {
		t.Error("staged symlink accepted")
	}
	if d := diffSnapshots(before, snapshot(t, s)); d != "" {
		t.Errorf("store changed:\n%s", d)
	}
}

func TestDedup(t *testing.T) {
	s := openStore(t)
	va := commitVariant(t, s, "tts_models/en/x/a", "a")
	vb := commitVariant(t, s, "tts_models/en/x/b", "b")
	var sa, sb syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(va.Dir, "shared.bin"), &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Lstat(filepath.Join(vb.Dir, "shared.bin"), &sb); err != nil {
		t.Fatal(err)
	}
	if sa.Ino != sb.Ino || sa.Nlink != 3 {
		t.Errorf("shared.bin: inodes %d and %d, link count %d; want one inode with 3 links", sa.Ino, sb.Ino, sa.Nlink)
	}
	checkConsistent(t, s)
}

func TestVerifyDetectsTampering(t *testing.T) {
	s := openStore(t)
	v := commitVariant(t, s, "m", "a")
	if d, err := s.Verify(context.Background(), v); err != nil || !d.Empty() {
		t.Fatalf("fresh version: %+v, %v", d, err)
	}
	p := filepath.Join(v.Dir, "sub", "speakers.json")
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`{"evil":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := s.Verify(context.Background(), v)
	if err != nil || !slices.Equal(d.Changed, []string{"sub/speakers.json"}) || len(d.Missing)+len(d.Extra) != 0 {
		t.Errorf("after modifying a file: %+v, %v", d, err)
	}
	if err := os.Chmod(v.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(v.Dir, "config.json"))
	os.WriteFile(filepath.Join(v.Dir, "extra.pth"), []byte("x"), 0o444)
	d, err = s.Verify(context.Background(), v)
	if err != nil || !slices.Equal(d.Missing, []string{"config.json"}) || !slices.Equal(d.Extra, []string{"extra.pth"}) {
		t.Errorf("after removing and adding files: %+v, %v", d, err)
	}
	os.Remove(filepath.Join(v.Dir, "extra.pth"))
	os.Symlink("/etc/passwd", filepath.Join(v.Dir, "config.json"))
	if _, err := s.Verify(context.Background(), v); err == nil {
		t.Error("a symlink in a version verified without error")
	}
}

func TestSignatureFile(t *testing.T) {
	s := openStore(t)
	dir := t.TempDir()
	writeFiles(dir, variant("a"))
	root := rootOfVariant(t, "a")
	writeFiles(dir, map[string]string{"model.sig": `{"bundle":1}`})
	if _, err := s.Commit(context.Background(), "m", dir, root, Provenance{}); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("signature counted in the root? %v", err)
	}
	v, err := s.Commit(context.Background(), "m", dir, root, Provenance{SignatureFile: "model.sig", Signer: "key:abc"})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(v.Dir, "model.sig")); err != nil || string(b) != `{"bundle":1}` {
		t.Errorf("signature in the version: %q, %v", b, err)
	}
	m, err := s.Meta(v)
	if err != nil || m.Signature == nil || m.Signature.Path != "model.sig" || len(m.Files) != 4 {
		t.Fatalf("metadata: %+v, %v", m, err)
	}
	checkConsistent(t, s)
	p := filepath.Join(v.Dir, "model.sig")
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("forged"), 0o644)
	if d, err := s.Verify(context.Background(), v); err != nil || !slices.Equal(d.Changed, []string{"model.sig"}) {
		t.Errorf("modified signature: %+v, %v", d, err)
	}
}

func TestRemoveAndGC(t *testing.T) {
	s := openStore(t)
	commitVariant(t, s, "a", "a")
	commitVariant(t, s, "a", "a2")
	vb := commitVariant(t, s, "b", "b")
	if n, _, err := s.GC(); err != nil || n != 0 {
		t.Fatalf("GC with everything in use removed %d blobs: %v", n, err)
	}
	if err := s.Remove("a"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get("a")
	mustNotFound(t, err)
	mustNotFound(t, s.Remove("a"))
	_, err = s.Versions("a")
	mustNotFound(t, err)
	// a and a2: config, two checkpoints, speakers; shared.bin stays for b.
	n, freed, err := s.GC()
	if err != nil || n != 4 || freed <= 0 {
		t.Errorf("GC = %d blobs, %d bytes, %v; want 4 blobs", n, freed, err)
	}
	if d, err := s.Verify(context.Background(), vb); err != nil || !d.Empty() {
		t.Errorf("b after GC: %+v, %v", d, err)
	}
	checkConsistent(t, s)
	if err := s.Remove("b"); err != nil {
		t.Fatal(err)
	}
	if n, _, err := s.GC(); err != nil || n != 4 {
		t.Errorf("second GC removed %d blobs, %v; want 4", n, err)
	}
	ents, _ := os.ReadDir(filepath.Join(s.Root, "objects", "sha256"))
	models, _ := os.ReadDir(filepath.Join(s.Root, "models"))
	if len(ents)+len(models) != 0 || len(tmpEntries(t, s)) != 0 {
		t.Errorf("store not empty after removing everything: %v %v %v", ents, models, tmpEntries(t, s))
	}
}

func TestGCKeepsHeldStaging(t *testing.T) {
	s := openStore(t)
	dir, cleanup, err := s.Stage()
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("staging mode %04o", m)
	}
	os.MkdirAll(filepath.Join(s.Root, dirTmp, "stale-commit", "v"), 0o700)
	os.Chmod(filepath.Join(s.Root, dirTmp, "stale-commit", "v"), 0o555)
	if _, _, err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(s.Root); err != nil {
		t.Fatal(err)
	}
	if got := tmpEntries(t, s); len(got) != 1 || got[0] != filepath.Base(dir) {
		t.Errorf("tmp/ after GC: %v, want only the held staging folder", got)
	}
	cleanup()
	if got := tmpEntries(t, s); len(got) != 0 {
		t.Errorf("tmp/ after cleanup: %v", got)
	}
}

func TestOpenRefusesUnsafeRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o770)
	if _, err := Open(dir); !errors.Is(err, ErrUnsafeRoot) || !strings.Contains(err.Error(), "writable by group") {
		t.Errorf("group-writable root: %v", err)
	}
	os.Chmod(dir, 0o750)
	os.Chmod(filepath.Join(dir, "models"), 0o757)
	if _, err := Open(dir); !errors.Is(err, ErrUnsafeRoot) {
		t.Errorf("world-writable models/: %v", err)
	}
	os.Chmod(filepath.Join(dir, "models"), 0o750)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(file); err == nil {
		t.Error("a file as store root accepted")
	}
	if os.Geteuid() != 0 {
		t.Log("not root: skipping the foreign-owner case")
		return
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrUnsafeRoot) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("foreign-owned root: %v", err)
	}
}

func TestOpenRecoversOrphanVersion(t *testing.T) {
	s := openStore(t)
	v := commitVariant(t, s, "m", "a")
	orphan := filepath.Join(filepath.Dir(v.Dir), "0123456789abcdef")
	os.MkdirAll(filepath.Join(orphan, "sub"), 0o700)
	os.WriteFile(filepath.Join(orphan, "sub", "f"), []byte("x"), 0o444)
	os.Chmod(filepath.Join(orphan, "sub"), 0o555)
	os.Chmod(orphan, 0o555)
	if _, err := Open(s.Root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("orphan version folder survived Open: %v", err)
	}
	if got, err := s.Get("m"); err != nil || got.ID != v.ID {
		t.Errorf("Get after recovery: %v, %v", got, err)
	}
}

func TestCorruptMetadata(t *testing.T) {
	s := openStore(t)
	v := commitVariant(t, s, "m", "a")
	p := filepath.Join(filepath.Dir(v.Dir), v.ID+".json")
	b, _ := os.ReadFile(p)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte(strings.Replace(string(b), `"format"`, `"unknown": 1, "format"`, 1)), 0o644)
	if _, err := s.Get("m"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown metadata key: %v", err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.Files[0].SHA256 = strings.Repeat("0", 64)
	b2, _ := json.Marshal(m)
	os.WriteFile(p, b2, 0o644)
	if _, err := s.Verify(context.Background(), v); !errors.Is(err, ErrCorrupt) {
		t.Errorf("metadata whose files do not add up to its root: %v", err)
	}
}

func TestCommitCopiesHardLinkedFiles(t *testing.T) {
	s := openStore(t)
	outside := filepath.Join(t.TempDir(), "outside.pth")
	os.WriteFile(outside, []byte("weights"), 0o600)
	dir := t.TempDir()
	writeFiles(dir, map[string]string{"config.json": "{}"})
	if err := os.Link(outside, filepath.Join(dir, "model.pth")); err != nil {
		t.Fatal(err)
	}
	root, _ := rootOfFiles(dir)
	v, err := s.Commit(context.Background(), "m", dir, root, Provenance{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, []byte("poison!"), 0o600); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Verify(context.Background(), v); err != nil || !d.Empty() {
		t.Errorf("writing through an outside hard link changed the store: %+v %v", d, err)
	}
	checkConsistent(t, s)
}

func TestCommitHashed(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	stage, cleanup, err := s.Stage()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	os.WriteFile(filepath.Join(stage, "a.pth"), []byte("weights"), 0o600)
	m, err := manifest.Build(context.Background(), stage, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Items that do not match the staged files are refused.
	bad := append([]manifest.Item(nil), m.Items...)
	bad[0].End++
	if _, err := s.CommitHashed(context.Background(), "m", stage, bad, Provenance{}); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("size mismatch: %v", err)
	}
	v, err := s.CommitHashed(context.Background(), "m", stage, m.Items, Provenance{})
	if err != nil || v.Root != m.Root().String() {
		t.Fatalf("%v %+v", err, v)
	}
	if d, err := s.Verify(context.Background(), v); err != nil || !d.Empty() {
		t.Fatalf("verify: %v %+v", err, d)
	}
}
