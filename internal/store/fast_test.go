package store

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// needRoot skips a test of the fast path, whose record counts only in a
// root-owned store.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the stat record counts only in a root-owned store: run as root")
	}
}

func verifyFast(t *testing.T, s *Store, v *Version) *Verification {
	t.Helper()
	vr, err := s.VerifyVersion(context.Background(), v, true)
	if err != nil {
		t.Fatalf("VerifyVersion: %v", err)
	}
	return vr
}

func mustFast(t *testing.T, s *Store, v *Version) *Verification {
	t.Helper()
	vr := verifyFast(t, s, v)
	if !vr.Fast || !vr.Diff.Empty() {
		t.Fatalf("want the fast path: fast=%v diff=%+v reason %q", vr.Fast, vr.Diff, vr.Reason)
	}
	return vr
}

func readRecordFile(t *testing.T, s *Store, v *Version) *Record {
	t.Helper()
	esc, _ := EscapeName(v.Name)
	data, err := os.ReadFile(filepath.Join(s.modelDir(esc), v.ID+RecordSuffix))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFastPathAfterCommit(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	dir := t.TempDir()
	writeFiles(dir, variant("a"))
	writeFiles(dir, map[string]string{"model.sig": `{"bundle":1}`})
	v, err := s.Commit(context.Background(), "m", dir, rootOfVariant(t, "a"), Provenance{SignatureFile: "model.sig"})
	if err != nil {
		t.Fatal(err)
	}
	esc, _ := EscapeName("m")
	st, err := os.Lstat(filepath.Join(s.modelDir(esc), v.ID+RecordSuffix))
	if err != nil || st.Mode().Perm() != 0o444 {
		t.Fatalf("record: %v, %v", st, err)
	}
	r := readRecordFile(t, s, v)
	if len(r.Files) != 5 {
		t.Fatalf("record lists %d files, want 4 and the signature: %+v", len(r.Files), r.Files)
	}
	for _, e := range r.Files {
		if e.CTimeNs >= r.Clock {
			t.Errorf("%s: ctime %d not before the record's clock %d", e.Path, e.CTimeNs, r.Clock)
		}
	}
	vr := mustFast(t, s, v)
	if !strings.Contains(vr.Reason, "stat record matched: 5 files") || vr.LastHashed.IsZero() || time.Since(vr.LastHashed) > time.Minute {
		t.Errorf("fast verification: %q, last hashed %v", vr.Reason, vr.LastHashed)
	}
	// The digests it vouches for are those a full hash computes.
	_, full, err := s.VerifyHashed(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) != len(vr.Hashed) {
		t.Fatalf("fast path: %d files, full hash: %d", len(vr.Hashed), len(full))
	}
	byName := map[string]string{}
	for _, h := range full {
		byName[h.File.Name] = string(h.Digest)
	}
	for _, h := range vr.Hashed {
		if byName[h.File.Name] != string(h.Digest) || h.File.ID.Ino == 0 {
			t.Errorf("%s: fast path digest or file id differs from the full hash", h.File.Name)
		}
	}
	full2, err := s.VerifyVersion(context.Background(), v, false)
	if err != nil || full2.Fast || full2.Reason != "full hash requested" || !full2.Diff.Empty() {
		t.Errorf("fast=false: %+v, %v", full2, err)
	}
}

// TestFastPathFallbacks: any change of content, inode, times or size, of
// the files' set, of the record or of the store's owners and modes is a
// full hash, whose diff says whether the content changed; a change that
// left the content as it was is no failure, and that hash writes the
// record again so the next check is fast.
func TestFastPathFallbacks(t *testing.T) {
	needRoot(t)
	const file = "model_file.pth"
	old := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, s *Store, v *Version, p string)
		reason  string
		changed []string // Diff.Changed
		missing []string
		extra   []string
		again   bool // the full hash found it intact and the next check is fast
	}{
		{name: "content, mtime restored", change: func(t *testing.T, s *Store, v *Version, p string) {
			st, _ := os.Stat(p)
			b, _ := os.ReadFile(p)
			b[0] ^= 1
			must(t, os.WriteFile(p, b, 0o444))
			must(t, os.Chtimes(p, st.ModTime(), st.ModTime()))
		}, reason: "change time", changed: []string{file}},
		{name: "size, mtime restored", change: func(t *testing.T, s *Store, v *Version, p string) {
			st, _ := os.Stat(p)
			must(t, os.Truncate(p, st.Size()-1))
			must(t, os.Chtimes(p, st.ModTime(), st.ModTime()))
		}, reason: "size", changed: []string{file}},
		{name: "inode (same bytes, same times)", change: func(t *testing.T, s *Store, v *Version, p string) {
			st, _ := os.Stat(p)
			b, _ := os.ReadFile(p)
			tmp := filepath.Join(t.TempDir(), "x")
			must(t, os.WriteFile(tmp, b, 0o444))
			must(t, os.Chtimes(tmp, st.ModTime(), st.ModTime()))
			must(t, os.Rename(tmp, p))
		}, reason: "inode", again: true},
		{name: "modification time", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.Chtimes(p, old, old))
		}, reason: "modification time", again: true},
		{name: "change time only (chmod to the same mode)", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.Chmod(p, 0o444))
		}, reason: "change time", again: true},
		{name: "hard link added and removed", change: func(t *testing.T, s *Store, v *Version, p string) {
			l := filepath.Join(s.Root, dirTmp, "extra-link")
			must(t, os.Link(p, l))
			must(t, os.Remove(l))
		}, reason: "change time", again: true},
		{name: "extra file", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.WriteFile(filepath.Join(v.Dir, "extra.pth"), []byte("x"), 0o444))
		}, reason: "holds 5 files", extra: []string{"extra.pth"}},
		{name: "missing file", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.Remove(p))
		}, reason: "holds 3 files", missing: []string{file}},
		{name: "record writable by others", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.Chmod(recordPath(s, v), 0o446))
		}, reason: "writable by group or others", again: true},
		{name: "record not root's", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.Lchown(recordPath(s, v), 65534, 0))
		}, reason: "owned by uid 65534", again: true},
		{name: "record removed", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.Remove(recordPath(s, v)))
		}, reason: "no stat record", again: true},
		{name: "record names other content", change: func(t *testing.T, s *Store, v *Version, p string) {
			r := readRecordFile(t, s, v)
			for i := range r.Files {
				if r.Files[i].Path == file {
					r.Files[i].SHA256 = strings.Repeat("0", 64)
				}
			}
			b, _ := json.Marshal(r)
			must(t, os.WriteFile(recordPath(s, v), b, 0o444))
		}, reason: "names other content", again: true},
		{name: "record is not JSON", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.WriteFile(recordPath(s, v), []byte("{"), 0o444))
		}, reason: "unreadable", again: true},
		{name: "model folder writable by group", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.Chmod(filepath.Dir(v.Dir), 0o770))
		}, reason: "writable by group or others"},
		{name: "store not root's", change: func(t *testing.T, s *Store, v *Version, p string) {
			must(t, os.Lchown(s.Root, 65534, 0))
		}, reason: "owned by uid 65534, not root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			v := commitVariant(t, s, "tts_models/en/x/m", "a")
			mustFast(t, s, v)
			tc.change(t, s, v, filepath.Join(v.Dir, file))
			vr := verifyFast(t, s, v)
			if vr.Fast || !strings.Contains(vr.Reason, tc.reason) {
				t.Fatalf("fast=%v, reason %q, want a full hash because of %q", vr.Fast, vr.Reason, tc.reason)
			}
			if !slices.Equal(vr.Diff.Changed, tc.changed) || !slices.Equal(vr.Diff.Missing, tc.missing) || !slices.Equal(vr.Diff.Extra, tc.extra) {
				t.Fatalf("diff %+v, want changed %v missing %v extra %v", vr.Diff, tc.changed, tc.missing, tc.extra)
			}
			if vr.Diff.Empty() != vr.Recorded && tc.again {
				t.Errorf("intact after a full hash, recorded=%v", vr.Recorded)
			}
			if !vr.Diff.Empty() && !vr.LastHashed.IsZero() {
				t.Errorf("changed content with last hashed %v", vr.LastHashed)
			}
			next := verifyFast(t, s, v)
			if tc.again && !next.Fast {
				t.Errorf("after the full hash wrote the record again: fast=%v, %q", next.Fast, next.Reason)
			}
			if !tc.again && next.Fast {
				t.Errorf("the next check took the fast path: %q", next.Reason)
			}
		})
	}
}

