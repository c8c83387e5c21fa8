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

// placeBlob puts the verified staged file f (hex SHA-256 sum) into objects/,
// unless the blob is there already.
func (c *commit) placeBlob(ctx context.Context, f manifest.File, id fileID, sum string) error {
	bp := c.s.blobPath(sum)
	if st, err := os.Lstat(bp); err == nil {
		if !st.Mode().IsRegular() || st.Size() != id.size {
			return fmt.Errorf("blob %q: %w: %s, %d bytes, want a %d-byte file", bp, ErrCorrupt, st.Mode().Type(), st.Size(), id.size)
		}
		return nil
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
	if id.nlink != 1 {
		// Another name shares this inode (perhaps outside staged): moving it
		// would let writes through that name change the blob. Copy instead.
		return c.copyBlob(ctx, f, id.size, sum, bp)
	}
	if err := os.Chmod(f.Path, 0o444); err != nil {
		return err
	}
	if err := syncFile(f.Path); err != nil {
		return err
	}
	err := os.Rename(f.Path, bp)
	if errors.Is(err, syscall.EXDEV) {
		return c.copyBlob(ctx, f, id.size, sum, bp)
	}
	if err != nil {
		return fmt.Errorf("blob %q: %w", bp, err)
	}
	c.undo = append(c.undo, func() { os.Rename(bp, f.Path) })
	if now, err := statID(bp); err != nil || now != id {
		return fmt.Errorf("staged file %q changed while it was moved", f.Path)
	}
	step("blob moved")
	return nil
}

// copyBlob copies f (on another filesystem, or with other hard links) into
// bp through a hash that must give sum: the bytes stored are the bytes verified.
func (c *commit) copyBlob(ctx context.Context, f manifest.File, size int64, sum, bp string) error {
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
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(ctxReader{ctx, in}, size+1))
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
	c.undo = append(c.undo, func() { os.Remove(bp) })
	step("blob copied")
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
