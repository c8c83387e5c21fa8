package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestExtractZipCoquiRelease(t *testing.T) {
	top := "tts_models--en--ljspeech--vits/"
	data := zipBytes(t,
		member{name: top},
		member{name: top + "config.json", body: `{"model": "vits"}`},
		member{name: top + "model_file.pth", body: "PK fake checkpoint"},
		member{name: top + "sub/scale_stats.npy", body: "\x93NUMPY"},
		member{name: "__MACOSX/" + top + "._config.json", body: "apple double"},
		member{name: top + "._model_file.pth", body: "apple double"},
	)
	w := newWorkspace(t, data)
	res, err := Extract(context.Background(), w.archive, "zip", w.dest, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	w.check(t, false)
	if res.Stripped != "tts_models--en--ljspeech--vits" {
		t.Errorf("Stripped %q", res.Stripped)
	}
	if want := []string{"config.json", "model_file.pth", "sub/scale_stats.npy"}; !slices.Equal(res.Files, want) {
		t.Errorf("Files %q, want %q", res.Files, want)
	}
	if len(res.Dropped) != 2 {
		t.Errorf("Dropped %q", res.Dropped)
	}
	b, err := os.ReadFile(filepath.Join(w.dest, "config.json"))
	if err != nil || string(b) != `{"model": "vits"}` {
		t.Errorf("config.json: %q %v", b, err)
	}
	for p, perm := range map[string]fs.FileMode{"config.json": 0o600, "sub": 0o700, "sub/scale_stats.npy": 0o600} {
		fi, err := os.Stat(filepath.Join(w.dest, p))
		if err != nil || fi.Mode().Perm()&^0o077 != perm&^0o077 || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
}

func TestExtractTarGzHappy(t *testing.T) {
	data := tarBytes(t, true,
		member{name: "pax_global_header", flag: tar.TypeXGlobalHeader},
		member{name: "eng/"},
		member{name: "eng/G_100000.pth", body: "weights"},
		member{name: "eng/config.json", body: "{}"},
		member{name: "eng/._config.json", body: "x"},
		member{name: "__MACOSX/eng/._G_100000.pth", body: "x"},
	)
	w := newWorkspace(t, data)
	kind, err := DetectArchive(w.archive)
	if err != nil || kind != "tar.gz" {
		t.Fatalf("DetectArchive: %q %v", kind, err)
	}
	res, err := Extract(context.Background(), w.archive, kind, w.dest, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	w.check(t, false)
	if res.Stripped != "eng" || !slices.Equal(res.Files, []string{"G_100000.pth", "config.json"}) || len(res.Dropped) != 3 {
		t.Errorf("got %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(w.dest, "G_100000.pth")); string(b) != "weights" {
		t.Errorf("G_100000.pth: %q", b)
	}
}

func TestExtractStripRules(t *testing.T) {
	cases := []struct {
		name  string
		ms    []member
		strip string
		files []string
	}{
		{"two top folders", []member{{name: "a/x", body: "1"}, {name: "b/y", body: "2"}}, "", []string{"a/x", "b/y"}},
		{"folder and a top file", []member{{name: "a/x", body: "1"}, {name: "y", body: "2"}}, "", []string{"a/x", "y"}},
		{"single file", []member{{name: "model.pth", body: "1"}}, "", []string{"model.pth"}},
		{"only one level", []member{{name: "a/b/x", body: "1"}}, "a", []string{"b/x"}},
		{"dot slash", []member{{name: "./"}, {name: "./model.pth", body: "1"}, {name: "./config.json", body: "2"}}, "", []string{"model.pth", "config.json"}},
		{"same name inside", []member{{name: "a/a/x", body: "1"}, {name: "a/y", body: "2"}}, "a", []string{"a/x", "y"}},
		{"case differs", []member{{name: "A", body: "1"}, {name: "a", body: "2"}}, "", []string{"A", "a"}},
		{"implicit then explicit folder", []member{{name: "a/x", body: "1"}, {name: "a/"}}, "a", []string{"x"}},
	}
	for _, tc := range cases {
		for _, kind := range []string{"zip", "tar"} {
			data := zipBytes(t, tc.ms...)
			if kind == "tar" {
				data = tarBytes(t, false, tc.ms...)
			}
			w := newWorkspace(t, data)
			res, err := Extract(context.Background(), w.archive, kind, w.dest, Limits{})
			if err != nil {
				t.Errorf("%s %s: %v", tc.name, kind, err)
				continue
			}
			w.check(t, false)
			if res.Stripped != tc.strip || !slices.Equal(res.Files, tc.files) {
				t.Errorf("%s %s: stripped %q files %q", tc.name, kind, res.Stripped, res.Files)
			}
		}
	}
}

func TestExtractUnsafe(t *testing.T) {
	zipCases := map[string][]member{
		"zip slip":              {{name: "../x", body: "evil"}},
		"zip slip nested":       {{name: "a/../../x", body: "evil"}},
		"absolute":              {{name: "/etc/x", body: "evil"}},
		"backslash":             {{name: `..\x`, body: "evil"}},
		"NUL":                   {{name: "a\x00b", body: "evil"}},
		"control character":     {{name: "a\nb", body: "evil"}},
		"drive letter":          {{name: "C:x", body: "evil"}},
		"dot file":              {{name: ".", body: "evil"}},
		"symlink":               {{name: "link", body: "/etc/passwd", mode: fs.ModeSymlink | 0o777}},
		"device":                {{name: "dev", body: "", mode: fs.ModeDevice | 0o600}},
		"duplicate":             {{name: "a", body: "1"}, {name: "a", body: "2"}},
		"duplicate after clean": {{name: "a/b", body: "1"}, {name: "a//./b", body: "2"}},
		"file then folder":      {{name: "a", body: "1"}, {name: "a/b", body: "2"}},
		"folder then file":      {{name: "a/b", body: "1"}, {name: "a", body: "2"}},
		"file and folder entry": {{name: "a", body: "1"}, {name: "a/"}},
	}
	tarCases := map[string][]member{
		"zip slip":                     {{name: "../x", body: "evil"}},
		"absolute":                     {{name: "/etc/x", body: "evil"}},
		"symlink":                      {{name: "link", flag: tar.TypeSymlink, link: "/etc/passwd"}},
		"hard link":                    {{name: "a", body: "1"}, {name: "link", flag: tar.TypeLink, link: "/etc/passwd"}},
		"char device":                  {{name: "null", flag: tar.TypeChar}},
		"block device":                 {{name: "sda", flag: tar.TypeBlock}},
		"FIFO":                         {{name: "pipe", flag: tar.TypeFifo}},
		"duplicate":                    {{name: "a", body: "1"}, {name: "a", body: "2"}},
		"symlink then file through it": {{name: "d", flag: tar.TypeSymlink, link: ".."}, {name: "d/x", body: "evil"}},
	}
	run := func(kind, name string, data []byte) {
		w := newWorkspace(t, data)
		_, err := Extract(context.Background(), w.archive, kind, w.dest, Limits{})
		if !errors.Is(err, ErrUnsafeEntry) {
			t.Errorf("%s %s: want ErrUnsafeEntry, got %v", kind, name, err)
		}
		w.check(t, true)
	}
	for name, ms := range zipCases {
		// a valid file first, so that a late refusal has something to clean
		run("zip", name, zipBytes(t, append([]member{{name: "ok", body: "fine"}}, ms...)...))
	}
	for name, ms := range tarCases {
		run("tar", name, tarBytes(t, false, append([]member{{name: "ok", body: "fine"}}, ms...)...))
		run("tar.gz", name, tarBytes(t, true, append([]member{{name: "ok", body: "fine"}}, ms...)...))
	}
}

func TestExtractZipBomb(t *testing.T) {
	stream, crc := zerosDeflate(t, 100)
	t.Run("declared ratio", func(t *testing.T) {
		w := newWorkspace(t, rawZip(t, rawEntry{"zeros", stream, crc, 100 << 20}))
		_, err := Extract(context.Background(), w.archive, "zip", w.dest, Limits{})
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("want ErrLimit, got %v", err)
		}
		w.check(t, true)
	})
	t.Run("lying header", func(t *testing.T) {
		// declared as if stored: ratio 1, but 100 MiB come out
		w := newWorkspace(t, rawZip(t, rawEntry{"ok", []byte("\x03\x00"), 0, 0}, rawEntry{"zeros", stream, crc, uint64(len(stream))}))
		_, err := Extract(context.Background(), w.archive, "zip", w.dest, Limits{})
		if err == nil {
			t.Fatal("a 100 MiB entry declared as 100 KiB was extracted")
		}
		t.Log(err)
		w.check(t, true)
	})
	t.Run("total ratio", func(t *testing.T) {
		one, crc1 := zerosDeflate(t, 1) // 1 MiB each: at the per-entry floor
		var es []rawEntry
		for i := range 300 {
			es = append(es, rawEntry{"z" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)), one, crc1, 1 << 20})
		}
		w := newWorkspace(t, rawZip(t, es...))
		_, err := Extract(context.Background(), w.archive, "zip", w.dest, Limits{})
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("want ErrLimit, got %v", err)
		}
		w.check(t, true)
	})
	t.Run("tar.gz", func(t *testing.T) {
		w := newWorkspace(t, tarGzZeros(t, 100))
		_, err := Extract(context.Background(), w.archive, "tar.gz", w.dest, Limits{})
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("want ErrLimit, got %v", err)
		}
		w.check(t, true)
	})
}

