package store

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
	"syscall"

	"github.com/ttsguard/ttsguard/internal/crypt"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/policy"
)

// Encryption at rest (docs/storage.md): with keys, Commit writes every file
// of a model's manifest into objects/ as the age file of its content, for
// every recipient; the blob keeps the name of its plaintext's SHA-256, so
// the metadata, the lock file's pins and the signature all stay over the
// plaintext. The signature and provenance files are stored as they are.
// Whether a blob is encrypted is told by its first bytes (crypt.Magic), so
// a store in the middle of `store encrypt` (some blobs converted, some not)
// reads as well as one at either end. A model file whose plaintext itself
// starts with the age header cannot be kept in a store: it would be read as
// an age file and fail verification (never pass it).

// Encryption makes the store encrypt the model files it commits to k's
// recipients and decrypt with k's identity file what it reads.
func Encryption(k *crypt.Keys) Option {
	return func(o *openOptions) { o.keys = k }
}

// Options are the Open options the policy asks for: its serving group and,
// with store.encryption, the store's keys.
func Options(pol *policy.Policy) ([]Option, error) {
	opts := []Option{ServingGroup(pol.Run.Group)}
	if pol.Encryption.Set {
		k, err := crypt.NewKeys(pol.Encryption.Recipients, pol.Encryption.Identity)
		if err != nil {
			return nil, fmt.Errorf("policy store.encryption: %w", err)
		}
		opts = append(opts, Encryption(k))
	}
	return opts, nil
}

// Encrypts says whether Commit encrypts (the store was opened with keys).
func (s *Store) Encrypts() bool { return s.keys != nil && len(s.keys.Recipients) > 0 }

// Keys are the store's keys, or nil.
func (s *Store) Keys() *crypt.Keys { return s.keys }

// Encrypted reports whether any file of version v is stored encrypted.
func (s *Store) Encrypted(v *Version) (bool, error) {
	m, err := s.Meta(v)
	if err != nil {
		return false, err
	}
	esc, err := EscapeName(v.Name)
	if err != nil {
		return false, err
	}
	dir := filepath.Join(s.modelDir(esc), m.ID)
	for _, f := range m.Files {
		if !cleanRel(f.Path) {
			return false, fmt.Errorf("version %q of %q: %w: path %q", m.ID, m.Name, ErrCorrupt, f.Path)
		}
		enc, err := crypt.IsAgeFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return false, fmt.Errorf("%s: %w", v.Name, err)
		}
		if enc {
			return true, nil
		}
	}
	return false, nil
}

// OpenPlain opens the stored file p for reading its content: the file
// itself when it is plaintext, else a sealed memfd holding its decrypted
// plaintext (crypt.PlainMemfd; nothing is written to a disk). The caller
// closes it. It returns the content's size.
func (s *Store) OpenPlain(p string) (*os.File, int64, error) {
	f, size, enc, err := openStored(p)
	if err != nil {
		return nil, 0, err
	}
	if !enc {
		return f, size, nil
	}
	defer f.Close()
	mf, size, err := crypt.PlainMemfd(f, s.keys, filepath.Base(p))
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", p, err)
	}
	return mf, size, nil
}

