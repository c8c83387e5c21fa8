package sevenzip

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/scan"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// recorder is a test examiner: it records each member as "name:size",
// reports a "test/payload" finding for content holding "system", and scans
// nested 7z archives with Scan.
type recorder struct {
	c       *scan.Context
	members []string
}

func (rec *recorder) examine(ctx context.Context, member string, r io.ReaderAt, size int64, sink scan.Sink) error {
	rec.members = append(rec.members, fmt.Sprintf("%s:%d", member, size))
	sink = scan.Prefixed(sink, member)
	b := make([]byte, size)
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return err
	}
	if scan.Detect(r, size) == scan.FormatSevenZip {
		nc, err := rec.c.Nested()
		if err != nil {
			return err
		}
		return Scan(ctx, nc, r, size, sink)
	}
	if bytes.Contains(b, []byte("system")) {
		sink.Add(scan.Finding{Rule: "test/payload", Severity: scan.Critical, Offset: int64(bytes.Index(b, []byte("system")))})
	}
	return nil
}

func newContext(t testing.TB) (*scan.Context, *recorder) {
	pol, err := scan.NewPolicy(scan.ProfileCoqui, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &scan.Context{Policy: pol, Limits: scan.DefaultLimits}
	rec := &recorder{c: c}
	c.Examine = rec.examine
	return c, rec
}

func findingSummary(fs scan.Findings) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s %s %s@%d", f.Rule, f.Severity, f.Member, f.Offset))
	}
	return strings.Join(out, "; ")
}

func TestScan(t *testing.T) {
	corrupt := bytes.Clone(stored7z)
	corrupt[32+5] ^= 0x20 // "cos\nsystem" becomes "cos\nSystem": CRC no longer matches
	tests := []struct {
		name       string
		data       []byte
		unscanable bool
		members    string // examined members
		findings   string
	}{
		{name: "plain", data: plain7z, members: "config.json:8,data.pkl:21,sub/weights.pth:6",
			findings: "test/payload critical data.pkl@4"},
		{name: "stored", data: stored7z, members: "data.pkl:21", findings: "test/payload critical data.pkl@4"},
		{name: "nested", data: nested7z, members: "plain.7z:254,config.json:8,data.pkl:21,sub/weights.pth:6",
			findings: "test/payload critical plain.7z!data.pkl@4"},
		{name: "symlink", data: link7z, members: "data.pkl:21",
			findings: "test/payload critical data.pkl@4; 7z/symlink high link@-1"},
		{name: "dot-dot name", data: dotdot7z, members: "../data.pkl:21",
			findings: "7z/name-escape high ../data.pkl@-1; test/payload critical ../data.pkl@4"},
		{name: "absolute name", data: abs7z, members: "/tmp/7zt/data.pkl:21",
			findings: "7z/absolute-name high /tmp/7zt/data.pkl@-1; test/payload critical /tmp/7zt/data.pkl@4"},
		{name: "crc mismatch", data: corrupt, members: "data.pkl:21", findings: "7z/crc-mismatch medium data.pkl@-1"},
		{name: "encrypted header", data: enc7z, unscanable: true},
		{name: "encrypted data", data: enc27z, unscanable: true},
		{name: "truncated", data: plain7z[:100], unscanable: true},
		{name: "not 7z", data: []byte("7z\xbc\xaf\x27\x1c not really an archive at all"), unscanable: true},
		{name: "short", data: []byte("7z\xbc\xaf\x27\x1c"), unscanable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := newContext(t)
			var fs scan.Findings
			err := Scan(context.Background(), c, bytes.NewReader(tt.data), int64(len(tt.data)), &fs)
			if tt.unscanable != (err != nil) {
				t.Fatalf("err = %v, want unscannable %v (%v)", err, tt.unscanable, fs)
			}
			if err != nil && !errors.Is(err, scan.ErrUnscannable) {
				t.Fatalf("error %v does not wrap ErrUnscannable", err)
			}
			if got := strings.Join(rec.members, ","); got != tt.members {
				t.Errorf("members %q, want %q", got, tt.members)
			}
			if got := findingSummary(fs); got != tt.findings {
				t.Errorf("findings %q, want %q", got, tt.findings)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name  string
		limit func(*scan.Context)
	}{
		{"depth", func(c *scan.Context) { c.Depth = c.Limits.MaxDepth }},
		{"members", func(c *scan.Context) { c.Limits.MaxMembers = 2 }},
		{"member size", func(c *scan.Context) { c.Limits.MaxMemberSize = 10 }},
		{"header size", func(c *scan.Context) { c.Limits.MaxHeaderSize = 10 }},
		{"no examiner", func(c *scan.Context) { c.Examine = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newContext(t)
			tt.limit(c)
			var fs scan.Findings
			err := Scan(context.Background(), c, bytes.NewReader(plain7z), int64(len(plain7z)), &fs)
			if !errors.Is(err, scan.ErrUnscannable) {
				t.Fatalf("err = %v, want unscannable", err)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"a/b.pth", ""},
		{"a/../../b", RuleNameEscape},
		{`..\evil`, RuleNameEscape},
		{"/etc/x", RuleAbsoluteName},
		{`\x`, RuleAbsoluteName},
		{`C:\x`, RuleAbsoluteName},
		{"c:x", RuleAbsoluteName},
		{"..foo/bar..", ""},
	}
	for _, tt := range tests {
		var fs scan.Findings
		checkName(tt.name, map[string]bool{}, &fs)
		got := ""
		if len(fs) > 0 {
			got = fs[0].Rule
		}
		if got != tt.want || len(fs) > 1 {
			t.Errorf("checkName(%q) = %v, want %q", tt.name, fs, tt.want)
		}
	}
	var fs scan.Findings
	seen := map[string]bool{}
	checkName("a", seen, &fs)
	checkName("a", seen, &fs)
	if len(fs) != 1 || fs[0].Rule != RuleDuplicateName {
		t.Errorf("duplicate: %v", fs)
	}
}