func TestExtractOverlappingZipEntries(t *testing.T) {
	data := zipBytes(t, member{name: "a", body: "same bytes"}, member{name: "b", body: "same bytes"})
	// point b's central directory record at a's local header
	i := bytes.LastIndex(data, []byte("PK\x01\x02"))
	if !bytes.Equal(data[i+46:i+47], []byte("b")) {
		t.Fatal("unexpected layout")
	}
	binary.LittleEndian.PutUint32(data[i+42:], 0)
	w := newWorkspace(t, data)
	_, err := Extract(context.Background(), w.archive, "zip", w.dest, Limits{})
	if !errors.Is(err, ErrUnsafeEntry) {
		t.Fatalf("want ErrUnsafeEntry, got %v", err)
	}
	w.check(t, true)
}

func TestExtractLimits(t *testing.T) {
	var ms []member
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		ms = append(ms, member{name: n, body: strings.Repeat(n, 100)})
	}
	for _, kind := range []string{"zip", "tar", "tar.gz"} {
		data := zipBytes(t, ms...)
		if kind != "zip" {
			data = tarBytes(t, kind == "tar.gz", ms...)
		}
		for name, lim := range map[string]Limits{"entries": {MaxEntries: 4}, "total": {MaxTotal: 499}} {
			w := newWorkspace(t, data)
			_, err := Extract(context.Background(), w.archive, kind, w.dest, lim)
			if !errors.Is(err, ErrLimit) {
				t.Errorf("%s %s: want ErrLimit, got %v", kind, name, err)
			}
			w.check(t, true)
		}
		w := newWorkspace(t, data)
		if _, err := Extract(context.Background(), w.archive, kind, w.dest, Limits{MaxEntries: 5, MaxTotal: 500}); err != nil {
			t.Errorf("%s at the limits: %v", kind, err)
		}
	}
}

