// Package store keeps verified models in a read-only, content-addressed store
// on the local filesystem, and reads and writes the lock file that pins them.
//
// # Layout
//
//	<root>/                          0750, owned by the user running ttsguard (created by
//	                                 root: its group is the serving group, see group.go)
//	  .lock                          flock(2) taken (LOCK_EX) around Commit, Remove and GC
//	  objects/sha256/<2 hex>/<62 hex>  blobs, named by the SHA-256 of their content, 0444
//	  models/<escaped name>/         0750 (2750 with a serving group); the name escaped the way coqui names its folders:
//	                                 "tts_models/en/ljspeech/vits" -> "tts_models--en--ljspeech--vits"
//	    <id>/                        a version: the model folder in coqui's layout, built from
//	                                 hard links to blobs; files 0444, folders 0555. This is the
//	                                 folder to hand to `tts --model_path` / `tts-server`.
//	    <id>.json                    its metadata (see Meta), 0444
//	    <id>.stat                    its stat record: device, inode, size, times (and
//	                                 fs-verity digest) of each file when its content
//	                                 was last hashed, for fast re-verification (record.go), 0444
//	    current                      symbolic link whose target is the current <id>
//	  tmp/                           0700; private staging and work folders (same filesystem,
//	                                 so rename is atomic)
//
// A version id is the first 16 hex digits of the version's manifest root
// (SHA-256, OpenSSF Model Signing "files" serialization); committing the same
// content twice yields the same version.
//
// # Crash safety
//
// Commit makes a version visible with renames only, after every byte and
// folder below it has been synced: first the version folder, then its
// metadata (a version exists only once <id>.json does), then current. A kill
// at any moment leaves either no visible trace of the new version or all of
// it. What a killed commit can leave behind is invisible and cleaned: a work
// folder under tmp/ (removed by the next Open or GC once no live process holds
// it), a version folder without metadata (removed under the store lock by the
// next Open, Commit of that model, or GC), and blobs no version links to
// (link count 1, removed by GC). A commit that replaces an existing blob with
// its verified staged bytes first writes a relink journal into its work
// folder; after a kill, the next Open or GC finishes relinking every version
// that shares the blob, seals their folders 0555 again and deletes the
// journal (journal.go).
//
// # Concurrency
//
// Commit, Remove and GC hold an exclusive flock on <root>/.lock, so any number
// of goroutines and processes may call them at once. Get, List, Versions and
// Verify take no lock: they see each version either complete or not at all.
// Folders under tmp/ are held by a flock on the folder itself while in use.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// Store is a model store rooted at Root (an absolute path without symbolic links).
type Store struct {
	Root string
	keys *crypt.Keys // store.encryption; nil: blobs are committed as plaintext
}

// Errors callers can branch on; each is wrapped with the name or path concerned.
var (
	ErrNotFound     = errors.New("not in the store")
	ErrRootMismatch = errors.New("manifest root differs from the verified root")
	ErrUnsafeRoot   = errors.New("unsafe store folder")
	ErrBadName      = errors.New("invalid model name")
	ErrCorrupt      = errors.New("store is inconsistent")
)

const (
	dirObjects  = "objects"
	dirModels   = "models"
	dirTmp      = "tmp"
	lockName    = ".lock"
	currentName = "current"
	idLen       = 16
	maxNameLen  = 200
)

