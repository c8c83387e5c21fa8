package pickle

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// FuzzScan: the decoder never panics, fails only with ErrUnscannable, and
// never reads past the data it was given; a stream it accepts ends inside it.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.", "cos\nsystem\n(S'ls'\ntR.",
		"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94.", "\x80\x05\x97.",
		"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.",
	} {
		f.Add([]byte(s))
	}
	paths, _ := filepath.Glob("../testdata/corpus/*/*")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	lim := scan.DefaultLimits
	lim.MaxPickleOps = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &scan.Context{Policy: pol, Limits: lim}
		for _, opt := range []Options{{Stacked: true}, {Torch: true, KeepStrList: true}, {Plain: true}} {
			var fs scan.Findings
			res, err := Scan(context.Background(), c, data, &fs, opt)
			if err != nil && !errors.Is(err, scan.ErrUnscannable) {
				t.Fatalf("error not wrapping ErrUnscannable: %v", err)
			}
			if res.End > int64(len(data)) {
				t.Fatalf("end %d past the data (%d bytes)", res.End, len(data))
			}
			for _, f := range fs {
				if f.Offset < 0 || f.Offset >= int64(len(data)) {
					t.Fatalf("finding offset %d outside the data: %v", f.Offset, f)
				}
			}
		}
	})
}

// plainPickle is a large protocol-2 list of floats, ints and short strings:
// the shape of plain data, no globals.
func plainPickle(n int) []byte {
	var b bytes.Buffer
	b.WriteString("\x80\x02]q\x00(")
	var f [8]byte
	for i := 0; i < n; i++ {
		b.WriteByte('G')
		binary.BigEndian.PutUint64(f[:], uint64(i))
		b.Write(f[:])
		b.WriteString("J")
		binary.LittleEndian.PutUint32(f[:4], uint32(i))
		b.Write(f[:4])
		b.WriteString("X\x05\x00\x00\x00hello")
		if i%1000 == 999 {
			b.WriteString("e(")
		}
	}
	b.WriteString("e.")
	return b.Bytes()
}

// BenchmarkScanPlain measures decoding speed on plain data (goal ≥ 200 MB/s).
func BenchmarkScanPlain(b *testing.B) {
	data := plainPickle(1 << 20) // about 24 MB
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	c := &scan.Context{Policy: pol, Limits: scan.DefaultLimits}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var fs scan.Findings
		if _, err := Scan(context.Background(), c, data, &fs, Options{}); err != nil || len(fs) != 0 {
			b.Fatal(err, fs)
		}
	}
}