func TestExtractDestination(t *testing.T) {
	data := zipBytes(t, member{name: "a", body: "1"})
	w := newWorkspace(t, data)
	os.WriteFile(filepath.Join(w.dest, "there"), nil, 0o600)
	if _, err := Extract(context.Background(), w.archive, "zip", w.dest, Limits{}); err == nil {
		t.Error("extracted into a folder that was not empty")
	}
	w = newWorkspace(t, data)
	os.Chmod(w.dest, 0o755)
	if _, err := Extract(context.Background(), w.archive, "zip", w.dest, Limits{}); err == nil {
		t.Error("extracted into a folder that is not private")
	}
	w = newWorkspace(t, data)
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(w.dest, link)
	if _, err := Extract(context.Background(), w.archive, "zip", link, Limits{}); err == nil {
		t.Error("extracted through a symbolic link")
	}
	if _, err := Extract(context.Background(), w.archive, "rar", w.dest, Limits{}); !errors.Is(err, ErrNotArchive) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := Extract(context.Background(), w.archive, "tar", w.dest, Limits{}); !errors.Is(err, ErrNotArchive) {
		t.Errorf("zip as tar: %v", err)
	}
	assertEmpty(t, w.dest)
}

func TestExtractCancelled(t *testing.T) {
	w := newWorkspace(t, zipBytes(t, member{name: "a", body: "1"}, member{name: "b", body: "2"}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Extract(ctx, w.archive, "zip", w.dest, Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled, got %v", err)
	}
	w.check(t, true)
}

func TestDetectArchive(t *testing.T) {
	legacy := tarBytes(t, false, member{name: "sys_info", body: "x"}, member{name: "pickle", body: "x"},
		member{name: "storages", body: "x"}, member{name: "tensors", body: "x"})
	var gzText bytes.Buffer
	zw := gzip.NewWriter(&gzText)
	zw.Write([]byte("just text"))
	zw.Close()
	cases := []struct {
		name string
		data []byte
		kind string
		err  bool
	}{
		{"zip", zipBytes(t, member{name: "a/config.json", body: "{}"}), "zip", false},
		{"empty zip", zipBytes(t), "zip", false},
		{"torch zip checkpoint", zipBytes(t, member{name: "archive/data.pkl", body: "\x80\x02}q\x00."}, member{name: "archive/version", body: "3\n"}), "", false},
		{"tar", tarBytes(t, false, member{name: "a", body: "1"}), "tar", false},
		{"legacy torch tar", legacy, "", false},
		{"tar.gz", tarBytes(t, true, member{name: "a", body: "1"}), "tar.gz", false},
		{"gzip of text", gzText.Bytes(), "", true},
		{"xz", []byte("\xfd7zXZ\x00\x00"), "", true},
		{"json", []byte(`{"a": 1}`), "", false},
		{"empty", nil, "", false},
		{"pickle", []byte("\x80\x02}q\x00."), "", false},
	}
	for _, tc := range cases {
		p := filepath.Join(t.TempDir(), "named.zip") // the name must not matter
		os.WriteFile(p, tc.data, 0o600)
		kind, err := DetectArchive(p)
		if kind != tc.kind || (err != nil) != tc.err {
			t.Errorf("%s: %q %v", tc.name, kind, err)
		}
	}
}

// TestArchiveLinkNotFollowed (issue 9, item 8): DetectArchive and Extract
// read the archive a caller wrote into its private folder; a symbolic link
// there (to an archive or file someone else chose) is refused, not followed.
func TestArchiveLinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "secret.zip")
	if err := os.WriteFile(target, zipBytes(t, member{name: "a/shadow", body: "root:x:secret"}), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "download")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if kind, err := DetectArchive(link); err == nil {
		t.Errorf("DetectArchive followed the link: %q", kind)
	}
	dest := filepath.Join(dir, "dest")
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	if x, err := Extract(context.Background(), link, "zip", dest, Limits{}); err == nil {
		t.Errorf("Extract followed the link: %+v", x)
	}
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Errorf("extracted through a link: %v", ents)
	}
}
