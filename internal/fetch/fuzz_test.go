package fetch

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimits keep one input cheap.
var fuzzLimits = Limits{MaxEntries: 64, MaxTotal: 4 << 20, MaxRatio: 50}

// fuzzExtract extracts data and checks the properties that must hold for
// any input: no panic, nothing outside dest touched, only regular files and
// folders inside it, every reported file present, and dest empty on error.
//
// The workspace sits at fixed paths under base, rebuilt for every input: the
// coverage of a run must not depend on random temporary names, or the fuzzer
// spends its time re-checking inputs that only looked new.
func fuzzExtract(t *testing.T, base string, data []byte, kind string) {
	ws := filepath.Join(base, "ws")
	if err := os.RemoveAll(ws); err != nil {
		t.Fatal(err)
	}
	w := workspaceIn(t, ws, data)
	res, err := Extract(context.Background(), w.archive, kind, w.dest, fuzzLimits)
	w.check(t, err != nil)
	if err != nil {
		return
	}
	for _, f := range res.Files {
		fi, err := os.Lstat(filepath.Join(w.dest, filepath.FromSlash(f)))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
			t.Fatalf("reported file %q: %v %v", f, fi, err)
		}
	}
	n := 0
	filepath.WalkDir(w.dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if n != len(res.Files) {
		t.Fatalf("%d files in dest, %d reported", n, len(res.Files))
	}
}

// fuzzBase is a private folder for the workspace: in /dev/shm where there is
// one (a run costs a fifth of what it costs on a journaled disk), else in
// the test's temporary folder.
func fuzzBase(f *testing.F) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if p, err := os.MkdirTemp("/dev/shm", "ttsguard-fuzz-"); err == nil {
			f.Cleanup(func() { os.RemoveAll(p) })
			return p
		}
	}
	return f.TempDir()
}

func FuzzExtractZip(f *testing.F) {
	f.Add(zipBytes(f, member{name: "top/"}, member{name: "top/config.json", body: "{}"}, member{name: "top/model.pth", body: "weights"}))
	f.Add(zipBytes(f, member{name: "__MACOSX/._a", body: "x"}, member{name: "a", body: "1"}, member{name: "b/c", body: "2"}))
	f.Add(zipBytes(f, member{name: "../x", body: "evil"}))
	f.Add(zipBytes(f, member{name: "link", body: "..", mode: fs.ModeSymlink | 0o777}))
	f.Add(zipBytes(f, member{name: "a", body: "1"}, member{name: "a/b", body: "2"}))
	f.Add(zipBytes(f, member{name: "z", body: string(bytes.Repeat([]byte{0}, 1<<16))}))
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzExtract(t, base, data, "zip") })
}

func FuzzExtractTar(f *testing.F) {
	for _, gz := range []bool{false, true} {
		f.Add(tarBytes(f, gz, member{name: "top/"}, member{name: "top/config.json", body: "{}"}, member{name: "top/model.pth", body: "weights"}))
		f.Add(tarBytes(f, gz, member{name: "./"}, member{name: "./a", body: "1"}, member{name: "._a", body: "x"}))
		f.Add(tarBytes(f, gz, member{name: "../x", body: "evil"}))
		f.Add(tarBytes(f, gz, member{name: "d", flag: tar.TypeSymlink, link: ".."}, member{name: "d/x", body: "evil"}))
		f.Add(tarBytes(f, gz, member{name: "dev", flag: tar.TypeChar}))
	}
	base := fuzzBase(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		kind := "tar"
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			kind = "tar.gz"
		}
		fuzzExtract(t, base, data, kind)
	})
}
