package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// DetectArchive tells from the content of the file at path (never its name)
// how to unpack it: "zip", "tar", "tar.gz", or "" for a single file.
//
// A PyTorch checkpoint is a single file even though it is a zip (one folder
// holding data.pkl) or, for very old ones, a tar (with "pickle" and
// "storages" members): DetectArchive returns "" for those. A gzip stream that
// does not hold a tar, and bzip2, xz and zstd streams, are errors
// (ErrNotArchive): they are neither a model file nor an archive Extract can
// open.
//
// A symbolic link at path is not followed (an error): the file is meant to be
// one a caller wrote itself into a private folder.
func DetectArchive(path string) (kind string, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return "", fmt.Errorf("fetch: detect %q: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("fetch: detect %q: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("fetch: detect %q: not a regular file", path)
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return "", fmt.Errorf("fetch: detect %q: %w", path, err)
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		if isTorchZip(f, fi.Size()) {
			return "", nil
		}
		return "zip", nil
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(io.NewSectionReader(f, 0, fi.Size()))
		if err == nil {
			inner := make([]byte, 512)
			m, _ := io.ReadFull(zr, inner)
			if isTarHeader(inner[:m]) {
				return "tar.gz", nil
			}
		}
		return "", fmt.Errorf("fetch: detect %q: %w: gzip stream without a tar inside", path, ErrNotArchive)
	case isTarHeader(head):
		if isTorchTar(f) {
			return "", nil
		}
		return "tar", nil
	case bytes.HasPrefix(head, []byte("BZh")), bytes.HasPrefix(head, []byte("\xfd7zXZ\x00")),
		bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "", fmt.Errorf("fetch: detect %q: %w: bzip2, xz or zstd stream", path, ErrNotArchive)
	}
	return "", nil
}

// isTarHeader checks the ustar magic and the header checksum.
func isTarHeader(b []byte) bool {
	if len(b) < 512 || !bytes.Equal(b[257:262], []byte("ustar")) {
		return false
	}
	field := strings.TrimRight(strings.TrimSpace(string(bytes.TrimRight(b[148:156], "\x00 "))), "\x00")
	want, err := strconv.ParseInt(field, 8, 64)
	if err != nil {
		return false
	}
	var sum int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	return sum == want
}

// isTorchZip: every entry in one folder that holds data.pkl.
func isTorchZip(r io.ReaderAt, size int64) bool {
	zr, err := openZip(r, size, DefaultMaxEntries)
	if err != nil || len(zr.File) == 0 {
		return false
	}
	top, _, _ := strings.Cut(zr.File[0].Name, "/")
	found := false
	for _, zf := range zr.File {
		rest, ok := strings.CutPrefix(zf.Name, top+"/")
		if !ok {
			return false
		}
		found = found || rest == "data.pkl"
	}
	return found
}

// isTorchTar: a legacy torch.save tar ("sys_info", "pickle", "storages",
// "tensors" at the top), judged from its first entries.
func isTorchTar(f *os.File) bool {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	tr := tar.NewReader(f)
	seen := map[string]bool{}
	for range 8 {
		hdr, err := tr.Next()
		if err != nil {
			break
		}
		seen[hdr.Name] = true
	}
	return seen["pickle"] && seen["storages"]
}
