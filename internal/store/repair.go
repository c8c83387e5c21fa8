package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/digest"
)

// ErrNoCleanCopy: RepairBlob found no copy of a blob's content in the store
// that hashes to its digest.
var ErrNoCleanCopy = errors.New("no clean copy of the blob in the store")

// BlobUser is one stored file whose content is a given blob: what the
// version's metadata records, whatever is on disk now.
type BlobUser struct {
	Name    string `json:"name"`    // the model
	ID      string `json:"version"` // its version
	Path    string `json:"path"`    // slash path in the version folder
	Current bool   `json:"current"` // the version is the model's current one
}

func (u BlobUser) String() string {
	cur := ""
	if u.Current {
		cur = ", current"
	}
	return fmt.Sprintf("%s (version %s%s: %s)", u.Name, u.ID, cur, u.Path)
}

// blobRef is a BlobUser with its size and the folder of its version.
type blobRef struct {
	BlobUser
	dir  string // the version folder
	size int64
}

// blobRefs reads the metadata of every version of every model and returns
// the files that use each blob (by hex SHA-256). A version whose metadata
// cannot be read is left out, and its error is returned beside the rest.
func (s *Store) blobRefs() (map[string][]blobRef, error) {
	models, err := os.ReadDir(filepath.Join(s.Root, dirModels))
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", s.Root, err)
	}
	refs := map[string][]blobRef{}
	var errs []error
	for _, md := range models {
		if !md.IsDir() {
			continue
		}
		ents, err := os.ReadDir(s.modelDir(md.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cur, _ := s.current(md.Name())
		for _, e := range ents {
			id, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || !validID(id) {
				continue
			}
			v, m, err := s.load(md.Name(), id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			files := m.Files
			if m.Signature != nil {
				files = append(files[:len(files):len(files)], *m.Signature)
			}
			for _, f := range files {
				if !cleanRel(f.Path) || !isHexSum(f.SHA256) {
					continue
				}
				refs[f.SHA256] = append(refs[f.SHA256], blobRef{BlobUser: BlobUser{Name: m.Name, ID: id, Path: f.Path, Current: id == cur},
					dir: v.Dir, size: f.Size})
			}
		}
	}
	for _, rs := range refs {
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].Name != rs[j].Name {
				return rs[i].Name < rs[j].Name
			}
			if rs[i].ID != rs[j].ID {
				return rs[i].ID < rs[j].ID
			}
			return rs[i].Path < rs[j].Path
		})
	}
	return refs, errors.Join(errs...)
}

