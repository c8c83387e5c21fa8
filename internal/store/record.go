package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// The stat record of a version, models/<escaped name>/<id>.stat (0444),
// lets a check skip re-hashing files that provably did not change since
// their content was hashed (fast.go). It lists, for each file of the
// version (the signature file included), what the kernel says of the inode
// the content was verified in: device, inode number, size, modification
// time and change time (ctime), and, where the filesystem offers it, the
// fs-verity digest.
//
// The ctime is the key: every write, truncation, chmod, chown, link or
// unlink of an inode moves it to the current time, and no system call sets
// it to a chosen value. A record entry is therefore taken after the store's
// last change to its file (the commit's renames, links and chmods all move
// ctime) and only once the filesystem's clock has moved past that ctime
// (waitClock): a change made later cannot carry the recorded ctime again,
// even on a filesystem whose timestamps advance in coarse ticks. Hard links
// share one inode, so committing or removing another version that holds the
// same content moves the ctime of this version's file as well; such a
// record no longer matches, the check hashes the file in full (never a
// false failure), and a full hash that matches writes the record again.
//
// Commit writes the record of the version it makes current, and of every
// version whose files it linked again to a replaced blob; a full check
// that found a version intact writes it again when the store is root's
// (refreshRecord). Writing a record is an optimisation: when it fails the
// commit still succeeds, and the next check hashes in full.
const (
	// RecordFormat is the "format" value of a stat record.
	RecordFormat = "ttsguard.store.record/v1"
	// RecordSuffix ends the file name of a stat record: <id>.stat.
	RecordSuffix = ".stat"
	// maxClockWait bounds how long a record waits for the filesystem's
	// clock to pass the newest ctime it records; entries still too new are
	// left out (they will be hashed).
	maxClockWait = 250 * time.Millisecond
)

// Record is the content of models/<escaped name>/<id>.stat, written as JSON
// with two-space indentation and the field names of the tags.
type Record struct {
	Format string `json:"format"` // RecordFormat
	Name   string `json:"name"`
	ID     string `json:"id"`
	Root   string `json:"root"`
	// Taken is when the record was written; Clock the ctime (ns) of a file
	// made just before the entries were taken, later than every entry's
	// ctime.
	Taken time.Time `json:"taken"`
	Clock int64     `json:"clock_ns"`
	// FSVerity says whether the files have fs-verity digests: "enabled", or
	// why not (the filesystem does not support it, ...).
	FSVerity string        `json:"fsverity"`
	Files    []RecordEntry `json:"files"`
}

// RecordEntry is one file of a stat record.
type RecordEntry struct {
	Path    string `json:"path"`   // slash path in the version folder
	SHA256  string `json:"sha256"` // its content, as the metadata records it
	Size    int64  `json:"size"`
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	MTimeNs int64  `json:"mtime_ns"`
	CTimeNs int64  `json:"ctime_ns"`
	// FSVerity is the file's fs-verity digest ("sha256:<hex>") measured when
	// the entry was taken, or "".
	FSVerity string `json:"fsverity,omitempty"`
	// Hashed is when this content was last hashed in this inode and matched.
	Hashed time.Time `json:"hashed"`
	// Encrypted says the file is the age file of the content (encryption
	// at rest): Size and the times are the ciphertext file's, SHA256 the
	// plaintext's. The stat of the ciphertext proves it unchanged as well
	// as a plaintext file's would (age authenticates what it decrypts, and
	// a full hash decrypts).
	Encrypted bool `json:"encrypted,omitempty"`
}

// inodeStat is what a record compares of a file.
type inodeStat struct {
	regular  bool
	uid      uint32
	perm     fs.FileMode
	dev, ino uint64
	size     int64
	mtime    int64
	ctime    int64
}

func lstatInode(p string) (inodeStat, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return inodeStat{}, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	return inodeOf(&st), nil
}

