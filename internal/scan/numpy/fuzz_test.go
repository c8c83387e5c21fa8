package numpy

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// FuzzScanNpy: ScanNpy never panics, stays within small limits, fails only
// with errors that wrap scan.ErrUnscannable, reports offsets inside the
// file, and never accepts an object array without saying so.
func FuzzScanNpy(f *testing.F) {
	for _, seed := range [][]byte{
		npyFile(1, float6Hdr, float6Body),
		npyFile(1, float6Hdr, float6Body+"extra"),
		npyFile(2, objectHdr, statsPickle),
		npyFile(3, objectHdr, osSystem),
		npyFile(1, "{'descr': [('a', '<f4'), ('o', '|O')], 'fortran_order': False, 'shape': (1,), }", osSystem),
	} {
		f.Add(seed)
	}
	base := testContext(f)
	base.Limits.MaxHeaderSize = 4 << 10
	base.Limits.MaxMemberSize = 64 << 10
	base.Limits.MaxPickleOps = 100_000
	base.Limits.MaxStack = 10_000
	base.Limits.MaxMemo = 10_000
	base.Limits.MaxMemoReads = 100_000
	f.Fuzz(func(t *testing.T, data []byte) {
		c := *base
		var fs scan.Findings
		err := ScanNpy(context.Background(), &c, bytes.NewReader(data), int64(len(data)), &fs)
		if err != nil && !errors.Is(err, scan.ErrUnscannable) {
			t.Fatalf("error %v does not wrap ErrUnscannable", err)
		}
		for _, f := range fs {
			if f.Offset < 0 || f.Offset > int64(len(data)) {
				t.Fatalf("finding offset %d outside the file of %d bytes: %v", f.Offset, len(data), f)
			}
		}
		if err == nil {
			h, herr := ReadHeader(bytes.NewReader(data), int64(len(data)), c.Limits.MaxHeaderSize, &scan.Findings{})
			if herr != nil {
				t.Fatalf("ScanNpy accepted a header ReadHeader refuses: %v", herr)
			}
			if h.Object && (len(fs) == 0 || fs[0].Rule != RuleObjectArray) {
				t.Fatalf("object array accepted without the object-array finding: %v", fs)
			}
		}
	})
}
