package sevenzip

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// FuzzScan: Scan never panics, stays within small limits, fails only with
// errors that wrap scan.ErrUnscannable, and every finding names a member.
func FuzzScan(f *testing.F) {
	for _, seed := range [][]byte{plain7z, stored7z, enc7z, enc27z, link7z, dotdot7z, abs7z, nested7z, encoded(f, stored7z), withFiles(1 << 20)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _ := newContext(t)
		c.Limits.MaxMemberSize = 1 << 20
		c.Limits.MaxHeaderSize = 64 << 10
		c.Limits.MaxMembers = 1000
		var fs scan.Findings
		err := Scan(context.Background(), c, bytes.NewReader(data), int64(len(data)), &fs)
		if err != nil && !errors.Is(err, scan.ErrUnscannable) {
			t.Fatalf("error %v does not wrap ErrUnscannable", err)
		}
		for _, f := range fs {
			if f.Member == "" && f.Rule != "test/payload" {
				t.Fatalf("finding without a member: %v", f)
			}
		}
	})
}

// FuzzHeader builds archives with valid CRCs around a fuzzed header, so
// that the header check and the library behind it see arbitrary headers:
// neither may panic or allocate for counts the header only claims.
func FuzzHeader(f *testing.F) {
	for _, arc := range [][]byte{stored7z, plain7z, link7z, withFiles(3), encoded(f, stored7z)} {
		data, hdr := split(arc)
		f.Add(data, hdr)
	}
	f.Fuzz(func(t *testing.T, data, hdr []byte) {
		arc := build(data, hdr)
		c, _ := newContext(t)
		c.Limits.MaxMemberSize = 1 << 20
		c.Limits.MaxHeaderSize = 64 << 10
		c.Limits.MaxMembers = 1000
		var fs scan.Findings
		err := Scan(context.Background(), c, bytes.NewReader(arc), int64(len(arc)), &fs)
		if err != nil && !errors.Is(err, scan.ErrUnscannable) {
			t.Fatalf("error %v does not wrap ErrUnscannable", err)
		}
	})
}