// Open opens the store at root, creating root (0750) and its objects/,
// models/ and tmp/ folders when missing. It refuses a root or store folder
// that is group- or world-writable, owned by another user, or not a folder.
// It then removes what killed commits left under tmp/ and, when no other
// process holds the store lock, version folders without metadata.
//
// A store that root creates gets its serving group (see ServingGroup and
// the layout in group.go): its folder the group, models/ the group and the
// setgid bit. Open fails, creating nothing, when the serving group the
// option names does not exist. An existing store's groups are left as they
// are (`ttsguard doctor --fix` repairs them); folders Open recreates in it
// follow its folder's group.
func Open(root string, opts ...Option) (*Store, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	if root == "" {
		return nil, fmt.Errorf("store: %w: empty path", ErrUnsafeRoot)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", root, err)
	}
	if _, err := os.Lstat(abs); errors.Is(err, fs.ErrNotExist) {
		gid, err := creationGroup(o)
		if err != nil {
			return nil, fmt.Errorf("store %q: %w", root, err)
		}
		if err := mkdirRoot(abs, gid); err != nil {
			return nil, fmt.Errorf("store %q: %w", root, err)
		}
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("store %q: %w", root, err)
	}
	if err := checkOwned(abs, root); err != nil {
		return nil, err
	}
	s := &Store{Root: abs, keys: o.keys}
	// Private folders get the creator's group. Run as root, models/ gets the
	// store folder's group when that is a serving group (not root's), with
	// the setgid bit, so that model folders created in it inherit it.
	own, modelsPerm, modelsGID := os.Getegid(), fs.FileMode(0o750), os.Getegid()
	if g := groupOf(abs); os.Geteuid() == 0 && g > 0 && g != own {
		modelsPerm, modelsGID = 0o750|fs.ModeSetgid, g
	}
	for _, d := range []struct {
		path string
		perm fs.FileMode
		gid  int
	}{
		{dirObjects, 0o750, own}, {filepath.Join(dirObjects, "sha256"), 0o750, own}, {dirModels, modelsPerm, modelsGID}, {dirTmp, 0o700, own},
	} {
		p := filepath.Join(abs, d.path)
		if _, err := mkdirGroup(p, d.perm, d.gid); err != nil {
			return nil, fmt.Errorf("store %q: %w", root, err)
		}
		if err := checkOwned(p, p); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(filepath.Join(abs, lockName), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store %q: lock file: %w", root, err)
	}
	f.Close()
	if err := checkOwned(filepath.Join(abs, lockName), filepath.Join(root, lockName)); err != nil {
		return nil, err
	}
	// Best effort: a failure here hides nothing and GC reports it.
	_ = s.cleanTmp()
	if unlock, ok, err := s.tryLock(); err == nil && ok {
		_ = s.recoverAll()
		unlock()
	}
	return s, nil
}

// checkOwned refuses p unless it is a folder (or, for the lock file, a regular
// file) owned by the effective user and not writable by group or others.
func checkOwned(p, shown string) error {
	st, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("store %q: %w", shown, err)
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		return fmt.Errorf("store %q: %w: %s, want a folder", shown, ErrUnsafeRoot, st.Mode().Type())
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("store %q: %w: mode %04o is writable by group or others (chmod go-w)", shown, ErrUnsafeRoot, st.Mode().Perm())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return fmt.Errorf("store %q: %w: owned by uid %d, not by this user (uid %d)", shown, ErrUnsafeRoot, sys.Uid, os.Geteuid())
	}
	return nil
}

// EscapeName returns the folder name of a model name: its "/"-separated
// components joined with "--", as coqui names model folders. A name is one or
// more components of ASCII letters, digits, '.', '_' and '-', each starting
// with a letter, digit or '_' and holding no "--"; at most 200 bytes. Anything
// else (empty, "..", NUL, absolute, backslash) is rejected with ErrBadName.
func EscapeName(name string) (string, error) {
	if name == "" || len(name) > maxNameLen {
		return "", fmt.Errorf("model name %q: %w: want 1 to %d bytes", name, ErrBadName, maxNameLen)
	}
	for _, c := range strings.Split(name, "/") {
		if c == "" || strings.Contains(c, "--") || !(isAlnum(c[0]) || c[0] == '_') {
			return "", fmt.Errorf("model name %q: %w: component %q", name, ErrBadName, c)
		}
		for i := 0; i < len(c); i++ {
			if !isAlnum(c[i]) && !strings.ContainsRune("._-", rune(c[i])) {
				return "", fmt.Errorf("model name %q: %w: byte %q", name, ErrBadName, c[i])
			}
		}
	}
	return strings.ReplaceAll(name, "/", "--"), nil
}

func isAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
}

func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !('0' <= id[i] && id[i] <= '9' || 'a' <= id[i] && id[i] <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) modelDir(esc string) string { return filepath.Join(s.Root, dirModels, esc) }

func (s *Store) blobPath(hex string) string {
	return filepath.Join(s.Root, dirObjects, "sha256", hex[:2], hex[2:])
}

// Get returns the current version of the named model, or an error wrapping
// ErrNotFound when the store has none.
func (s *Store) Get(name string) (*Version, error) {
	esc, err := EscapeName(name)
	if err != nil {
		return nil, err
	}
	id, err := s.current(esc)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	v, _, err := s.load(esc, id)
	if err != nil {
		return nil, err
	}
	if v.Name != name {
		return nil, fmt.Errorf("model %q: %w: metadata names %q", name, ErrCorrupt, v.Name)
	}
	return v, nil
}

