package walk

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// FuzzBytes: the dispatcher (the loaders' order: zip, 7z, npy, safetensors,
// then the first pickle, a tar, a zip found from the end, a config, text)
// never panics, always gives a verdict, and calls clean only a file without
// findings above info.
func FuzzBytes(f *testing.F) {
	for _, s := range []string{"cposix\nsystem\n(S'x'\ntR.\ntail", "\x80\x02}q\x00.tail", "L119547037146038801333356L\n.", "{\"a\": 1}", "c\nx\n"} {
		f.Add([]byte(s))
	}
	for _, g := range []string{"../testdata/issue16/*/*", "../testdata/corpus/*/*"} {
		paths, _ := filepath.Glob(g)
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	pol, _ := scan.NewPolicy(scan.ProfileCoqui, nil)
	lim := scan.DefaultLimits
	lim.MaxPickleOps = 1 << 20
	lim.MaxMemberSize = 1 << 20
	s := &Scanner{Policy: pol, Limits: lim}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := s.Bytes(context.Background(), "x", data)
		switch fr.Verdict {
		case Clean:
			if hasRisk(fr.Findings) {
				t.Fatalf("clean with findings %v", fr.Findings)
			}
		case Unsafe, Unscannable:
		default:
			t.Fatalf("verdict %q (%s)", fr.Verdict, fr.Unscannable)
		}
	})
}
