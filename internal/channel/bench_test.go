package channel

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRefresh: the TUF client workflow against a loopback TLS channel
// holding 200 published versions (one model, 199 older): a host with a
// warm cache (nothing new) and a host starting from the pinned root.
func BenchmarkRefresh(b *testing.B) {
	f := newFixture(b, 1)
	root := rootOf(b, version(1))
	for i := range 200 {
		d := Descriptor{Name: "vits", Version: fmt.Sprintf("%d.0", i), Source: f.srv.URL + "/dl/x.zip", RootDigest: root}
		if _, err := Publish(f.dir, d, f.onlineKeys(), nil, f.now); err != nil {
			b.Fatal(err)
		}
	}
	ch := f.pol.Channels[0]
	b.Run("warm", func(b *testing.B) {
		c := &Client{Channel: ch, Cache: filepath.Join(b.TempDir(), "c"), TLS: f.tls}
		if _, err := c.Refresh(context.Background()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			st, err := c.Refresh(context.Background())
			if err != nil || st.Models[0].Version != "199.0" {
				b.Fatal(err)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			c := &Client{Channel: ch, Cache: filepath.Join(b.TempDir(), "c"), TLS: f.tls, Now: time.Now()}
			if _, err := c.Refresh(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
