package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ttsguard/ttsguard/internal/manifest"
)

// Verification is how VerifyVersion checked a stored version, and what it found.
type Verification struct {
	Diff manifest.Diff
	// Hashed are the version's files as its walk saw them with their
	// SHA-256 (computed, or vouched for by the stat record), for a signature
	// check of the same files (oms.VerifyOptions.Known).
	Hashed []manifest.Hashed
	// Fast: nothing was hashed, the stat record matched every file.
	Fast bool
	// Reason says, for the fast path, what matched; for a full hash, why the
	// fast path was not taken.
	Reason string
	// LastHashed is when the content was last hashed and found equal to the
	// manifest: now after a full hash that found no difference, the oldest
	// entry's time on the fast path; zero when the content differs.
	LastHashed time.Time
	// Recorded: after a full hash that found the version intact, its stat
	// record was written again (the next check can take the fast path).
	Recorded bool
	// Elapsed is how long VerifyVersion took.
	Elapsed time.Duration
}

// VerifyVersion is VerifyHashed that, when fast is true, first tries the
// fast path: the version's stat record (record.go) counts when the store
// folder, models/, the model's folder and the record are owned by root and
// writable by nobody else; then every file of the version, and no other,
// must still be the inode the record lists with the same size, modification
// and change times (and the same fs-verity digest where one is recorded).
// Then the version is intact without reading a byte. Anything else (no
// record, a store not root's, any difference) is a full hash, never a
// failure; Reason says why.
//
// After a full hash that found the version intact, run as root in a
// root-owned store, it writes the version's stat record again (best
// effort, only when the store lock is free): for each file whose change
// time was earlier than a clock taken before the hash started and that
// did not change while it was hashed.
func (s *Store) VerifyVersion(ctx context.Context, v *Version, fast bool) (vr *Verification, err error) {
	t0 := time.Now()
	defer func() {
		if vr != nil {
			vr.Elapsed = time.Since(t0)
		}
	}()
	esc, err := EscapeName(v.Name)
	if err != nil {
		return nil, err
	}
	m, err := s.Meta(v)
	if err != nil {
		return nil, err
	}
	reason := "full hash requested"
	if fast {
		fv, why := s.fastVerify(esc, m)
		if fv != nil {
			return fv, nil
		}
		reason = why
	}
	// The clock for a new record is taken before the walk, once it has
	// passed the change time of every file (see refreshRecord).
	var clock int64
	var release func()
	var work string
	if trusted := s.trustedChain(esc); trusted == nil && os.Geteuid() == 0 {
		if work, release, err = s.newTmp("verify-"); err == nil {
			defer release()
			if clock, err = waitClock(work, newestCtime(filepath.Join(s.modelDir(esc), m.ID), metaFiles(m))); err != nil {
				clock = 0
			}
		}
	}
	start := time.Now()
	diff, hashed, sideIDs, err := s.hashVersion(ctx, v, esc, m)
	if err != nil {
		return nil, err
	}
	vr = &Verification{Diff: diff, Hashed: hashed, Reason: reason}
	if diff.Empty() {
		vr.LastHashed = start.UTC()
		if clock != 0 {
			vr.Recorded = s.refreshRecord(work, esc, m, hashed, sideIDs, clock, start) == nil
		}
	}
	return vr, nil
}

// trustedChain returns nil when the store folder, models/ and the model
// folder esc are folders owned by root and not writable by group or others
// (then only root can change what they hold), or an error that says which is not.
func (s *Store) trustedChain(esc string) error {
	for _, p := range []string{s.Root, filepath.Join(s.Root, dirModels), s.modelDir(esc)} {
		in, err := lstatInode(p)
		if err != nil {
			return err
		}
		if err := rootOnly(p, in, true); err != nil {
			return err
		}
	}
	return nil
}

// rootOnly says why in (at p) is not a folder (dir) or regular file owned
// by root and writable by nobody else, or nil.
func rootOnly(p string, in inodeStat, dir bool) error {
	switch {
	case dir && in.regular, !dir && !in.regular:
		return fmt.Errorf("%s is not a %s", p, map[bool]string{true: "folder", false: "regular file"}[dir])
	case in.uid != 0:
		return fmt.Errorf("%s is owned by uid %d, not root", p, in.uid)
	case in.perm&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %04o)", p, in.perm)
	}
	return nil
}

