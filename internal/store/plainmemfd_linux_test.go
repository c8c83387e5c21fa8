package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestPlainMemfds: every file of an encrypted version comes back in a
// sealed memfd, sorted by path, holding its plaintext; a blob that is a
// valid age file of other bytes is corrupt; without an identity it is an
// error; and no descriptor is left open on an error.
func TestPlainMemfds(t *testing.T) {
	k, fleet, _ := testKeys(t)
	s := openEncrypted(t, openStore(t).Root, k)
	v := commitVariant(t, s, "tts_models/en/x/m", "a")
	ctx := context.Background()
	files, err := s.PlainMemfds(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	want := variant("a")
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
		got, _ := io.ReadAll(f.File)
		if w, ok := want[f.Path]; ok && (string(got) != w || f.Size != int64(len(w))) {
			t.Errorf("%s: %d bytes, not its plaintext", f.Path, len(got))
		}
		seals, err := unix.FcntlInt(f.File.Fd(), unix.F_GET_SEALS, 0)
		if need := unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL; err != nil || seals&need != need {
			t.Errorf("%s: seals %#x %v", f.Path, seals, err)
		}
		if !strings.HasPrefix(f.File.Name(), "memfd:") {
			t.Errorf("%s: %s is not a memfd", f.Path, f.File.Name())
		}
		f.File.Close()
	}
	if strings.Join(paths, " ") != "config.json model_file.pth shared.bin sub/speakers.json" {
		t.Errorf("files %v", paths)
	}

	before := openFDs(t)
	if _, err := (&Store{Root: s.Root}).PlainMemfds(ctx, v); err == nil {
		t.Error("no identity: no error")
	}
	// A blob replaced by an age file of other bytes (for the same
	// recipient): it decrypts, and does not match the metadata.
	m, err := s.Meta(v)
	if err != nil {
		t.Fatal(err)
	}
	var last MetaFile
	for _, f := range m.Files {
		if f.Path == "sub/speakers.json" {
			last = f
		}
	}
	var evil bytes.Buffer
	w, err := age.Encrypt(&evil, fleet.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, `{"p1":1}`)
	w.Close()
	bp := s.blobPath(last.SHA256)
	os.Chmod(bp, 0o644)
	if err := os.WriteFile(bp, evil.Bytes(), 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlainMemfds(ctx, v); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "sub/speakers.json") {
		t.Errorf("a blob of other bytes: %v", err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the errors, %d before", after, before)
	}
	if !crypt.IsAge(evil.Bytes()) {
		t.Fatal("not an age file")
	}
}

// BenchmarkPlainMemfds is what `run` of a model encrypted at rest adds to
// its start: every file decrypted into a sealed memfd and hashed against
// the metadata. The model is one weights file of
// TTSGUARD_BENCH_PLAIN_BYTES bytes (default 256 MiB) and a config;
// verify-full, in the same run, is the full re-check of the same version.
func BenchmarkPlainMemfds(b *testing.B) {
	size := benchBytes(b, "TTSGUARD_BENCH_PLAIN_BYTES")
	k, _, _ := testKeys(b)
	s := openEncrypted(b, openStore(b).Root, k)
	dir, root := benchModel(b, size)
	v, err := s.Commit(context.Background(), "bench", dir, root, Provenance{})
	if err != nil {
		b.Fatal(err)
	}
	// In the same run: the full re-check of the encrypted version
	// (decrypting and hashing in a stream, nothing kept), for scale.
	b.Run("memfds", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			files, err := s.PlainMemfds(context.Background(), v)
			if err != nil || len(files) != 2 {
				b.Fatalf("%d files, %v", len(files), err)
			}
			for _, f := range files {
				f.File.Close()
			}
		}
	})
	b.Run("verify-full", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if vr, err := s.VerifyVersion(context.Background(), v, false); err != nil || !vr.Diff.Empty() {
				b.Fatalf("%+v %v", vr, err)
			}
		}
	})
}
