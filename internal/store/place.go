package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/crypt"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// fileID is what Commit saw of a staged file, to detect a swap before it moves it.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64 // nanoseconds
	nlink    uint64
}

func statID(p string) (fileID, error) {
	st, err := os.Lstat(p)
	if err != nil {
		return fileID{}, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !st.Mode().IsRegular() || !ok {
		return fileID{}, fmt.Errorf("%q: not a regular file", p)
	}
	return fileID{dev: uint64(sys.Dev), ino: sys.Ino, size: st.Size(), mtime: st.ModTime().UnixNano(), nlink: uint64(sys.Nlink)}, nil
}

// placeBlob puts the verified staged file f (hex SHA-256 sum) into objects/.
//
// When the blob is there already, f replaces it: the stored blob may have
// been damaged since it was committed (a blob is shared by every version
// that holds its content, so reusing a damaged one spreads the damage), and
// f's bytes were verified just now, so a rename over it is as cheap as a
// reuse and repairs it. The replacement is atomic (a reader sees the old
// blob or the new one, whole), is not undone when the commit fails (the new
// blob is correct whatever happens next, and f is consumed), and leaves the
// versions that shared the old blob linked to the old inode until
// relinkPlaced links them to the new one. A second file of this commit with
// the same content is left in staged. With enc (a model file of an
// encrypting store), the blob is the age file of f's content (encryptBlob).
func (c *commit) placeBlob(ctx context.Context, f manifest.File, id fileID, sum string, enc bool) error {
	if c.placed[sum] {
		return nil
	}
	bp := c.s.blobPath(sum)
	replacing := false
	if st, err := os.Lstat(bp); err == nil {
		if st.IsDir() {
			return fmt.Errorf("blob %q: %w: a folder", bp, ErrCorrupt)
		}
		replacing = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %q: %w", bp, err)
	}
	sub := filepath.Dir(bp)
	if err := os.Mkdir(sub, 0o750); err == nil {
		c.undo = append(c.undo, func() { os.Remove(sub) })
		c.synced[filepath.Dir(sub)] = false
	} else if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("blob %q: %w", bp, err)
	}
	c.synced[sub] = false
	if now, err := statID(f.Path); err != nil || now != id {
		return fmt.Errorf("staged file %q changed after it was hashed", f.Path)
	}
	move := c.moveBlob
	if enc {
		move = c.encryptBlob
	}
	if err := move(ctx, f, id, sum, bp, replacing); err != nil {
		return err
	}
	c.placed[sum] = true
	c.notePlaced(sum, bp)
	if replacing {
		step("blob replaced")
	} else {
		step("blob moved")
	}
	return nil
}

// placedBlob is a blob as this commit placed it: the inode its verified
// content is in (stat after placing), and its fs-verity digest or "".
type placedBlob struct {
	id     fileID
	verity string
}

// notePlaced turns fs-verity on for the blob just placed at bp where the
// filesystem supports it (the first blob that it fails on for lack of
// support ends the tries of this commit) and notes the blob's inode for the
// stat records. Neither is needed for the commit to succeed.
func (c *commit) notePlaced(sum, bp string) {
	var b placedBlob
	if c.verity == "" || c.verity == "enabled" {
		d, err := enableVerity(bp)
		switch {
		case err == nil:
			b.verity, c.verity = d, "enabled"
		case errors.Is(err, errVerityUnsupported):
			c.verity = "not available: " + err.Error()
		}
	}
	id, err := statID(bp)
	if err != nil {
		return
	}
	b.id = id
	c.blobs[sum] = b
}

// moveBlob renames f over bp, or copies it when it has other hard links or
// lies on another filesystem.
func (c *commit) moveBlob(ctx context.Context, f manifest.File, id fileID, sum, bp string, replacing bool) error {
	if id.nlink != 1 {
		// Another name shares this inode (perhaps outside staged): moving it
		// would let writes through that name change the blob. Copy instead.
		return c.copyBlob(ctx, f, id.size, sum, bp, replacing, false)
	}
	if err := os.Chmod(f.Path, 0o444); err != nil {
		return err
	}
	if err := syncFile(f.Path); err != nil {
		return err
	}
	err := os.Rename(f.Path, bp)
	if errors.Is(err, syscall.EXDEV) {
		return c.copyBlob(ctx, f, id.size, sum, bp, replacing, false)
	}
	if err != nil {
		return fmt.Errorf("blob %q: %w", bp, err)
	}
	if !replacing {
		c.undo = append(c.undo, func() { os.Rename(bp, f.Path) })
	}
	if now, err := statID(bp); err != nil || now != id {
		return fmt.Errorf("staged file %q changed while it was moved", f.Path)
	}
	return nil
}

