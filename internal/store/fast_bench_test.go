package store

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkVerifyVersion re-checks an unchanged stored model through the
// fast path (the stat record) and through a full re-hash, in the same run.
// The model is one weights file of TTSGUARD_BENCH_VERIFY_BYTES bytes
// (default 256 MiB; docs/BENCHMARKS.md has 4 GiB) and a config. As root only
// (the record counts in a root-owned store).
func BenchmarkVerifyVersion(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("the stat record counts only in a root-owned store: run as root")
	}
	size := benchBytes(b, "TTSGUARD_BENCH_VERIFY_BYTES")
	s := openStore(b)
	dir, root := benchModel(b, size)
	v, err := s.Commit(context.Background(), "bench", dir, root, Provenance{})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		fast bool
	}{{"fast", true}, {"full", false}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				vr, err := s.VerifyVersion(context.Background(), v, c.fast)
				if err != nil || vr.Fast != c.fast || !vr.Diff.Empty() {
					b.Fatalf("fast=%v: %+v %v", c.fast, vr, err)
				}
			}
		})
	}
}

// benchBytes is the size of a benchmark's model: env's value, else 256 MiB.
func benchBytes(b *testing.B, env string) int64 {
	size := int64(256 << 20)
	if s := os.Getenv(env); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number of bytes", env, s)
		}
		size = n
	}
	return size
}

// benchModel writes a model folder of one weights file of size bytes (a
// random 1 MiB block repeated) and a config, and returns it and its root.
func benchModel(b *testing.B, size int64) (dir, root string) {
	dir = b.TempDir()
	if err := writeFiles(dir, map[string]string{"config.json": `{"model": "vits"}`}); err != nil {
		b.Fatal(err)
	}
	block := make([]byte, 1<<20)
	rand.Read(block)
	f, err := os.Create(filepath.Join(dir, "model.pth"))
	if err != nil {
		b.Fatal(err)
	}
	for left := size; left > 0; left -= int64(len(block)) {
		if _, err := f.Write(block[:min(left, int64(len(block)))]); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	root, err = rootOfFiles(dir)
	if err != nil {
		b.Fatal(err)
	}
	return dir, root
}
