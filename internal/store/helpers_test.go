package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ttsguard/ttsguard/internal/manifest"
)

// Helper process: the test binary re-executed with TTSGUARD_STORE_HELPER set
// commits one model (see helperMain) and exits; the kill -9 and two-process
// tests drive it.
const helperEnv = "TTSGUARD_STORE_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// helperMain commits model variant $MODEL as $NAME into the store $STORE;
// with $CRASH_AT=N it SIGKILLs itself at the N-th durable step. On success it
// prints "steps=<count>" and exits 0.
func helperMain() int {
	var opts []Option
	if k := os.Getenv("AGE_KEYS"); k != "" {
		opts = append(opts, Encryption(keysFromEnv(k)))
	}
	s, err := Open(os.Getenv("STORE"), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	crashAt, _ := strconv.Atoi(os.Getenv("CRASH_AT"))
	steps := 0
	crashHook = func(string) {
		steps++
		if steps == crashAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	}
	if mode := os.Getenv("CONVERT"); mode != "" {
		if _, err := s.Convert(context.Background(), mode == "rekey"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("steps=%d\n", steps)
		return 0
	}
	dir, cleanup, err := stageIn(s, os.Getenv("STAGE_IN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer cleanup()
	files := variant(os.Getenv("MODEL"))
	if err := writeFiles(dir, files); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	root, err := rootOfFiles(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := s.Commit(context.Background(), os.Getenv("NAME"), dir, root, Provenance{Requested: os.Getenv("NAME")}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("steps=%d\n", steps)
	return 0
}

// stageIn returns a staging folder: the store's own, or a fresh one under
// parent (another filesystem) when parent is set.
func stageIn(s *Store, parent string) (string, func(), error) {
	if parent == "" {
		return s.Stage()
	}
	d, err := os.MkdirTemp(parent, "stage-")
	return d, func() { removeTree(d) }, err
}

// variant returns the files of a test model. "a" and "b" share shared.bin;
// "a2" is "a" with another checkpoint.
func variant(name string) map[string]string {
	common := "shared content of every test model\n"
	switch name {
	case "a":
		return map[string]string{"config.json": `{"model":"vits","a":1}`, "model_file.pth": strings.Repeat("checkpoint a ", 500),
			"sub/speakers.json": `{"p1":0}`, "shared.bin": common}
	case "a2":
		return map[string]string{"config.json": `{"model":"vits","a":1}`, "model_file.pth": strings.Repeat("checkpoint a2 ", 500),
			"sub/speakers.json": `{"p1":0}`, "shared.bin": common}
	case "b":
		return map[string]string{"config.json": `{"model":"tacotron2","b":2}`, "model_file.pth": strings.Repeat("checkpoint b ", 300),
			"shared.bin": common, "deep/er/scale_stats.npy": "npy"}
	}
	panic("unknown variant " + name)
}

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func rootOfFiles(dir string) (string, error) {
	m, err := manifest.Build(context.Background(), dir, manifest.Options{})
	if err != nil {
		return "", err
	}
	return m.Root().String(), nil
}

// rootOfVariant is the manifest root of a test model.
func rootOfVariant(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := writeFiles(dir, variant(name)); err != nil {
		t.Fatal(err)
	}
	r, err := rootOfFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	// Runs before TempDir's own cleanup, which cannot delete from 0555 folders.
	t.Cleanup(func() { removeTree(s.Root) })
	return s
}

// commitVariant stages and commits a test model.
func commitVariant(t testing.TB, s *Store, name, model string) *Version {
	t.Helper()
	v, err := tryCommit(s, name, model, Provenance{})
	if err != nil {
		t.Fatalf("commit %s as %q: %v", model, name, err)
	}
	return v
}

func tryCommit(s *Store, name, model string, prov Provenance) (*Version, error) {
	dir, cleanup, err := s.Stage()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := writeFiles(dir, variant(model)); err != nil {
		return nil, err
	}
	root, err := rootOfFiles(dir)
	if err != nil {
		return nil, err
	}
	return s.Commit(context.Background(), name, dir, root, prov)
}

// snapshot describes every entry of the store except tmp/ and .lock:
// type, mode, link count and content digest.
func snapshot(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(s.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.Root, p)
		if rel == dirTmp || rel == lockName {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v nlink=%d", st.Mode(), st.Sys().(*syscall.Stat_t).Nlink)
		switch {
		case st.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:8])
		case st.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffSnapshots(a, b map[string]string) string {
	var lines []string
	for k, v := range a {
		if b[k] != v {
			lines = append(lines, fmt.Sprintf("%s: %q -> %q", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s: new %q", k, v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func tmpEntries(t testing.TB, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.Root, dirTmp))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkConsistent checks the invariants of a quiet store: every version of
// every model verifies, no version folder lacks metadata, and every blob's
// link count is one plus the number of version files that use it (or 1 for a
// blob no version uses).
func checkConsistent(t testing.TB, s *Store) {
	t.Helper()
	refs := map[string]int{}
	models, err := os.ReadDir(filepath.Join(s.Root, dirModels))
	if err != nil {
		t.Fatal(err)
	}
	for _, md := range models {
		ents, err := os.ReadDir(filepath.Join(s.Root, dirModels, md.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() {
				if _, err := os.Lstat(filepath.Join(s.Root, dirModels, md.Name(), e.Name()+".json")); err != nil {
					t.Errorf("version folder %s/%s without metadata", md.Name(), e.Name())
				}
				continue
			}
			id, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok {
				continue
			}
			v, m, err := s.load(md.Name(), id)
			if err != nil {
				t.Fatal(err)
			}
			diff, err := s.Verify(context.Background(), v)
			if err != nil || !diff.Empty() {
				t.Errorf("verify %s %s: %+v %v", v.Name, v.ID, diff, err)
			}
			// The fast path never fails an intact version (a stale or
			// missing stat record is a full hash).
			if vr, err := s.VerifyVersion(context.Background(), v, true); err != nil || !vr.Diff.Empty() {
				t.Errorf("fast verify %s %s: %+v %v", v.Name, v.ID, vr, err)
			}
			// Sealed: folders 0555, files 0444 (a killed relink must not leave
			// a version folder writable).
			filepath.WalkDir(v.Dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				want := fs.FileMode(0o444)
				if d.IsDir() {
					want = 0o555
				}
				if st, err := os.Lstat(p); err == nil && st.Mode().Perm() != want {
					t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
				}
				return nil
			})
			for _, f := range m.Files {
				refs[f.SHA256]++
			}
			for _, f := range m.SideFiles() { // the signature, the provenance
				refs[f.SHA256]++
			}
		}
	}
	for sum, n := range refs {
		st, err := os.Lstat(s.blobPath(sum))
		if err != nil {
			t.Errorf("blob %s: %v", sum, err)
			continue
		}
		if got := int(st.Sys().(*syscall.Stat_t).Nlink); got != n+1 {
			t.Errorf("blob %s: link count %d, want %d", sum, got, n+1)
		}
	}
	filepath.WalkDir(filepath.Join(s.Root, dirObjects), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			sum := filepath.Base(filepath.Dir(p)) + d.Name()
			if refs[sum] == 0 {
				st, _ := os.Lstat(p)
				if st.Sys().(*syscall.Stat_t).Nlink != 1 {
					t.Errorf("unreferenced blob %s has link count %d", sum, st.Sys().(*syscall.Stat_t).Nlink)
				}
			}
		}
		return nil
	})
}

func mustNotFound(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}