// Stored reports, without opening (or creating) the store at root, whether
// it has a model called name: nil when models/<name>/current exists,
// ErrNotFound when it does not (or the store does not), ErrBadName for a
// name the store cannot hold, and any other error as it is.
func Stored(root, name string) error {
	esc, err := EscapeName(name)
	if err != nil {
		return err
	}
	_, err = os.Lstat(filepath.Join(root, dirModels, esc, currentName))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("model %q: %w", name, ErrNotFound)
	}
	return err
}

// current returns the id that models/<esc>/current names.
func (s *Store) current(esc string) (string, error) {
	p := filepath.Join(s.modelDir(esc), currentName)
	id, err := os.Readlink(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("%q: %w", p, err)
	}
	if !validID(id) {
		return "", fmt.Errorf("%q: %w: names %q", p, ErrCorrupt, id)
	}
	return id, nil
}

// List returns the current version of every model in the store, sorted by name.
func (s *Store) List() ([]*Version, error) {
	ents, err := os.ReadDir(filepath.Join(s.Root, dirModels))
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", s.Root, err)
	}
	var out []*Version
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		id, err := s.current(e.Name())
		if errors.Is(err, ErrNotFound) {
			continue // a commit in progress, or one that was killed
		}
		if err != nil {
			return nil, err
		}
		v, _, err := s.load(e.Name(), id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Versions returns every complete version of the named model, oldest first;
// an error wrapping ErrNotFound when there is none.
func (s *Store) Versions(name string) ([]*Version, error) {
	esc, err := EscapeName(name)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.modelDir(esc))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("model %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", name, err)
	}
	var out []*Version
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validID(id) {
			continue
		}
		v, _, err := s.load(esc, id)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("model %q: %w", name, ErrNotFound)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Remove removes every version of the named model at once (one rename out of
// models/, then deletion); the blobs stay until GC. It returns an error
// wrapping ErrNotFound when the store has no such model.
func (s *Store) Remove(name string) error {
	esc, err := EscapeName(name)
	if err != nil {
		return err
	}
	unlock, err := s.lock(context.Background())
	if err != nil {
		return err
	}
	defer unlock()
	md := s.modelDir(esc)
	if _, err := os.Lstat(md); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("model %q: %w", name, ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("model %q: %w", name, err)
	}
	return s.discard(md)
}

// discard moves p into a held tmp/ folder atomically, syncs, and deletes it.
// The caller holds the store lock.
func (s *Store) discard(p string) error {
	work, release, err := s.newTmp("rm-")
	if err != nil {
		return err
	}
	defer release()
	// Moving a folder to another parent needs write permission on it.
	st, err := os.Lstat(p)
	if err != nil {
		return fmt.Errorf("remove %q: %w", p, err)
	}
	if st.IsDir() && st.Mode().Perm()&0o200 == 0 {
		if err := os.Chmod(p, 0o700); err != nil {
			return fmt.Errorf("remove %q: %w", p, err)
		}
	}
	if err := os.Rename(p, filepath.Join(work, "x")); err != nil {
		os.Chmod(p, st.Mode().Perm())
		return fmt.Errorf("remove %q: %w", p, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return err
	}
	return removeTree(work)
}

// OpenRead opens the store at root for reading. A store the caller owns is
// opened as Open does. A store owned by root, opened by another user (an
// auditor or a server of the policy's access section, who reaches the models
// through the ACLs doctor --fix sets), is opened as it is: nothing is
// created, recovered or locked, and its folder and models/ must be root's and
// writable by nobody else. A store that does not exist is an error wrapping
// fs.ErrNotExist.
func OpenRead(root string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store %q: %w", root, err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return nil, fmt.Errorf("store %q: %w", root, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(abs, &st); err != nil {
		return nil, fmt.Errorf("store %q: %w", root, err)
	}
	if int(st.Uid) == os.Geteuid() || st.Uid != 0 {
		return Open(root, opts...)
	}
	for _, p := range []string{abs, filepath.Join(abs, dirModels)} {
		if err := checkRootOwned(p); err != nil {
			return nil, fmt.Errorf("store %q: %w", root, err)
		}
	}
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	return &Store{Root: abs, keys: o.keys}, nil
}

// checkRootOwned refuses p unless it is a folder owned by root and not
// writable by group or others.
func checkRootOwned(p string) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	switch {
	case st.Mode&syscall.S_IFMT != syscall.S_IFDIR:
		return fmt.Errorf("%w: %s is not a folder", ErrUnsafeRoot, p)
	case st.Uid != 0:
		return fmt.Errorf("%w: %s is owned by uid %d, not root", ErrUnsafeRoot, p, st.Uid)
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%w: %s has mode %04o, writable by group or others", ErrUnsafeRoot, p, st.Mode&0o7777)
	}
	return nil
}
