package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// crashHook, when set (by tests only), is called between every durable step
// of Commit with the step's name. Production code never sets it.
var crashHook func(step string)

func step(name string) {
	if crashHook != nil {
		crashHook(name)
	}
}

// lock takes the exclusive store lock, waiting until ctx is done.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.Root, lockName), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store %q: lock: %w", s.Root, err)
	}
	for delay := 2 * time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing the last descriptor releases the flock
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("store %q: lock: %w", s.Root, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("store %q: waiting for the lock: %w", s.Root, ctx.Err())
		case <-time.After(delay):
		}
	}
}

// tryLock takes the store lock if it is free.
func (s *Store) tryLock() (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(s.Root, lockName), os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return func() { f.Close() }, true, nil
}

// newTmp creates a private folder (0700) under tmp/ and holds a flock on it
// until release, which deletes it. cleanTmp never touches a held folder.
func (s *Store) newTmp(prefix string) (dir string, release func(), err error) {
	tmp := filepath.Join(s.Root, dirTmp)
	for try := 0; try < 10; try++ {
		dir, err := os.MkdirTemp(tmp, prefix)
		if err != nil {
			return "", nil, fmt.Errorf("store %q: %w", s.Root, err)
		}
		f, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue // a concurrent cleanTmp took it before we could hold it
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil || !sameFile(f, dir) {
			f.Close()
			continue
		}
		return dir, func() { removeTree(dir); f.Close() }, nil
	}
	return "", nil, fmt.Errorf("store %q: could not create a work folder under tmp/", s.Root)
}

func sameFile(f *os.File, p string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Lstat(p)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// cleanTmp deletes every entry of tmp/ that no live process holds, except
// work folders with a relink journal (recoverRelinks deletes those).
func (s *Store) cleanTmp() error {
	tmp := filepath.Join(s.Root, dirTmp)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("store %q: %w", s.Root, err)
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		if !e.IsDir() {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		if hasJournal(p) {
			continue // recoverRelinks finishes its work first, under the store lock
		}
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			if err := removeTree(p); err != nil {
				errs = append(errs, err)
			}
		}
		f.Close()
	}
	return errors.Join(errs...)
}

// recoverAll finishes the relinks of killed commits and repairs
// (recoverRelinks) and removes, in every model folder, what killed commits
// left. The caller holds the store lock.
func (s *Store) recoverAll() error {
	errs := []error{s.recoverRelinks()}
	ents, err := os.ReadDir(filepath.Join(s.Root, dirModels))
	if err != nil {
		return fmt.Errorf("store %q: %w", s.Root, err)
	}
	for _, e := range ents {
		if e.IsDir() {
			errs = append(errs, s.recoverModel(e.Name()))
		}
	}
	return errors.Join(errs...)
}

// recoverModel removes version folders without metadata (a commit killed
// between its two renames), stat records without metadata, and a model
// folder left empty. The caller holds
// the store lock.
func (s *Store) recoverModel(esc string) error {
	md := s.modelDir(esc)
	ents, err := os.ReadDir(md)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store %q: %w", md, err)
	}
	if len(ents) == 0 {
		if err := os.Remove(md); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return syncDir(filepath.Dir(md))
	}
	for _, e := range ents {
		if !e.IsDir() || !validID(e.Name()) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(md, e.Name()+".json")); errors.Is(err, fs.ErrNotExist) {
			if err := s.discard(filepath.Join(md, e.Name())); err != nil {
				return err
			}
		}
	}
	return removeOrphanRecords(md, ents)
}

// removeTree deletes p and everything below it, making read-only folders
// writable first. A missing p is not an error.
func removeTree(p string) error {
	err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // RemoveAll reports what remains
		}
		if d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("remove %q: %w", p, err)
	}
	return nil
}

// WriteFileAtomic replaces path with data of mode perm: a temporary file in
// the same folder, fsync, rename over path, fsync of the folder. A reader
// sees the old content or the new, never a mix; on error nothing is left
// behind.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %q: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a folder so that renames and links in it are durable.
func syncDir(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("sync %q: %w", p, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %q: %w", p, err)
	}
	return nil
}

// syncFile fsyncs a file's data (a read-only descriptor is enough on Linux).
func syncFile(p string) error {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("sync %q: %w", p, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %q: %w", p, err)
	}
	return nil
}

// writeFileSync creates p (which must not exist) with data and perm, synced.
func writeFileSync(p string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %q: %w", p, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return fmt.Errorf("write %q: %w", p, err)
	}
	return nil
}

// cleanRel checks that p is a clean, relative, slash-separated path inside its folder.
func cleanRel(p string) bool {
	if p == "" || p == "." || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	return true
}