// encryptBlob writes the age file of f's content into bp (copyBlob with
// encryption to the store's recipients); f stays in staged.
func (c *commit) encryptBlob(ctx context.Context, f manifest.File, id fileID, sum, bp string, replacing bool) error {
	return c.copyBlob(ctx, f, id.size, sum, bp, replacing, true)
}

// copyBlob copies f (on another filesystem, or with other hard links) into
// bp through a hash that must give sum: the bytes stored are the bytes
// verified. With enc, what it writes is the age file of those bytes for
// the store's recipients.
func (c *commit) copyBlob(ctx context.Context, f manifest.File, size int64, sum, bp string, replacing, enc bool) error {
	in, err := os.OpenFile(f.Path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := filepath.Join(c.work, "blob-"+sum)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	h := sha256.New()
	var w io.Writer = out
	var ew io.WriteCloser
	if enc {
		if ew, err = crypt.Encrypt(out, c.s.keys.Recipients); err != nil {
			return fmt.Errorf("encrypt %q: %w", f.Path, err)
		}
		w = ew
	}
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(ctxReader{ctx, in}, size+1))
	if err == nil && ew != nil {
		err = ew.Close()
	}
	if err != nil {
		return fmt.Errorf("copy %q: %w", f.Path, err)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("staged file %q changed after it was hashed", f.Path)
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("copy %q: %w", f.Path, err)
	}
	if err := out.Chmod(0o444); err != nil {
		return err
	}
	if err := os.Rename(tmp, bp); err != nil {
		return fmt.Errorf("blob %q: %w", bp, err)
	}
	if !replacing {
		c.undo = append(c.undo, func() { os.Remove(bp) })
	}
	step("blob copied")
	return nil
}

// relinkPlaced links every stored version file that names a blob this
// commit placed or replaced, and is not a hard link to it, to the blob: the
// versions that shared a replaced blob share the new one (see relinkUsers).
// The blobs' folders must have been synced first.
func (c *commit) relinkPlaced() error {
	if len(c.placed) == 0 {
		return nil
	}
	refs, _ := c.s.blobRefs() // a version whose metadata cannot be read is reported by check and doctor
	sums := make([]string, 0, len(c.placed))
	for sum := range c.placed {
		if len(refs[sum]) > 0 {
			sums = append(sums, sum)
		}
	}
	sort.Strings(sums)
	r := &relinker{s: c.s, work: c.work}
	for _, sum := range sums {
		done, err := r.relinkUsers(c.s.blobPath(sum), refs[sum])
		for _, u := range done {
			esc, _ := EscapeName(u.Name)
			if c.relinked == nil {
				c.relinked = map[string]map[string]bool{}
			}
			if c.relinked[esc] == nil {
				c.relinked[esc] = map[string]bool{}
			}
			c.relinked[esc][u.ID] = true
		}
		if err != nil {
			return fmt.Errorf("blob %s: %w", sum, err)
		}
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// syncTouched fsyncs every objects/ folder this commit added entries to.
func (c *commit) syncTouched() error {
	for p, done := range c.synced {
		if !done {
			if err := syncDir(p); err != nil {
				return err
			}
			c.synced[p] = true
		}
	}
	return nil
}

// buildTree links every file's blob into tree, then syncs its folders and
// seals (0555) those below tree, deepest first.
func (c *commit) buildTree(tree string, files []MetaFile) error {
	if err := os.Mkdir(tree, 0o700); err != nil {
		return err
	}
	dirs := []string{tree}
	seen := map[string]bool{tree: true}
	for _, f := range files {
		dst := filepath.Join(tree, filepath.FromSlash(f.Path))
		for d := filepath.Dir(dst); !seen[d]; d = filepath.Dir(d) {
			seen[d] = true
			dirs = append(dirs, d)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.Link(c.s.blobPath(f.SHA256), dst); err != nil {
			return fmt.Errorf("link %q: %w", f.Path, err)
		}
	}
	// A child's path is longer than its parent's: longest first seals children first.
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	for _, d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
		// The top folder stays writable until it has been renamed into
		// models/: moving a folder to another parent needs write permission
		// on it (its ".." entry changes).
		if d != tree {
			if err := os.Chmod(d, 0o555); err != nil {
				return err
			}
		}
	}
	return nil
}

// setCurrent points models/<esc>/current at id: a symbolic link made under
// tmp/ and renamed over the old one, then the folder is synced.
func (s *Store) setCurrent(md, id string) error {
	if cur, err := os.Readlink(filepath.Join(md, currentName)); err == nil && cur == id {
		return nil
	}
	work, release, err := s.newTmp("current-")
	if err != nil {
		return err
	}
	defer release()
	tmp := filepath.Join(work, currentName)
	if err := os.Symlink(id, tmp); err != nil {
		return err
	}
	if err := syncDir(work); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(md, currentName)); err != nil {
		return err
	}
	if err := syncDir(md); err != nil {
		return err
	}
	step("current renamed")
	return nil
}
