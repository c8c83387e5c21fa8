package torch

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// makeZip writes stored members in order.
func makeZip(t testing.TB, members ...[2]string) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, m := range members {
		f, err := w.CreateHeader(&zip.FileHeader{Name: m[0], Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(m[1]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func ctxFor(t testing.TB) *scan.Context {
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &scan.Context{Policy: pol, Limits: scan.DefaultLimits}
}

func rules(fs scan.Findings) string {
	var r []string
	for _, f := range fs {
		r = append(r, f.Rule)
	}
	return strings.Join(r, ",")
}

// A minimal checkpoint: {'w': _rebuild_tensor_v2(storage('0', FloatStorage, 4 elements), 0, (2,), (1,), False, OrderedDict())}.
func checkpointPickle(numel, offset, size byte) string {
	return "\x80\x02}q\x00X\x01\x00\x00\x00wq\x01ctorch._utils\n_rebuild_tensor_v2\nq\x02((X\x07\x00\x00\x00storageq\x03ctorch\nFloatStorage\nq\x04X\x01\x00\x00\x000q\x05X\x03\x00\x00\x00cpuq\x06K" + string(rune(numel)) + "tq\x07QK" + string(rune(offset)) + "K" + string(rune(size)) + "\x85q\x08K\x01\x85q\x09\x89ccollections\nOrderedDict\nq\x0a)Rq\x0btq\x0cRq\x0ds."
}

func TestCheckpointBounds(t *testing.T) {
	cases := []struct {
		name      string
		numel     byte
		offset    byte
		size      byte
		dataBytes int
		want      string
	}{
		{"ok", 4, 0, 2, 16, ""},
		{"tensor past storage", 4, 3, 2, 16, "torch/tensor-bounds"},
		{"storage past record", 8, 0, 2, 16, "torch/storage-bounds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := makeZip(t, [2]string{"archive/data.pkl", checkpointPickle(c.numel, c.offset, c.size)},
				[2]string{"archive/data/0", strings.Repeat("\x00", c.dataBytes)}, [2]string{"archive/version", "3\n"})
			var fs scan.Findings
			if err := ScanZip(context.Background(), ctxFor(t), bytes.NewReader(z), int64(len(z)), &fs); err != nil {
				t.Fatal(err)
			}
			if rules(fs) != c.want {
				t.Fatalf("findings %v, want %q", fs, c.want)
			}
		})
	}
}

func TestZipAnomalies(t *testing.T) {
	good := makeZip(t, [2]string{"archive/data.pkl", "\x80\x02}q\x00."}, [2]string{"archive/version", "3\n"})
	t.Run("prefix", func(t *testing.T) {
		z := append([]byte("#!/bin/sh\nexit 0\n"), good...)
		var fs scan.Findings
		// Offsets in the directory are not shifted: the reader must still find entries
		// via the recorded offsets, which now point 17 bytes early: unscannable or prefix.
		err := ScanZip(context.Background(), ctxFor(t), bytes.NewReader(z), int64(len(z)), &fs)
		if err == nil && !strings.Contains(rules(fs), "zip/") {
			t.Fatalf("no finding: %v", fs)
		}
	})
	t.Run("crc", func(t *testing.T) {
		z := bytes.Clone(good)
		i := bytes.Index(z, []byte("\x80\x02}q\x00."))
		z[i+2] = ']'
		var fs scan.Findings
		if err := ScanZip(context.Background(), ctxFor(t), bytes.NewReader(z), int64(len(z)), &fs); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rules(fs), "zip/crc") {
			t.Fatalf("findings %v", fs)
		}
	})
	t.Run("name mismatch", func(t *testing.T) {
		z := bytes.Clone(good)
		i := bytes.Index(z, []byte("archive/version")) // first occurrence: the local header
		copy(z[i:], "archive/versioX")
		var fs scan.Findings
		ScanZip(context.Background(), ctxFor(t), bytes.NewReader(z), int64(len(z)), &fs)
		if !strings.Contains(rules(fs), "zip/name-mismatch") {
			t.Fatalf("findings %v", fs)
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		z := makeZip(t, [2]string{"archive/data.pkl", "\x80\x02}q\x00."}, [2]string{"archive/data.pkl", "cos\nsystem\n."})
		var fs scan.Findings
		ScanZip(context.Background(), ctxFor(t), bytes.NewReader(z), int64(len(z)), &fs)
		if !strings.Contains(rules(fs), "zip/duplicate-name") || !strings.Contains(rules(fs), "pickle/global-not-allowed") {
			t.Fatalf("findings %v", fs)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		var fs scan.Findings
		err := ScanZip(context.Background(), ctxFor(t), bytes.NewReader(good[:40]), 40, &fs)
		if !errors.Is(err, scan.ErrUnscannable) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestTorchScriptAndMembers(t *testing.T) {
	z := makeZip(t, [2]string{"archive/data.pkl", "\x80\x02}q\x00."}, [2]string{"archive/code/__torch__.py", "def f(): pass"},
		[2]string{"archive/extra.txt", "cos\nsystem\n(S'id'\ntR."})
	var fs scan.Findings
	c := ctxFor(t)
	var examined []string
	c.Examine = func(ctx context.Context, member string, r io.ReaderAt, size int64, sink scan.Sink) error {
		examined = append(examined, member)
		return nil
	}
	err := ScanZip(context.Background(), c, bytes.NewReader(z), int64(len(z)), &fs)
	if err != nil || !strings.Contains(rules(fs), "torch/torchscript") {
		t.Fatalf("%v %v", err, fs)
	}
	// Every member that is not a known record is examined by content.
	if strings.Join(examined, ",") != "archive/code/__torch__.py,archive/extra.txt" {
		t.Fatalf("examined %q", examined)
	}
}

// FuzzZip: the zip reader and checkpoint scanner never panic and fail only
// with ErrUnscannable.
func FuzzZip(f *testing.F) {
	f.Add(makeZip(f, [2]string{"archive/data.pkl", checkpointPickle(4, 0, 2)}, [2]string{"archive/data/0", strings.Repeat("\x00", 16)}))
	f.Add(makeZip(f, [2]string{"a.npy", "\x93NUMPY"}))
	paths, _ := filepath.Glob("../testdata/corpus/*/*")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 256<<10 && bytes.HasPrefix(b, []byte("PK")) {
			f.Add(b)
		}
	}
	c := ctxFor(f)
	c.Limits.MaxMemberSize = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		var fs scan.Findings
		err := ScanZip(context.Background(), c, bytes.NewReader(data), int64(len(data)), &fs)
		if err != nil && !errors.Is(err, scan.ErrUnscannable) {
			t.Fatalf("error not wrapping ErrUnscannable: %v", err)
		}
	})
}