func recordPath(s *Store, v *Version) string {
	esc, _ := EscapeName(v.Name)
	return filepath.Join(s.modelDir(esc), v.ID+RecordSuffix)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSharedBlobsMoveCtime: a commit that holds content another version
// holds too replaces the shared blob and links the other version to it
// again (a new inode): it writes that version's record again. Removing a
// model unlinks the blobs it shares, which moves the ctime of the other
// versions' files: a full hash, never a failure, and the record is written
// again.
func TestSharedBlobsMoveCtime(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	a := commitVariant(t, s, "a", "a")
	mustFast(t, s, a)
	b := commitVariant(t, s, "b", "b") // shares shared.bin with a
	mustFast(t, s, b)
	mustFast(t, s, a)
	if err := s.Remove("b"); err != nil {
		t.Fatal(err)
	}
	vr := verifyFast(t, s, a)
	if vr.Fast || !strings.Contains(vr.Reason, "shared.bin: change time") || !vr.Diff.Empty() || !vr.Recorded {
		t.Fatalf("after removing a model that shared a blob: fast=%v %q diff %+v recorded %v", vr.Fast, vr.Reason, vr.Diff, vr.Recorded)
	}
	mustFast(t, s, a)
	checkConsistent(t, s)
}

// TestFSVeritySkippedWhereUnsupported: the commit turns fs-verity on where
// the filesystem has it; where it does not (this test's temporary folder
// on most machines), the record says why and the fast path works without.
func TestFSVeritySkippedWhereUnsupported(t *testing.T) {
	needRoot(t)
	s := openStore(t)
	probe := filepath.Join(t.TempDir(), "probe")
	must(t, os.WriteFile(probe, []byte("probe"), 0o444))
	_, verr := enableVerity(probe)
	v := commitVariant(t, s, "m", "a")
	r := readRecordFile(t, s, v)
	vr := mustFast(t, s, v)
	if errors.Is(verr, errVerityUnsupported) {
		t.Logf("fs-verity unavailable here: %v", verr)
		if !strings.HasPrefix(r.FSVerity, "not available: ") || !strings.Contains(vr.Reason, "fs-verity: not available") {
			t.Errorf("record fsverity %q, reason %q", r.FSVerity, vr.Reason)
		}
		for _, e := range r.Files {
			if e.FSVerity != "" {
				t.Errorf("%s: fs-verity digest %q recorded where unsupported", e.Path, e.FSVerity)
			}
		}
		return
	}
	if verr != nil {
		t.Fatalf("enable fs-verity: %v", verr)
	}
	if r.FSVerity != "enabled" || !strings.Contains(vr.Reason, "fs-verity digest") {
		t.Errorf("record fsverity %q, reason %q", r.FSVerity, vr.Reason)
	}
	for _, e := range r.Files {
		if !strings.HasPrefix(e.FSVerity, "sha256:") {
			t.Errorf("%s: fs-verity digest %q", e.Path, e.FSVerity)
		}
	}
}

// TestDiffersNamesEachField: the comparison behind the fast path notices
// each field alone.
func TestDiffersNamesEachField(t *testing.T) {
	e := RecordEntry{Dev: 1, Ino: 2, Size: 3, MTimeNs: 4, CTimeNs: 5}
	base := inodeStat{regular: true, dev: 1, ino: 2, size: 3, mtime: 4, ctime: 5}
	if got := base.differs(&e); got != "" {
		t.Fatalf("same: %q", got)
	}
	for want, mod := range map[string]func(*inodeStat){
		"device": func(s *inodeStat) { s.dev++ }, "inode": func(s *inodeStat) { s.ino++ }, "size": func(s *inodeStat) { s.size++ },
		"modification time": func(s *inodeStat) { s.mtime++ }, "change time (ctime)": func(s *inodeStat) { s.ctime++ },
	} {
		s := base
		mod(&s)
		if got := s.differs(&e); got != want {
			t.Errorf("%s changed: %q", want, got)
		}
	}
}

func TestParseRecordStrict(t *testing.T) {
	good := `{"format":"` + RecordFormat + `","name":"m","id":"0123456789abcdef","root":"sha256:x","taken":"2026-01-01T00:00:00Z",` +
		`"clock_ns":1,"fsverity":"enabled","files":[{"path":"a/b","sha256":"` + strings.Repeat("ab", 32) + `","size":1,"dev":1,"ino":1,` +
		`"mtime_ns":1,"ctime_ns":0,"hashed":"2026-01-01T00:00:00Z"}]}`
	if _, err := ParseRecord([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]string{
		"unknown field":  strings.Replace(good, `"clock_ns"`, `"clock":1,"clock_ns"`, 1),
		"other format":   strings.Replace(good, RecordFormat, "x/v1", 1),
		"path escapes":   strings.Replace(good, `"a/b"`, `"../b"`, 1),
		"bad sum":        strings.Replace(good, strings.Repeat("ab", 32), "zz", 1),
		"negative size":  strings.Replace(good, `"size":1`, `"size":-1`, 1),
		"trailing data":  good + "{}",
		"repeated entry": strings.Replace(good, `}]}`, `},{"path":"a/b","sha256":"`+strings.Repeat("ab", 32)+`","size":1,"dev":1,"ino":1,"mtime_ns":1,"ctime_ns":0,"hashed":"2026-01-01T00:00:00Z"}]}`, 1),
	} {
		if _, err := ParseRecord([]byte(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"format":"` + RecordFormat + `","files":[]}`))
	f.Add([]byte(`{"format":"` + RecordFormat + `","files":[{"path":"x","sha256":"` + strings.Repeat("0", 64) + `"}]}`))
	f.Add([]byte(`{"format":"` + RecordFormat + `","files":[{"path":"x","sha256":"` + strings.Repeat("0", 64) + `","size":9,"encrypted":true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			return
		}
		// What parses marshals and parses again to the same record.
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ParseRecord(b)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if len(r2.Files) != len(r.Files) || r2.Format != r.Format || r2.Clock != r.Clock {
			t.Fatalf("round trip differs: %+v %+v", r, r2)
		}
	})
}

// TestGCRemovesOrphanRecords: a stat record whose version has no metadata
// is removed with the other leftovers; a version's own record stays.
func TestGCRemovesOrphanRecords(t *testing.T) {
	s := openStore(t)
	v := commitVariant(t, s, "m", "a")
	esc, _ := EscapeName("m")
	orphan := filepath.Join(s.modelDir(esc), "0123456789abcdef"+RecordSuffix)
	must(t, os.WriteFile(orphan, []byte("{}"), 0o444))
	if _, _, err := s.GC(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("orphan record after GC: %v", err)
	}
	if _, err := os.Lstat(recordPath(s, v)); err != nil {
		t.Errorf("the version's own record: %v", err)
	}
}
