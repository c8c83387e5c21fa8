package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"
)

// ErrUnsafeLocal is wrapped by the errors of a local source (folder, archive,
// single file or --signature file) that is or holds a symbolic link or a
// special file, or that changed while it was copied.
var ErrUnsafeLocal = errors.New("unsafe local source")

// localCopy copies a local source into a staging folder without ever
// following a symbolic link: a link in the folder, or one swapped in for a
// file or folder between the walk and the copy, must not bring a file the
// caller can read but the folder's owner cannot (/etc/shadow, a 0600 key)
// into the store.
//
// The source itself is looked at with lstat and opened with O_NOFOLLOW, and
// the opened descriptor must be the object lstat saw (device, inode, type).
// Below it, every entry is looked at with fstatat(AT_SYMLINK_NOFOLLOW) and
// opened with openat(O_NOFOLLOW) relative to its parent folder's descriptor,
// so that a folder swapped for a link after it was opened changes nothing,
// and the descriptor is compared with what fstatat saw. Files are opened
// with O_NONBLOCK (a FIFO swapped in cannot block the pull) and copied up to
// the size the walk saw: a file that grew or shrank is an error naming it.
// What the operator's path names above the source (its parent folders) is
// resolved by the kernel as usual.
type localCopy struct {
	// seen, when set (tests only), is called with an entry's slash path
	// (relative to the source; "." for the source itself) after its type
	// and identity were read and before it is opened.
	seen func(rel string)
}

// fileID is what the walk saw of an entry.
type fileID struct {
	dev, ino uint64
	typ      uint32 // st_mode & S_IFMT
	size     int64
}

func idOf(st *unix.Stat_t) fileID {
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino), typ: uint32(st.Mode) & unix.S_IFMT, size: st.Size}
}

func (lc localCopy) hook(rel string) {
	if lc.seen != nil {
		lc.seen(rel)
	}
}

// openSeen opens name (relative to the folder dirfd, or unix.AT_FDCWD)
// without following a link, and checks that it is the entry want the walk
// saw; shown names it in errors.
func openSeen(dirfd int, name, shown string, want fileID) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW
	if want.typ == unix.S_IFDIR {
		flags |= unix.O_DIRECTORY
	} else {
		flags |= unix.O_NONBLOCK
	}
	var fd int
	var err error
	for {
		fd, err = unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return nil, fmt.Errorf("%w: %q became a symbolic link or changed type while it was copied", ErrUnsafeLocal, shown)
		}
		return nil, fmt.Errorf("open %q: %w", shown, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat %q: %w", shown, err)
	}
	if got := idOf(&st); got.dev != want.dev || got.ino != want.ino || got.typ != want.typ {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: %q was replaced while it was copied (another file or folder is there now)", ErrUnsafeLocal, shown)
	}
	if want.typ != unix.S_IFDIR {
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("open %q: %w", shown, err)
		}
	}
	return os.NewFile(uintptr(fd), shown), nil
}

// lstatSource reads the source path itself; a symbolic link is refused.
func lstatSource(p string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fileID{}, fmt.Errorf("local source %q: %w", p, &os.PathError{Op: "lstat", Path: p, Err: err})
	}
	id := idOf(&st)
	switch id.typ {
	case unix.S_IFLNK:
		return id, fmt.Errorf("%w: %q is a symbolic link: give the path of the file or folder it points to (after checking who can change it)", ErrUnsafeLocal, p)
	case unix.S_IFDIR, unix.S_IFREG:
		return id, nil
	}
	return id, fmt.Errorf("%w: %q is not a regular file or folder", ErrUnsafeLocal, p)
}

// copyOne copies the regular file src (not a link) to dst, a new file, and
// returns the hex SHA-256 of the bytes copied.
func (lc localCopy) copyOne(ctx context.Context, src, dst string) (string, error) {
	id, err := lstatSource(src)
	if err != nil {
		return "", err
	}
	if id.typ != unix.S_IFREG {
		return "", fmt.Errorf("%w: %q is not a regular file", ErrUnsafeLocal, src)
	}
	lc.hook(".")
	f, err := openSeen(unix.AT_FDCWD, src, src, id)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return copyExact(ctx, f, src, id.size, dst)
}

// copyTree copies the folder src (not a link) into model, which exists, and
// records every file's digest in hashed.
func (lc localCopy) copyTree(ctx context.Context, src, model string, hashed map[string]known) error {
	id, err := lstatSource(src)
	if err != nil {
		return err
	}
	if id.typ != unix.S_IFDIR {
		return fmt.Errorf("%w: %q is not a folder", ErrUnsafeLocal, src)
	}
	lc.hook(".")
	d, err := openSeen(unix.AT_FDCWD, src, src, id)
	if err != nil {
		return err
	}
	defer d.Close()
	return lc.copyDir(ctx, d, src, "", model, hashed)
}

// copyDir copies the entries of the open folder d (at slash path rel in the
// source, shown as shown) into model.
func (lc localCopy) copyDir(ctx context.Context, d *os.File, shown, rel, model string, hashed map[string]known) error {
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %q: %w", shown, err)
	}
	sort.Strings(names)
	dirfd := int(d.Fd())
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, p := path.Join(rel, n), filepath.Join(shown, n)
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("stat %q: %w", p, err)
		}
		id := idOf(&st)
		dst := filepath.Join(model, filepath.FromSlash(r))
		switch id.typ {
		case unix.S_IFDIR:
			lc.hook(r)
			sub, err := openSeen(dirfd, n, p, id)
			if err != nil {
				return err
			}
			if err := os.Mkdir(dst, 0o700); err != nil {
				sub.Close()
				return err
			}
			err = lc.copyDir(ctx, sub, p, r, model, hashed)
			sub.Close()
			if err != nil {
				return err
			}
		case unix.S_IFREG:
			lc.hook(r)
			f, err := openSeen(dirfd, n, p, id)
			if err != nil {
				return err
			}
			sum, err := copyExact(ctx, f, p, id.size, dst)
			f.Close()
			if err != nil {
				return err
			}
			hashed[r] = known{sum, id.size}
		case unix.S_IFLNK:
			return fmt.Errorf("%w: %q is a symbolic link: a local model folder may hold only files and folders", ErrUnsafeLocal, p)
		default:
			return fmt.Errorf("%w: %q is a special file (not a regular file or folder)", ErrUnsafeLocal, p)
		}
	}
	return nil
}

// copyExact copies exactly size bytes of f (shown as shown) into dst, a new
// private file: a file that holds more or fewer bytes than the walk saw is
// an error, and nothing past size is read.
func copyExact(ctx context.Context, f *os.File, shown string, size int64, dst string) (string, error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(ctxReader{ctx, f}, size))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	var more int
	if err == nil && n == size {
		var b [1]byte
		more, err = f.Read(b[:]) // read, never copied
		if err == io.EOF {
			err = nil
		}
	}
	switch {
	case err != nil:
		err = fmt.Errorf("copy %q: %w", shown, err)
	case more > 0:
		err = fmt.Errorf("%w: %q grew while it was copied (more than the %d bytes the walk saw)", ErrUnsafeLocal, shown, size)
	case n < size:
		err = fmt.Errorf("%w: %q shrank while it was copied (%d bytes, the walk saw %d)", ErrUnsafeLocal, shown, n, size)
	}
	if err != nil {
		os.Remove(dst)
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
