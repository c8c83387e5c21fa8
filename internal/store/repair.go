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
	side bool // the signature or provenance file, not a model file
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
			files := append(m.Files[:len(m.Files):len(m.Files)], m.SideFiles()...)
			for i, f := range files {
				if !cleanRel(f.Path) || !isHexSum(f.SHA256) {
					continue
				}
				refs[f.SHA256] = append(refs[f.SHA256], blobRef{BlobUser: BlobUser{Name: m.Name, ID: id, Path: f.Path, Current: id == cur},
					dir: v.Dir, size: f.Size, side: i >= len(m.Files)})
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