func inodeOf(st *syscall.Stat_t) inodeStat {
	return inodeStat{regular: st.Mode&syscall.S_IFMT == syscall.S_IFREG, uid: st.Uid, perm: fs.FileMode(st.Mode & 0o777),
		dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}
}

// differs names the first of device, inode, size, modification and change
// time in which the file differs from the entry, or "" when none does.
func (s inodeStat) differs(e *RecordEntry) string {
	switch {
	case s.dev != e.Dev:
		return "device"
	case s.ino != e.Ino:
		return "inode"
	case s.size != e.Size:
		return "size"
	case s.mtime != e.MTimeNs:
		return "modification time"
	case s.ctime != e.CTimeNs:
		return "change time (ctime)"
	}
	return ""
}

func (s inodeStat) entry(path, sum string, hashed time.Time, verity string) RecordEntry {
	return RecordEntry{Path: path, SHA256: sum, Size: s.size, Dev: s.dev, Ino: s.ino, MTimeNs: s.mtime, CTimeNs: s.ctime,
		FSVerity: verity, Hashed: hashed.UTC()}
}

// voucher says, for a file of a version as it is now, whether the caller
// verified its content: the time it was hashed and its fs-verity digest.
type voucher func(path, sum string, now inodeStat) (hashed time.Time, verity string, ok bool)

// metaFiles are the files of a version that a record covers: its manifest's
// files, its signature and its provenance file.
func metaFiles(m *Meta) []MetaFile {
	return append(m.Files[:len(m.Files):len(m.Files)], m.SideFiles()...)
}

