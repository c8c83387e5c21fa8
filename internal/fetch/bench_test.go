package fetch

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkGet downloads 256 MiB from a loopback TLS server (report: MB/s;
// compare with `curl -o FILE` of the same URL, see docs/BENCHMARKS.md).
func BenchmarkGet(b *testing.B) {
	body := randomBytes(b, 256<<20)
	srv := tlsServer(b, serve(body))
	url := srv.URL + "/model.pth"
	b.Run("fetch", func(b *testing.B) {
		c := newClient(b, allow(srv), Options{}, srv)
		dir := b.TempDir()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			d, err := c.Get(context.Background(), url, dir)
			if err != nil {
				b.Fatal(err)
			}
			os.Remove(d.Path)
		}
	})
	// baseline: what curl -o does, with net/http: no checks, no hash, no fsync
	b.Run("baseline", func(b *testing.B) {
		hc := newClient(b, allow(srv), Options{}, srv).hc
		dir := b.TempDir()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			resp, err := hc.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			f, err := os.Create(filepath.Join(dir, "f"))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			f.Close()
		}
	})
}

// BenchmarkExtractZip extracts a 64 MiB stored entry and a 64 MiB deflated
// one (random bytes: the deflate path at its slowest).
func BenchmarkExtractZip(b *testing.B) {
	rnd := string(randomBytes(b, 64<<20))
	for _, store := range []bool{true, false} {
		name := "deflate"
		if store {
			name = "store"
		}
		data := zipBytes(b, member{name: "top/model.pth", body: rnd, store: store})
		b.Run(name, func(b *testing.B) {
			p := b.TempDir() + "/a.zip"
			if err := os.WriteFile(p, data, 0o600); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(rnd)))
			for b.Loop() {
				b.StopTimer()
				dest := b.TempDir()
				os.Chmod(dest, 0o700)
				b.StartTimer()
				if _, err := Extract(context.Background(), p, "zip", dest, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