// fastVerify returns the fast path's verification of version m of the
// model folder esc, or nil and why it cannot be taken.
func (s *Store) fastVerify(esc string, m *Meta) (*Verification, string) {
	if err := s.trustedChain(esc); err != nil {
		return nil, "the stat record does not count: " + err.Error()
	}
	recPath := filepath.Join(s.modelDir(esc), m.ID+RecordSuffix)
	if in, err := lstatInode(recPath); errors.Is(err, fs.ErrNotExist) {
		return nil, "no stat record for this version (committed before records were kept, or by a commit or check that could not write it)"
	} else if err != nil {
		return nil, "stat record: " + err.Error()
	} else if err := rootOnly(recPath, in, false); err != nil {
		return nil, "the stat record does not count: " + err.Error()
	}
	r, err := s.readRecord(esc, m)
	if err != nil {
		return nil, "stat record unreadable: " + err.Error()
	}
	entries := make(map[string]*RecordEntry, len(r.Files))
	for i := range r.Files {
		entries[r.Files[i].Path] = &r.Files[i]
	}
	want := metaFiles(m)
	sums := make(map[string]string, len(want))
	for _, f := range want {
		e := entries[f.Path]
		switch {
		case !cleanRel(f.Path):
			return nil, fmt.Sprintf("metadata lists %q", f.Path)
		case e == nil:
			return nil, fmt.Sprintf("%s: no entry in the stat record (it changed, or was too new, when the record was taken)", f.Path)
		case e.SHA256 != f.SHA256 || (e.Size != f.Size && !e.Encrypted):
			return nil, fmt.Sprintf("%s: the stat record's entry names other content than the metadata", f.Path)
		}
		sums[f.Path] = f.SHA256
	}
	dir := filepath.Join(s.modelDir(esc), m.ID)
	var ignore []string
	for _, sf := range m.SideFiles() {
		ignore = append(ignore, sf.Path)
	}
	files, err := manifest.Walk(dir, manifest.WalkOptions{IgnorePaths: ignore})
	if err != nil {
		return nil, "walk: " + err.Error()
	}
	if len(files) != len(m.Files) {
		return nil, fmt.Sprintf("the version folder holds %d files, the metadata lists %d", len(files), len(m.Files))
	}
	oldest := r.Taken
	check := func(name string, now inodeStat) string {
		e := entries[name]
		if _, listed := sums[name]; !listed || e == nil {
			return fmt.Sprintf("%s: not listed in the metadata", name)
		}
		if what := now.differs(e); what != "" {
			return fmt.Sprintf("%s: %s differs from the stat record", name, what)
		}
		if e.CTimeNs >= r.Clock {
			return fmt.Sprintf("%s: its change time is not earlier than the record's clock", name)
		}
		if e.FSVerity != "" {
			got, err := measureVerityPath(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil {
				return fmt.Sprintf("%s: fs-verity digest: %v", name, err)
			}
			if got != e.FSVerity {
				return fmt.Sprintf("%s: fs-verity digest %s differs from the recorded %s", name, got, e.FSVerity)
			}
		}
		if e.Hashed.Before(oldest) {
			oldest = e.Hashed
		}
		return ""
	}
	for _, f := range files {
		now := inodeStat{regular: true, dev: f.ID.Dev, ino: f.ID.Ino, size: f.Size, mtime: f.ID.MTimeNs, ctime: f.ID.CTime}
		if f.Link || f.ID == (manifest.FileID{}) {
			return nil, fmt.Sprintf("%s: not a plain file", f.Name)
		}
		if why := check(f.Name, now); why != "" {
			return nil, why
		}
	}
	for _, sig := range m.SideFiles() {
		now, err := lstatInode(filepath.Join(dir, filepath.FromSlash(sig.Path)))
		if err != nil || !now.regular {
			return nil, fmt.Sprintf("%s: missing or not a regular file", sig.Path)
		}
		if why := check(sig.Path, now); why != "" {
			return nil, why
		}
	}
	hashed := make([]manifest.Hashed, 0, len(files))
	for _, f := range files {
		d, err := hexSum(sums[f.Name])
		if err != nil {
			return nil, err.Error()
		}
		hashed = append(hashed, manifest.Hashed{File: f, Digest: d})
	}
	sort.Slice(hashed, func(i, j int) bool { return hashed[i].File.Name < hashed[j].File.Name })
	what := "device, inode, size, modification and change time"
	if strings.HasPrefix(r.FSVerity, "enabled") {
		what += ", fs-verity digest"
	}
	return &Verification{Hashed: hashed, Fast: true, LastHashed: oldest.UTC(),
		Reason: fmt.Sprintf("stat record matched: %d files unchanged since their content was hashed (%s; fs-verity: %s)",
			len(want), what, r.FSVerity)}, ""
}

// refreshRecord writes the stat record of version m after a full hash that
// found it intact: hashed are its files as the walk saw them (and sides its
// signature and provenance files, by path), clock a filesystem time taken before the walk. A file
// gets an entry only when its change time is earlier than clock (a change
// made while it was hashed would then show as a later ctime) and it is
// still exactly as the walk saw it. It takes the store lock only if it is
// free.
func (s *Store) refreshRecord(work, esc string, m *Meta, hashed []manifest.Hashed, sides map[string]inodeStat, clock int64, at time.Time) error {
	unlock, ok, err := s.tryLock()
	if err != nil || !ok {
		return errors.Join(err, errors.New("store lock busy"))
	}
	defer unlock()
	seen := make(map[string]inodeStat, len(hashed)+1)
	for _, h := range hashed {
		f := h.File
		if f.Link || f.ID == (manifest.FileID{}) {
			continue
		}
		seen[f.Name] = inodeStat{dev: f.ID.Dev, ino: f.ID.Ino, size: f.Size, mtime: f.ID.MTimeNs, ctime: f.ID.CTime}
	}
	for _, sf := range m.SideFiles() {
		if in, ok := sides[sf.Path]; ok {
			seen[sf.Path] = in
		}
	}
	vouch := func(path, sum string, now inodeStat) (time.Time, string, bool) {
		was, ok := seen[path]
		if !ok || was.ctime >= clock || now.dev != was.dev || now.ino != was.ino || now.size != was.size ||
			now.mtime != was.mtime || now.ctime != was.ctime {
			return time.Time{}, "", false
		}
		d, err := measureVerityPath(filepath.Join(s.modelDir(esc), m.ID, filepath.FromSlash(path)))
		if err != nil {
			d = ""
		}
		return at, d, true
	}
	return s.writeRecord(work, esc, m, vouch, verityState(filepath.Join(s.modelDir(esc), m.ID), metaFiles(m)))
}

// newestCtime is the latest change time (ns) of the files of a version
// folder; files it cannot read count as 0.
func newestCtime(dir string, files []MetaFile) int64 {
	var newest int64
	for _, f := range files {
		if in, err := lstatInode(filepath.Join(dir, filepath.FromSlash(f.Path))); err == nil {
			newest = max(newest, in.ctime)
		}
	}
	return newest
}

// verityState describes fs-verity on the files of a version folder:
// "enabled" when the first file has a digest, else why not.
func verityState(dir string, files []MetaFile) string {
	if len(files) == 0 {
		return "not tried"
	}
	_, err := measureVerityPath(filepath.Join(dir, filepath.FromSlash(files[0].Path)))
	if err == nil {
		return "enabled"
	}
	return "not available: " + err.Error()
}

// hashVersion re-hashes version m (folder esc) and compares it with its
// metadata: VerifyHashed's work. sides are the signature and provenance
// files as they were hashed, by path.
func (s *Store) hashVersion(ctx context.Context, v *Version, esc string, m *Meta) (manifest.Diff, []manifest.Hashed, map[string]inodeStat, error) {
	want, err := m.Items()
	if err != nil {
		return manifest.Diff{}, nil, nil, err
	}
	dir := filepath.Join(s.modelDir(esc), m.ID)
	var ignore []string
	for _, sf := range m.SideFiles() {
		if !cleanRel(sf.Path) {
			return manifest.Diff{}, nil, nil, fmt.Errorf("version %q of %q: %w: signature path %q", m.ID, m.Name, ErrCorrupt, sf.Path)
		}
		ignore = append(ignore, sf.Path)
	}
	files, err := manifest.Walk(dir, manifest.WalkOptions{IgnorePaths: ignore})
	if err != nil {
		return manifest.Diff{}, nil, nil, fmt.Errorf("verify %q: %w", v.Name, err)
	}
	got, err := s.hashFiles(ctx, files)
	if err != nil {
		return manifest.Diff{}, nil, nil, fmt.Errorf("verify %q: %w", v.Name, err)
	}
	diff := manifest.Compare(want, got.Items)
	sideIDs := map[string]inodeStat{}
	for _, sig := range m.SideFiles() {
		p := filepath.Join(dir, filepath.FromSlash(sig.Path))
		var st syscall.Stat_t
		err := syscall.Lstat(p, &st)
		switch {
		case errors.Is(err, syscall.ENOENT):
			diff.Missing = append(diff.Missing, sig.Path)
		case err != nil:
			return manifest.Diff{}, nil, nil, fmt.Errorf("verify %q: %q: %w", v.Name, p, err)
		case inodeOf(&st).regular:
			in := inodeOf(&st)
			d, _, err := s.contentSum(ctx, manifest.File{Name: sig.Path, Path: p, Size: in.size})
			if err != nil {
				return manifest.Diff{}, nil, nil, fmt.Errorf("verify %q: %w", v.Name, err)
			}
			if hex.EncodeToString(d) != sig.SHA256 {
				diff.Changed = append(diff.Changed, sig.Path)
			}
			sideIDs[sig.Path] = in
		default:
			return manifest.Diff{}, nil, nil, fmt.Errorf("verify %q: %q: %w", v.Name, p, manifest.ErrSpecialFile)
		}
	}
	sort.Strings(diff.Missing)
	sort.Strings(diff.Changed)
	return diff, manifest.Pair(files, got.Items), sideIDs, nil
}
