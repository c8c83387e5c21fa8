package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// GC deletes, under the store lock, what no version uses: blobs whose link
// count is 1 (only their objects/ entry), tmp/ entries no live process holds,
// and version folders left without metadata by a killed commit. It returns
// how many blobs it deleted and their total size.
func (s *Store) GC() (removedBlobs int, freed int64, err error) {
	unlock, err := s.lock(context.Background())
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	errs := []error{s.cleanTmp(), s.recoverAll()}
	objects := filepath.Join(s.Root, dirObjects, "sha256")
	subs, err := os.ReadDir(objects)
	if err != nil {
		return 0, 0, fmt.Errorf("store %q: %w", s.Root, err)
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		dir := filepath.Join(objects, sub.Name())
		blobs, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed := 0
		for _, b := range blobs {
			p := filepath.Join(dir, b.Name())
			st, err := os.Lstat(p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			sys, ok := st.Sys().(*syscall.Stat_t)
			if !ok || !st.Mode().IsRegular() || sys.Nlink != 1 {
				continue
			}
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
			removedBlobs++
			freed += st.Size()
		}
		switch {
		case removed > 0 && removed == len(blobs) && os.Remove(dir) == nil:
			errs = append(errs, syncDir(objects))
		case removed > 0:
			errs = append(errs, syncDir(dir))
		}
	}
	return removedBlobs, freed, errors.Join(errs...)
}

// Meta returns the stored metadata of a version.
func (s *Store) Meta(v *Version) (*Meta, error) {
	esc, err := EscapeName(v.Name)
	if err != nil {
		return nil, err
	}
	if !validID(v.ID) {
		return nil, fmt.Errorf("model %q: version id %q: %w", v.Name, v.ID, ErrNotFound)
	}
	_, m, err := s.load(esc, v.ID)
	return m, err
}

// Verify re-hashes the version's folder in the store (OMS files mode,
// SHA-256) and compares it with the items of its metadata, whose root must
// be the recorded root. The signature file, if any, must be unchanged too
// (Missing or Changed otherwise). The folder is found from v.Name and v.ID,
// never from v.Dir. A non-empty Diff means the version was tampered with; an
// error means it could not be checked (a symbolic link or special file where
// a file should be is an error, never a clean result).
func (s *Store) Verify(ctx context.Context, v *Version) (manifest.Diff, error) {
	d, _, err := s.VerifyHashed(ctx, v)
	return d, err
}

// VerifyHashed is Verify, and also returns what it hashed (SHA-256 of the
// files as its walk saw them), for a signature check of the same files that
// need not hash them again (oms.VerifyOptions.Known).
func (s *Store) VerifyHashed(ctx context.Context, v *Version) (manifest.Diff, []manifest.Hashed, error) {
	esc, err := EscapeName(v.Name)
	if err != nil {
		return manifest.Diff{}, nil, err
	}
	m, err := s.Meta(v)
	if err != nil {
		return manifest.Diff{}, nil, err
	}
	diff, hashed, _, err := s.hashVersion(ctx, v, esc, m)
	return diff, hashed, err
}

const digestSHA256 = digest.SHA256

// hashOne returns the hex SHA-256 of the file at p, which must have size
// bytes and not change while it is read (no symbolic link).
func hashOne(ctx context.Context, p string, size int64) (string, error) {
	sums, _, err := digest.Run(ctx, digest.SHA256, []digest.Task{{Path: p, Length: size, Size: size, NoFollow: true}}, 1)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(sums[0]), nil
}

// hexSum decodes a hex SHA-256.
func hexSum(s string) ([]byte, error) {
	d, err := hex.DecodeString(s)
	if err != nil || len(d) != 32 {
		return nil, fmt.Errorf("%w: SHA-256 %q", ErrCorrupt, s)
	}
	return d, nil
}
