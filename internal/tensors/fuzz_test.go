package tensors

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// FuzzRead: any bytes either fail to read, or give tensors whose elements
// (those without a Problem) stream to exactly their count without reading
// outside the data.
func FuzzRead(f *testing.F) {
	paths, _ := filepath.Glob("testdata/ckpt/*-old-*.pth")
	more, _ := filepath.Glob("testdata/ckpt/*-old.safetensors")
	paths = append(paths, "testdata/ckpt/legacy-tar.pth")
	for _, p := range append(paths, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	lim := scan.DefaultLimits
	lim.MaxPickleOps, lim.MaxTreeItems, lim.MaxMemberSize, lim.MaxHeaderSize = 1<<16, 1<<12, 1<<20, 1<<16
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Read(context.Background(), bytes.NewReader(data), int64(len(data)), lim)
		if err != nil {
			return
		}
		buf := make([]byte, 64)
		for _, tt := range c.Tensors {
			if tt.Problem != "" {
				continue
			}
			if tt.Bytes > int64(len(data)) && tt.st.open == nil && tt.Stride == nil {
				t.Fatalf("%s: %d bytes in a file of %d", tt.Name, tt.Bytes, len(data))
			}
			e, err := c.Elements(tt)
			if err != nil {
				continue // a compressed record that does not inflate
			}
			var n int64
			for n <= tt.Params {
				b, err := e.Next(buf)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", tt.Name, err)
				}
				n += int64(len(b)) / tt.DType.Size()
				if tt.Params > 1<<16 { // strided views of a small file can still be long: enough
					break
				}
			}
			if n != tt.Params && tt.Params <= 1<<16 {
				t.Fatalf("%s: %d elements streamed, %d declared", tt.Name, n, tt.Params)
			}
		}
	})
}
