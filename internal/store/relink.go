package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

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
