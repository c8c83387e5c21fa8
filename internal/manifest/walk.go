// Package manifest turns a model (a folder or a single file) into the ordered
// list of items that an OpenSSF Model Signing statement signs, following the
// rules of the reference implementation model_signing v1.1.1: which files are
// included, how they are named, how they are split into shards, in which order
// they are listed, and how the root digest is computed.
package manifest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultIgnorePaths are left out of every model folder, as the reference
// does: top-level git metadata. The signature file is added by the caller.
var DefaultIgnorePaths = []string{".git", ".gitattributes", ".github", ".gitignore"}

// Errors a walk can return; each is wrapped with the path it concerns.
var (
	ErrSymlink     = errors.New("symbolic link (use --allow-symlinks to hash its target)")
	ErrSpecialFile = errors.New("not a regular file, directory or symbolic link")
	ErrBrokenLink  = errors.New("broken symbolic link")
	ErrColonInName = errors.New("':' in a file name cannot be represented in shards mode")
	ErrIgnorePath  = errors.New("ignore path outside the model")
)

// File is one regular file of a model as the walk saw it.
type File struct {
	Name string // POSIX path relative to the model root; "." for a single-file model
	Path string // path on disk
	Size int64
	Link bool   // reached through a symbolic link (only with AllowSymlinks)
	ID   FileID // which version of which file the walk saw
}

// FileID tells one version of a file from another without reading it: a
// rename over it changes the inode, a write the modification and change
// times. The zero FileID means unknown.
type FileID struct {
	Dev, Ino       uint64
	MTimeNs, CTime int64
}

func idOf(info fs.FileInfo) FileID {
	s, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}
	}
	return FileID{Dev: uint64(s.Dev), Ino: s.Ino, MTimeNs: s.Mtim.Nano(), CTime: s.Ctim.Nano()}
}

// Hashed is a whole file's SHA-256 together with the file the walk saw.
type Hashed struct {
	File   File
	Digest []byte
}

// Pair matches files-mode items (a whole file each) with the walked files
// they were hashed from.
func Pair(files []File, items []Item) []Hashed {
	byName := make(map[string]File, len(files))
	for _, f := range files {
		byName[f.Name] = f
	}
	var out []Hashed
	for _, it := range items {
		if f, ok := byName[it.File]; ok && it.Name == it.File && it.Start == 0 && it.End == f.Size {
			out = append(out, Hashed{File: f, Digest: it.Digest})
		}
	}
	return out
}

// WalkOptions select what a walk includes.
type WalkOptions struct {
	AllowSymlinks bool
	// IgnorePaths are POSIX paths relative to the model root; a path ignores
	// itself and everything below it (whole components only).
	IgnorePaths []string
}

// Walk lists the files of the model at root (a folder or a single file) in
// no particular order. Hidden files are included; empty folders add nothing.
// A symlink is an error unless AllowSymlinks, in which case a link to a file
// is listed under its own name with its target's content and a link to a
// folder adds nothing (as the reference does). FIFOs, sockets, devices and
// broken links are errors.
func Walk(root string, opts WalkOptions) ([]File, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", root, err)
	}
	if st.Mode().IsRegular() {
		return []File{{Name: ".", Path: root, Size: st.Size(), ID: idOf(st)}}, nil
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("model %q: %w", root, ErrSpecialFile)
	}
	ignore := make(map[string]bool, len(opts.IgnorePaths))
	for _, p := range opts.IgnorePaths {
		ignore[p] = true
	}
	var files []File
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("model %q: %w", root, err)
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if ignore[name] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			return nil
		case t.IsRegular():
			info, err := d.Info()
			if err != nil {
				return fmt.Errorf("%q: %w", p, err)
			}
			files = append(files, File{Name: name, Path: p, Size: info.Size(), ID: idOf(info)})
			return nil
		case t&fs.ModeSymlink != 0:
			if !opts.AllowSymlinks {
				return fmt.Errorf("%q: %w", p, ErrSymlink)
			}
			info, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("%q: %w: %w", p, ErrBrokenLink, err)
			}
			switch {
			case info.IsDir():
				return nil
			case info.Mode().IsRegular():
				files = append(files, File{Name: name, Path: p, Size: info.Size(), Link: true, ID: idOf(info)})
				return nil
			}
			return fmt.Errorf("%q: link target %w", p, ErrSpecialFile)
		default:
			return fmt.Errorf("%q: %w (%s)", p, ErrSpecialFile, t.Type())
		}
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// NormalizeIgnorePath turns a user-given ignore path (relative to the model
// root, or absolute and inside it) into a clean POSIX path relative to root.
// A path outside the model is an error.
func NormalizeIgnorePath(root, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("ignore path %q: empty", p)
	}
	rel := p
	if filepath.IsAbs(p) {
		absRoot, err := filepath.Abs(root)
		if err != nil {
			return "", err
		}
		if rel, err = filepath.Rel(absRoot, p); err != nil {
			return "", fmt.Errorf("ignore path %q: %w", p, err)
		}
	}
	c := path.Clean(filepath.ToSlash(rel))
	if c == ".." || strings.HasPrefix(c, "../") || c == "." {
		return "", fmt.Errorf("ignore path %q: %w %q", p, ErrIgnorePath, root)
	}
	return c, nil
}
