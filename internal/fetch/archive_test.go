package fetch

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// member is one archive entry for the builders below.
type member struct {
	name  string
	body  string
	mode  fs.FileMode // zip: SetMode when non-zero
	flag  byte        // tar: type flag (0: regular, or folder for names ending in "/")
	link  string      // tar: link target
	store bool        // zip: stored, not deflated
}

func zipBytes(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate}
		if m.mode != 0 {
			h.SetMode(m.mode)
		}
		if m.store || len(m.name) > 0 && m.name[len(m.name)-1] == '/' {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(m.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarBytes(t testing.TB, gz bool, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	tw := tar.NewWriter(&buf)
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	}
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Typeflag: m.flag, Mode: 0o644, Size: int64(len(m.body)), Linkname: m.link}
		switch {
		case h.Typeflag == 0 && len(m.name) > 0 && m.name[len(m.name)-1] == '/':
			h.Typeflag = tar.TypeDir
		case h.Typeflag == 0:
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			h = &tar.Header{Name: m.name, Typeflag: m.flag, PAXRecords: map[string]string{"comment": "git"}}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if gz {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// workspace is a parent folder holding the archive, an empty private dest
// and a sentinel file beside dest that extraction must never touch.
type workspace struct {
	parent, archive, dest, sentinel string
}

const sentinelText = "sentinel: must stay as it is"

func newWorkspace(t testing.TB, data []byte) workspace {
	t.Helper()
	return workspaceIn(t, t.TempDir(), data)
}

// workspaceIn builds the workspace in p, which must be empty or missing.
func workspaceIn(t testing.TB, p string, data []byte) workspace {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	w := workspace{parent: p, archive: filepath.Join(p, "archive"), dest: filepath.Join(p, "dest"), sentinel: filepath.Join(p, "x")}
	if err := os.WriteFile(w.archive, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(w.dest, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.sentinel, []byte(sentinelText), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// check verifies that nothing outside dest changed and that dest holds
// only regular files and folders; on failure dest must be empty.
func (w workspace) check(t testing.TB, failed bool) {
	t.Helper()
	if b, err := os.ReadFile(w.sentinel); err != nil || string(b) != sentinelText {
		t.Fatalf("sentinel beside dest changed: %q %v", b, err)
	}
	names, err := os.ReadDir(w.parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 3 {
		t.Fatalf("parent of dest holds %d entries, want 3 (archive, dest, sentinel)", len(names))
	}
	if failed {
		assertEmpty(t, w.dest)
		return
	}
	err = filepath.WalkDir(w.dest, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			t.Errorf("%s: type %v written", p, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// zerosDeflate returns a raw deflate stream of n MiB of zeros, built by
// repeating one flushed 1 MiB block (valid: each copy's back references
// only reach zeros), and its CRC-32.
func zerosDeflate(t testing.TB, mib int) ([]byte, uint32) {
	t.Helper()
	var one bytes.Buffer
	fw, _ := flate.NewWriter(&one, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	fw.Write(zeros)
	fw.Flush()
	var end bytes.Buffer
	fe, _ := flate.NewWriter(&end, flate.BestCompression)
	fe.Close()
	out := append(bytes.Repeat(one.Bytes(), mib), end.Bytes()...)
	crc := uint32(0)
	for range mib {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	return out, crc
}

// rawZip writes entries with given compressed data and declared sizes.
func rawZip(t testing.TB, entries ...rawEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Deflate, CRC32: e.crc,
			CompressedSize64: uint64(len(e.data)), UncompressedSize64: e.declared})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	zw.Close()
	return buf.Bytes()
}

type rawEntry struct {
	name     string
	data     []byte
	crc      uint32
	declared uint64
}

// tarGzZeros builds a tar.gz of one file of mib MiB of zeros without
// compressing them (fast under the race detector).
func tarGzZeros(t testing.TB, mib int) []byte {
	t.Helper()
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Size: int64(mib) << 20, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	var d bytes.Buffer
	fw, _ := flate.NewWriter(&d, flate.BestCompression)
	fw.Write(hdr.Bytes())
	fw.Flush()
	zeros, _ := zerosDeflate(t, mib+1) // the data, then the end-of-archive blocks
	out := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}
	out = append(append(out, d.Bytes()...), zeros...)
	crc := crc32.Update(0, crc32.IEEETable, hdr.Bytes())
	mb := make([]byte, 1<<20)
	for range mib + 1 {
		crc = crc32.Update(crc, crc32.IEEETable, mb)
	}
	out = binary.LittleEndian.AppendUint32(out, crc)
	return binary.LittleEndian.AppendUint32(out, uint32(hdr.Len()+(mib+1)<<20))
}