// contentSum returns the SHA-256 of the content of the walked file f: of
// its bytes, or of its plaintext when it is an age file. A file that
// changes while it is read (another inode or size than the walk saw) is an
// error. An age file that cannot be decrypted because no identity matches,
// or without an identity file, is an error (it cannot be checked); one
// whose ciphertext is damaged or cut has a nil digest (it differs from any
// manifest).
func (s *Store) contentSum(ctx context.Context, f manifest.File) ([]byte, bool, error) {
	fh, err := os.OpenFile(f.Path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, false, err
	}
	defer fh.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(fh.Fd()), &st); err != nil {
		return nil, false, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size != f.Size || (f.ID.Ino != 0 && (st.Ino != f.ID.Ino || uint64(st.Dev) != f.ID.Dev)) {
		return nil, false, fmt.Errorf("%q changed while it was hashed", f.Path)
	}
	head := make([]byte, len(crypt.Magic))
	n, _ := io.ReadFull(fh, head)
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, false, err
	}
	if !crypt.IsAge(head[:n]) {
		h := sha256.New()
		if m, err := io.Copy(h, ctxReader{ctx, fh}); err != nil || m != f.Size {
			return nil, false, errors.Join(err, fmt.Errorf("%q changed while it was hashed", f.Path))
		}
		return h.Sum(nil), false, nil
	}
	ids, err := s.keys.Identities()
	if err != nil {
		return nil, true, fmt.Errorf("%s is encrypted: %w", f.Path, err)
	}
	sum, _, err := crypt.HashPlaintext(ctxReader{ctx, fh}, ids)
	switch {
	case err == nil:
		return sum[:], true, nil
	case ctx.Err() != nil:
		return nil, true, ctx.Err()
	case crypt.NoIdentityMatches(err):
		return nil, true, fmt.Errorf("%s is encrypted to other keys than store.encryption.identity holds: %w", f.Path, err)
	}
	return nil, true, nil // damaged: differs
}

// hashFiles hashes walked files as hashVersion does: plaintext files in
// parallel (manifest.Hash), age files one by one through their plaintext.
// An item's End is the stored file's size (so manifest.Pair matches it with
// its walked file); files mode compares names and digests only.
func (s *Store) hashFiles(ctx context.Context, files []manifest.File) (*manifest.Manifest, error) {
	var plain, enc []manifest.File
	for _, f := range files {
		isAge, err := crypt.IsAgeFile(f.Path)
		if err != nil {
			return nil, err
		}
		if isAge {
			enc = append(enc, f)
		} else {
			plain = append(plain, f)
		}
	}
	m, err := manifest.Hash(ctx, plain, manifest.Options{Method: manifest.MethodFiles, HashType: digestSHA256})
	if err != nil || len(enc) == 0 {
		return m, err
	}
	for _, f := range enc {
		d, _, err := s.contentSum(ctx, f)
		if err != nil {
			return nil, err
		}
		m.Items = append(m.Items, manifest.Item{Name: f.Name, File: f.Name, End: f.Size, Digest: d})
		m.Files++
		m.Bytes += f.Size
	}
	manifest.Sort(m.Items)
	return m, nil
}

// PlainFile is the content of one file of a stored version in a sealed
// memfd (crypt.SealedMemfd), positioned at 0.
type PlainFile struct {
	Path string // slash-separated, relative to the version folder
	File *os.File
	Size int64
}

// PlainMemfds puts the content of every file of version v (its model files,
// decrypted when encrypted, and its signature and provenance files) into
// sealed memfds, sorted by path, each checked against the SHA-256 and size
// its metadata records: what `run` gives the command of a model
// encrypted at rest. Nothing is written to a disk, and no file's plaintext
// is held in this process's own memory. The caller closes the files; on an
// error none is left open.
func (s *Store) PlainMemfds(ctx context.Context, v *Version) (_ []PlainFile, err error) {
	m, err := s.Meta(v)
	if err != nil {
		return nil, err
	}
	esc, err := EscapeName(v.Name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.modelDir(esc), m.ID)
	var out []PlainFile
	defer func() {
		if err != nil {
			for _, f := range out {
				f.File.Close()
			}
		}
	}()
	for _, f := range metaFiles(m) {
		if !cleanRel(f.Path) {
			return nil, fmt.Errorf("version %q of %q: %w: path %q", m.ID, m.Name, ErrCorrupt, f.Path)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in, _, err := s.openContent(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", v.Name, f.Path, err)
		}
		// Hashed as it is written: no other process holds the memfd before
		// it is sealed, so the bytes hashed are the bytes sealed.
		h := sha256.New()
		mf, n, err := crypt.SealedMemfd(io.TeeReader(ctxReader{ctx, io.LimitReader(in, f.Size+1)}, h), path.Base(f.Path))
		in.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", v.Name, f.Path, err)
		}
		out = append(out, PlainFile{Path: f.Path, File: mf, Size: n})
		if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
			return nil, fmt.Errorf("%s: %s: %w: its content does not match the metadata", v.Name, f.Path, ErrCorrupt)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