// writeRecord writes the stat record of version m of the model folder esc,
// using the held work folder under tmp/. An entry is taken for a file that
// vouch vouches for, or that is exactly as the existing record has it; a
// file that is neither, is writable by group or others, or changes while
// the record is taken, gets no entry (a check hashes it). fsverity is the
// record's FSVerity. The caller holds the store lock.
func (s *Store) writeRecord(work, esc string, m *Meta, vouch voucher, fsverity string) error {
	dir := filepath.Join(s.modelDir(esc), m.ID)
	old := map[string]RecordEntry{}
	if r, err := s.readRecord(esc, m); err == nil {
		for _, e := range r.Files {
			old[e.Path] = e
		}
	}
	var entries []RecordEntry
	var newest int64
	for _, f := range metaFiles(m) {
		if !cleanRel(f.Path) {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		now, err := lstatInode(p)
		if err != nil || !now.regular || now.perm&0o022 != 0 {
			continue
		}
		encrypted := false
		if now.size != f.Size {
			if isAge, err := crypt.IsAgeFile(p); err != nil || !isAge {
				continue
			}
			encrypted = true
		}
		hashed, verity, ok := vouch(f.Path, f.SHA256, now)
		e, kept := old[f.Path]
		switch {
		case ok:
			e := now.entry(f.Path, f.SHA256, hashed, verity)
			e.Encrypted = encrypted
			entries = append(entries, e)
		case kept && e.SHA256 == f.SHA256 && now.differs(&e) == "":
			entries = append(entries, e)
		default:
			continue
		}
		newest = max(newest, now.ctime)
	}
	clock, err := waitClock(work, newest)
	if err != nil {
		return err
	}
	// Taken again after the clock has passed them: an entry whose file
	// changed in the meantime is left out.
	kept := entries[:0]
	for _, e := range entries {
		now, err := lstatInode(filepath.Join(dir, filepath.FromSlash(e.Path)))
		if err == nil && now.differs(&e) == "" && e.CTimeNs < clock {
			kept = append(kept, e)
		}
	}
	r := Record{Format: RecordFormat, Name: m.Name, ID: m.ID, Root: m.Root, Taken: time.Now().UTC(), Clock: clock,
		FSVerity: fsverity, Files: kept}
	if r.Files == nil {
		r.Files = []RecordEntry{}
	}
	data, err := json.MarshalIndent(&r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(work, "record")
	os.Remove(tmp)
	if err := writeFileSync(tmp, append(data, '\n'), 0o444); err != nil {
		return err
	}
	md := s.modelDir(esc)
	if err := os.Rename(tmp, filepath.Join(md, m.ID+RecordSuffix)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record %q: %w", m.ID, err)
	}
	if err := syncDir(md); err != nil {
		return err
	}
	step("record written")
	return nil
}

// waitClock returns the ctime of a file it creates (and removes) in dir
// once that is later than after (ns), waiting at most maxClockWait: the
// filesystem's clock, which may advance in ticks of several milliseconds.
func waitClock(dir string, after int64) (int64, error) {
	deadline := time.Now().Add(maxClockWait)
	for {
		f, err := os.CreateTemp(dir, "clock-")
		if err != nil {
			return 0, fmt.Errorf("record: %w", err)
		}
		var st syscall.Stat_t
		err = syscall.Fstat(int(f.Fd()), &st)
		f.Close()
		os.Remove(f.Name())
		if err != nil {
			return 0, fmt.Errorf("record: %w", err)
		}
		if c := st.Ctim.Nano(); c > after || time.Now().After(deadline) {
			return c, nil
		}
		time.Sleep(time.Millisecond)
	}
}

// readRecord reads the stat record of version m strictly: it must be a
// regular file (not a link) that names m's model, version and root.
func (s *Store) readRecord(esc string, m *Meta) (*Record, error) {
	f, err := os.OpenFile(filepath.Join(s.modelDir(esc), m.ID+RecordSuffix), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil, err
	}
	if in := inodeOf(&st); !in.regular {
		return nil, fmt.Errorf("record %q: not a regular file", f.Name())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	if err != nil {
		return nil, err
	}
	r, err := ParseRecord(data)
	if err != nil {
		return nil, fmt.Errorf("record %q: %w", f.Name(), err)
	}
	if r.Name != m.Name || r.ID != m.ID || r.Root != m.Root {
		return nil, fmt.Errorf("record %q: names %q version %s root %s, not this version", f.Name(), r.Name, r.ID, r.Root)
	}
	return r, nil
}

// ParseRecord reads a stat record: strict JSON (unknown fields are errors),
// at most 64 MiB, the format RecordFormat, clean unique paths, hex SHA-256
// sums and sizes that are not negative.
func ParseRecord(data []byte) (*Record, error) {
	if len(data) > maxMetaSize {
		return nil, fmt.Errorf("%w: stat record over %d bytes", ErrCorrupt, maxMetaSize)
	}
	var r Record
	if err := decodeStrict(data, &r); err != nil {
		return nil, fmt.Errorf("%w: stat record: %w", ErrCorrupt, err)
	}
	if r.Format != RecordFormat {
		return nil, fmt.Errorf("%w: stat record format %q, want %q", ErrCorrupt, r.Format, RecordFormat)
	}
	seen := make(map[string]bool, len(r.Files))
	for _, e := range r.Files {
		if !cleanRel(e.Path) || !isHexSum(e.SHA256) || e.Size < 0 || seen[e.Path] {
			return nil, fmt.Errorf("%w: stat record: bad or repeated entry %q", ErrCorrupt, e.Path)
		}
		seen[e.Path] = true
	}
	return &r, nil
}

// removeOrphanRecords deletes, in the model folder md, stat records whose
// version has no metadata. The caller holds the store lock.
func removeOrphanRecords(md string, ents []fs.DirEntry) error {
	var errs []error
	for _, e := range ents {
		id, ok := cutRecordName(e.Name())
		if !ok {
			continue
		}
		if _, err := os.Lstat(filepath.Join(md, id+".json")); errors.Is(err, fs.ErrNotExist) {
			if err := os.Remove(filepath.Join(md, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// cutRecordName returns the version id of a stat record's file name.
func cutRecordName(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, RecordSuffix)
	return id, ok && validID(id)
}