func isHexSum(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// BlobUsers returns every file of every stored version (current or not,
// signature files included) whose metadata names the blob sum (hex SHA-256),
// sorted by model, version and path: who is affected when the blob is
// damaged. An error means the list may be incomplete (it is still returned).
func (s *Store) BlobUsers(sum string) ([]BlobUser, error) {
	if !isHexSum(sum) {
		return nil, fmt.Errorf("blob %q: not a hex SHA-256", sum)
	}
	refs, err := s.blobRefs()
	var out []BlobUser
	for _, r := range refs[sum] {
		out = append(out, r.BlobUser)
	}
	return out, err
}

// BlobRepair is the evidence of RepairBlob.
type BlobRepair struct {
	SHA256   string     `json:"sha256"`
	Users    []BlobUser `json:"users"`              // every stored file whose metadata names the blob
	From     string     `json:"from,omitempty"`     // the clean copy that became the blob ("" when none was found)
	Relinked []BlobUser `json:"relinked,omitempty"` // files linked again to the clean blob
}

// RepairBlob repairs the blob sum (hex SHA-256) from a clean copy when the
// store holds one. Under the store lock it hashes, one distinct file at a
// time, the blob and the files of every version that names it, until one
// hashes to sum with the recorded size. That file becomes the blob (a hard
// link renamed over objects/…, read-only, synced) and every version file
// that names the blob is linked to it again (see relinkUsers). When no copy
// is clean it changes nothing and returns an error wrapping ErrNoCleanCopy,
// with the report (its Users say who is affected).
//
// A clean copy beside a damaged blob is what a commit killed while it was
// repairing leaves; a damaged blob without one is repaired by committing
// the same content again (a pull of the clean source), which replaces it
// with the freshly verified bytes.
func (s *Store) RepairBlob(ctx context.Context, sum string) (*BlobRepair, error) {
	if !isHexSum(sum) {
		return nil, fmt.Errorf("blob %q: not a hex SHA-256", sum)
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, _ := s.blobRefs() // unreadable versions are reported by their own check
	refs := all[sum]
	rep := &BlobRepair{SHA256: sum}
	for _, r := range refs {
		rep.Users = append(rep.Users, r.BlobUser)
	}
	if len(refs) == 0 {
		return rep, fmt.Errorf("blob %s: no stored version uses it: %w", sum, ErrNoCleanCopy)
	}
	size := refs[0].size
	bp := s.blobPath(sum)
	candidates := []string{bp}
	for _, r := range refs {
		if r.size == size && realDirs(r.dir, r.Path) {
			candidates = append(candidates, filepath.Join(r.dir, filepath.FromSlash(r.Path)))
		}
	}
	var clean string
	var seen []os.FileInfo
	for _, p := range candidates {
		// Only a file of the store's owner may become the blob: a hard link
		// to anyone else's file would let them change it later.
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() || st.Size() != size || !ownedByUs(st) || sameAsAny(st, seen) {
			continue
		}
		seen = append(seen, st)
		sums, _, err := digest.Run(ctx, digest.SHA256, []digest.Task{{Path: p, Length: size, Size: size, NoFollow: true}}, 1)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			continue
		}
		if hex.EncodeToString(sums[0]) == sum {
			clean = p
			break
		}
	}
	if clean == "" {
		return rep, fmt.Errorf("blob %s: %w (every copy differs from its digest)", sum, ErrNoCleanCopy)
	}
	rep.From = clean
	work, release, err := s.newTmp("repair-")
	if err != nil {
		return rep, err
	}
	defer release()
	if err := s.writeJournal(work, []string{sum}); err != nil {
		return rep, err
	}
	if clean != bp {
		if err := s.linkAsBlob(clean, bp, filepath.Join(work, "blob")); err != nil {
			return rep, fmt.Errorf("blob %s: %w", sum, err)
		}
	}
	r := &relinker{s: s, work: work}
	rep.Relinked, err = r.relinkUsers(bp, refs)
	if err != nil {
		return rep, fmt.Errorf("blob %s: %w", sum, err)
	}
	return rep, nil
}

// linkAsBlob makes the file clean (already in the store, verified) the blob
// bp: a hard link made at tmp (under tmp/, same filesystem), sealed 0444 and
// synced, then renamed over bp, and bp's folder synced.
func (s *Store) linkAsBlob(clean, bp, tmp string) error {
	sub := filepath.Dir(bp)
	if err := os.Mkdir(sub, 0o750); err == nil {
		if err := syncDir(filepath.Dir(sub)); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := os.Link(clean, tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o444); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, bp); err != nil {
		os.Remove(tmp)
		return err
	}
	step("blob replaced")
	return syncDir(sub)
}

func ownedByUs(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid()
}

func sameAsAny(st os.FileInfo, seen []os.FileInfo) bool {
	for _, o := range seen {
		if os.SameFile(st, o) {
			return true
		}
	}
	return false
}

// relinker links version files to their blob again, with temporary names
// under work (a held folder under tmp/).
type relinker struct {
	s    *Store
	work string
	n    int
}

// relinkUsers links every file of refs that is a regular file but not the
// blob bp's inode, or is missing, to bp: a hard link made under work and
// renamed over it (atomic: a reader sees the old file or the blob, whole),
// then its folder synced. A version folder is read-only (0555): its write
// permission is added for the rename and taken away again. Files that are
// not regular files, or below a folder that is missing or not a real
// folder, are left alone (check and doctor report them). It returns the
// files relinked.
//
// A kill between two relinks leaves some versions linked to an equal copy
// of the blob's content and perhaps a version folder with its owner's write
// permission; the caller's relink journal (writeJournal) has the next Open
// or GC finish the job (recoverRelinks).
func (r *relinker) relinkUsers(bp string, refs []blobRef) ([]BlobUser, error) {
	blob, err := os.Lstat(bp)
	if err != nil {
		return nil, err
	}
	if !blob.Mode().IsRegular() {
		return nil, fmt.Errorf("%q: %w: not a regular file", bp, ErrCorrupt)
	}
	var done []BlobUser
	for _, ref := range refs {
		p := filepath.Join(ref.dir, filepath.FromSlash(ref.Path))
		if !realDirs(ref.dir, ref.Path) {
			continue
		}
		st, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist): // missing: linked again too
		case err != nil || !st.Mode().IsRegular() || os.SameFile(st, blob):
			continue
		}
		if err := r.relink(bp, p); err != nil {
			return done, err
		}
		done = append(done, ref.BlobUser)
	}
	return done, nil
}

