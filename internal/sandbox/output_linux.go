//go:build linux && (amd64 || arm64)

package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// outputFolder checks an output folder for Prepare without creating it: an
// existing one must be a real folder (not a link) of the caller; a missing
// one needs an existing parent folder.
func outputFolder(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%w: output folder: %w", ErrSpec, err)
	}
	st, err := os.Lstat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent, perr := os.Stat(filepath.Dir(abs))
		if perr != nil || !parent.IsDir() {
			return "", fmt.Errorf("%w: output folder %s: its parent folder does not exist", ErrSpec, abs)
		}
		return abs, nil
	case err != nil:
		return "", fmt.Errorf("%w: output folder: %w", ErrSpec, err)
	case !st.IsDir():
		return "", fmt.Errorf("%w: output folder %s: not a folder (links are not followed)", ErrSpec, abs)
	}
	if uid := int(st.Sys().(*syscall.Stat_t).Uid); uid != os.Geteuid() {
		return "", fmt.Errorf("%w: output folder %s: owned by uid %d, not by you (uid %d)", ErrSpec, abs, uid, os.Geteuid())
	}
	return abs, nil
}

// prepareOutput creates the output folder when missing (0700, the
// caller's) and, when the command runs as another user, hands the folder
// itself to that user for the run: only the command can write into it.
func (p *Plan) prepareOutput() error {
	if p.Output == "" {
		return nil
	}
	if err := os.Mkdir(p.Output, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("output folder: %w", err)
	}
	if _, err := outputFolder(p.Output); err != nil {
		return err // replaced by something else since Prepare
	}
	if p.Identity.Change {
		if err := os.Lchown(p.Output, p.Identity.UID, p.Identity.GID); err != nil {
			return fmt.Errorf("output folder: %w", err)
		}
	}
	return nil
}

// finishOutput gives the output folder, and everything in it the serving
// user owns, back to the caller (links are not followed). Every process of
// the command has ended by then.
func (p *Plan) finishOutput() error {
	if p.Output == "" || !p.Identity.Change {
		return nil
	}
	uid, gid := os.Geteuid(), os.Getegid()
	err := filepath.WalkDir(p.Output, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st := info.Sys().(*syscall.Stat_t); int(st.Uid) == p.Identity.UID || path == p.Output {
			return os.Lchown(path, uid, gid)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("output folder: give it back to uid %d: %w", uid, err)
	}
	return nil
}
