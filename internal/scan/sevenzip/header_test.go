package sevenzip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/ulikunitz/xz/lzma"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// num7z encodes v as a 7z number.
func num7z(v uint64) []byte {
	for l := 0; l < 8; l++ {
		if v < 1<<(7*(l+1)) {
			first := byte(0xff<<(8-l)) | byte(v>>(8*l))
			return append([]byte{first}, binary.LittleEndian.AppendUint64(nil, v)[:l]...)
		}
	}
	return append([]byte{0xff}, binary.LittleEndian.AppendUint64(nil, v)...)
}

// split returns the packed data and the header of an archive.
func split(arc []byte) (data, hdr []byte) {
	off := binary.LittleEndian.Uint64(arc[12:20])
	n := binary.LittleEndian.Uint64(arc[20:28])
	return arc[32 : 32+off], arc[32+off : 32+off+n]
}

// build makes an archive of packed data and a header, with valid CRCs.
func build(data, hdr []byte) []byte {
	out := append([]byte("7z\xbc\xaf\x27\x1c\x00\x04"), make([]byte, 24)...)
	binary.LittleEndian.PutUint64(out[12:], uint64(len(data)))
	binary.LittleEndian.PutUint64(out[20:], uint64(len(hdr)))
	binary.LittleEndian.PutUint32(out[28:], crc32.ChecksumIEEE(hdr))
	binary.LittleEndian.PutUint32(out[8:], crc32.ChecksumIEEE(out[12:32]))
	return append(append(out, data...), hdr...)
}

// encoded rewrites an archive with a plain header into one whose header is
// LZMA-compressed after the packed data, as 7-Zip writes it.
func encoded(t testing.TB, arc []byte) []byte {
	data, hdr := split(arc)
	var buf bytes.Buffer
	w, err := lzma.WriterConfig{SizeInHeader: true, Size: int64(len(hdr)), DictCap: 1 << 16}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(hdr)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	props, packed := buf.Bytes()[:5], buf.Bytes()[13:]
	var s []byte
	s = append(s, idEncodedHeader, idPackInfo)
	s = append(s, num7z(uint64(len(data)))...)
	s = append(s, 1, idSize)
	s = append(s, num7z(uint64(len(packed)))...)
	s = append(s, idEnd, idUnpackInfo, idFolder, 1, 0, 1, 0x23, 3, 1, 1, 5)
	s = append(s, props...)
	s = append(s, idCodersUnpack)
	s = append(s, num7z(uint64(len(hdr)))...)
	s = append(s, idEnd, idEnd)
	return build(append(bytes.Clone(data), packed...), s)
}

// withFiles rewrites the file count of stored7z's plain header.
func withFiles(n uint64) []byte {
	data, hdr := split(stored7z)
	i := bytes.Index(hdr, []byte{idFilesInfo, 0x01, 0x11})
	h := append(append(bytes.Clone(hdr[:i+1]), num7z(n)...), hdr[i+2:]...)
	return build(data, h)
}

// withFolders rewrites the folder count of stored7z's plain header.
func withFolders(n uint64) []byte {
	data, hdr := split(stored7z)
	i := bytes.Index(hdr, []byte{idUnpackInfo, idFolder, 0x01})
	h := append(append(bytes.Clone(hdr[:i+2]), num7z(n)...), hdr[i+3:]...)
	return build(data, h)
}

func TestPrecheck(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		members string // examined members; "" when unscannable
		err     string // part of the error
	}{
		{name: "rebuilt stored", data: build(split(stored7z)), members: "data.pkl:21"},
		{name: "lzma-encoded header", data: encoded(t, stored7z), members: "data.pkl:21"},
		{name: "file count bomb", data: withFiles(1<<32 - 1), err: "4294967295 files"},
		{name: "file count bomb, encoded header", data: encoded(t, withFiles(1<<32-1)), err: "4294967295 files"},
		{name: "folder count bomb", data: withFolders(1 << 31), err: "2147483648 folders"},
		{name: "truncated header", data: func() []byte { d, h := split(stored7z); return build(d, h[:20]) }(), err: "truncated"},
		{name: "unknown property", data: build(nil, []byte{idHeader, 0x42}), err: "0x42"},
		{name: "not a header", data: build(nil, []byte{0x33}), err: "0x33"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newContext(t)
			var fs scan.Findings
			err := Scan(context.Background(), c, bytes.NewReader(tt.data), int64(len(tt.data)), &fs)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(rec.members, ","); got != tt.members {
					t.Fatalf("members %q, want %q", got, tt.members)
				}
				return
			}
			if !errors.Is(err, scan.ErrUnscannable) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want unscannable with %q", err, tt.err)
			}
		})
	}
}

func TestNum7z(t *testing.T) {
	for _, v := range []uint64{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 1 << 40, 1<<56 - 1, 1 << 56, 1<<64 - 1} {
		h := &hdrReader{b: num7z(v)}
		got, err := h.num()
		if err != nil || got != v || h.pos != len(h.b) {
			t.Errorf("num7z(%d) = %x reads back as %d, %v", v, h.b, got, err)
		}
	}
}