// realDirs reports whether dir and every folder of rel's path below it are
// folders, not symbolic links.
func realDirs(dir, rel string) bool {
	p := dir
	parts := strings.Split(rel, "/")
	for i := 0; ; i++ {
		st, err := os.Lstat(p)
		if err != nil || !st.IsDir() {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		p = filepath.Join(p, parts[i])
	}
}

// relink replaces the file p by a hard link to bp.
func (r *relinker) relink(bp, p string) (err error) {
	parent := filepath.Dir(p)
	pst, err := os.Lstat(parent)
	if err != nil {
		return err
	}
	perm := pst.Mode().Perm()
	if perm&0o200 == 0 {
		if err := os.Chmod(parent, perm|0o200); err != nil {
			return err
		}
		defer func() {
			if cerr := os.Chmod(parent, perm); err == nil {
				err = cerr
			}
		}()
	}
	r.n++
	tmp := filepath.Join(r.work, "relink-"+strconv.Itoa(r.n))
	if err := os.Link(bp, tmp); err != nil {
		return fmt.Errorf("relink %q: %w", p, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("relink %q: %w", p, err)
	}
	if err := syncDir(parent); err != nil {
		return err
	}
	step("version file relinked")
	return nil
}

// The relink journal: a file in a commit's or repair's work folder (under
// tmp/) that lists, one hex SHA-256 a line after journalHeader, the blobs
// whose versions it is about to link again. It is written and synced before
// the first blob is replaced. A work folder that no live process holds and
// that has a journal is not simply deleted (cleanTmp): recoverRelinks, under
// the store lock, first links every version that names a journaled blob to
// it and takes away the write permission a killed relink left on a version
// folder.
const (
	journalName   = "relink"
	journalHeader = "ttsguard relink journal v1\n"
	maxJournal    = 1 << 20
)

// writeJournal writes the relink journal of sums into the work folder
// (under tmp/) and makes it durable.
func (s *Store) writeJournal(work string, sums []string) error {
	var b strings.Builder
	b.WriteString(journalHeader)
	for _, sum := range sums {
		b.WriteString(sum)
		b.WriteByte('\n')
	}
	if err := writeFileSync(filepath.Join(work, journalName), []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := syncDir(work); err != nil {
		return err
	}
	return syncDir(filepath.Join(s.Root, dirTmp))
}

// hasJournal reports whether the work folder p holds a relink journal.
func hasJournal(p string) bool {
	st, err := os.Lstat(filepath.Join(p, journalName))
	return err == nil && st.Mode().IsRegular()
}

// readJournal returns the blobs a relink journal lists.
func readJournal(p string) ([]string, error) {
	f, err := os.OpenFile(filepath.Join(p, journalName), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJournal+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJournal || !bytes.HasPrefix(data, []byte(journalHeader)) {
		return nil, fmt.Errorf("relink journal %q: %w: not a journal", p, ErrCorrupt)
	}
	var sums []string
	sc := bufio.NewScanner(bytes.NewReader(data[len(journalHeader):]))
	for sc.Scan() {
		if line := sc.Text(); isHexSum(line) {
			sums = append(sums, line) // a torn last line is not a sum: its blob's relink had not begun
		}
	}
	return sums, nil
}

// recoverRelinks finishes what killed commits and repairs journaled (see
// writeJournal) and deletes their work folders. The caller holds the store
// lock.
func (s *Store) recoverRelinks() error {
	tmp := filepath.Join(s.Root, dirTmp)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("store %q: %w", s.Root, err)
	}
	type journaled struct {
		dir  string
		held *os.File
	}
	var found []journaled
	defer func() {
		for _, j := range found {
			j.held.Close()
		}
	}()
	want := map[string]bool{}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		if !e.IsDir() || !hasJournal(p) {
			continue
		}
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // a live process holds it
			continue
		}
		found = append(found, journaled{p, f})
		sums, err := readJournal(p)
		if err != nil {
			errs = append(errs, err)
		}
		for _, sum := range sums {
			want[sum] = true
		}
	}
	if len(found) == 0 {
		return nil
	}
	if len(want) > 0 {
		if err := s.relinkJournaled(want); err != nil {
			return errors.Join(append(errs, err)...) // the journals stay for the next try
		}
	}
	for _, j := range found {
		if err := removeTree(j.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// relinkJournaled links every version that names one of sums to its blob
// and reseals the version folders on the way.
func (s *Store) relinkJournaled(sums map[string]bool) error {
	refs, _ := s.blobRefs()
	work, release, err := s.newTmp("recover-")
	if err != nil {
		return err
	}
	defer release()
	r := &relinker{s: s, work: work}
	keys := make([]string, 0, len(sums))
	for sum := range sums {
		keys = append(keys, sum)
	}
	sort.Strings(keys)
	var errs []error
	for _, sum := range keys {
		rs := refs[sum]
		for _, ref := range rs {
			errs = append(errs, resealDirs(ref.dir, ref.Path))
		}
		if st, err := os.Lstat(s.blobPath(sum)); err != nil || !st.Mode().IsRegular() || len(rs) == 0 {
			continue // no blob to link to (GC or check will tell), or no user
		}
		if _, err := r.relinkUsers(s.blobPath(sum), rs); err != nil {
			errs = append(errs, fmt.Errorf("blob %s: %w", sum, err))
		}
	}
	return errors.Join(errs...)
}

// resealDirs takes away the owner's write permission that relink adds for a
// moment, from dir and every folder of rel's path below it.
func resealDirs(dir, rel string) error {
	p := dir
	parts := strings.Split(rel, "/")
	for i := 0; i < len(parts); i++ {
		st, err := os.Lstat(p)
		if err != nil || !st.IsDir() {
			return nil
		}
		if perm := st.Mode().Perm(); perm&0o200 != 0 {
			if err := os.Chmod(p, perm&^0o200); err != nil {
				return err
			}
		}
		if i < len(parts)-1 {
			p = filepath.Join(p, parts[i])
		}
	}
	return nil
}
