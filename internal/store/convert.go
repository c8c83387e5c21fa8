package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// Conversion is what Convert did.
type Conversion struct {
	Blobs     int `json:"blobs"`     // blobs that hold model files
	Converted int `json:"converted"` // rewritten by this run
	Skipped   int `json:"skipped"`   // already encrypted (encrypt only)
	Relinked  int `json:"relinked"`  // version files linked to a rewritten blob
}

// Convert rewrites, in place, every blob that holds a model file as an age
// file for the store's recipients: `store encrypt` (rekey false) converts
// the blobs that are still plaintext and leaves encrypted ones as they are;
// `store rekey` (rekey true) rewrites every one, decrypting with the
// store's identity file (which must hold an identity of the old
// recipients; age identity files may hold several) and encrypting to the
// recipients now in the policy. The signature and provenance files stay as
// they are.
//
// Each blob is converted on its own, under the store lock, crash-safely:
// its relink journal is written and synced first; the new file is written
// under tmp/ while the old content is hashed (a blob whose content does not
// match its name is an error and stops the conversion, changing nothing of
// it: repair it first), synced, made 0444 and renamed over the blob, the
// folder synced; then every version that holds the blob is linked to the
// new inode (relinkUsers) and the journal deleted. A kill at any point
// leaves every version either on the old inode or the new one, both whole
// and both readable (a reader tells an age file by its first bytes); the
// next Open or GC finishes the relinks the journal lists. A run may be
// started again: encrypt goes on where it stopped.
//
// The old inode of a converted blob is freed once no version links it, but
// its blocks are not overwritten: the plaintext stays on the disk until the
// filesystem reuses them (docs/storage.md).
func (s *Store) Convert(ctx context.Context, rekey bool) (*Conversion, error) {
	if !s.Encrypts() {
		return nil, errors.New("store: no recipients to encrypt to (the policy's store.encryption)")
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.recoverRelinks(); err != nil {
		return nil, err
	}
	refs, err := s.blobRefs()
	if err != nil {
		return nil, fmt.Errorf("store %q: %w (fix it before converting)", s.Root, err)
	}
	var sums []string
	for sum, rs := range refs {
		if slices.ContainsFunc(rs, func(r blobRef) bool { return !r.side }) {
			sums = append(sums, sum)
		}
	}
	sort.Strings(sums)
	work, release, err := s.newTmp("convert-")
	if err != nil {
		return nil, err
	}
	defer release()
	r := &relinker{s: s, work: work}
	out := &Conversion{Blobs: len(sums)}
	for _, sum := range sums {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		bp := s.blobPath(sum)
		isAge, err := crypt.IsAgeFile(bp)
		if err != nil {
			return out, fmt.Errorf("blob %s: %w", sum, err)
		}
		if isAge && !rekey {
			out.Skipped++
			continue
		}
		if err := s.writeJournal(work, []string{sum}); err != nil {
			return out, err
		}
		step("convert journal written")
		if err := s.rewriteBlob(ctx, work, sum, bp); err != nil {
			return out, err
		}
		out.Converted++
		step("blob converted")
		done, err := r.relinkUsers(bp, refs[sum])
		out.Relinked += len(done)
		if err != nil {
			return out, fmt.Errorf("blob %s: %w", sum, err)
		}
		if err := os.Remove(filepath.Join(work, journalName)); err != nil {
			return out, err
		}
		step("convert journal removed")
	}
	return out, nil
}

// rewriteBlob writes the age file of blob bp's content (sum) under work,
// checking the content against sum as it goes, and renames it over bp.
func (s *Store) rewriteBlob(ctx context.Context, work, sum, bp string) error {
	in, size, err := s.openContent(bp)
	if err != nil {
		return fmt.Errorf("blob %s: %w", sum, err)
	}
	defer in.Close()
	tmp := filepath.Join(work, "blob-"+sum)
	os.Remove(tmp)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	ew, err := crypt.Encrypt(out, s.keys.Recipients)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(ew, h), ctxReader{ctx, in})
	if err == nil {
		err = ew.Close()
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("blob %s: %w", sum, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum || (size >= 0 && n != size) {
		os.Remove(tmp)
		return fmt.Errorf("blob %s: %w: its content hashes to %s (repair it first: ttsguard check, or pull the model again)", sum, ErrCorrupt, got)
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Chmod(0o444); err != nil {
		return err
	}
	if err := os.Rename(tmp, bp); err != nil {
		return fmt.Errorf("blob %s: %w", sum, err)
	}
	return syncDir(filepath.Dir(bp))
}

// openStored opens the stored file p (no link, a regular file), positioned
// at its start, and says whether it is an age file (its first bytes).
func openStored(p string) (*os.File, int64, bool, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, false, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, false, errors.Join(err, fmt.Errorf("%q: not a regular file", p))
	}
	head := make([]byte, len(crypt.Magic))
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, false, err
	}
	return f, st.Size(), crypt.IsAge(head[:n]), nil
}

// openContent opens the stored file p as a stream of its content: the file
// itself, or the decryption of an age file. size is the plaintext's size
// when it is known (-1 for an age file: age authenticates the end).
func (s *Store) openContent(p string) (io.ReadCloser, int64, error) {
	f, size, enc, err := openStored(p)
	if err != nil {
		return nil, 0, err
	}
	if !enc {
		return f, size, nil
	}
	ids, err := s.keys.Identities()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	pr, err := crypt.Decrypt(f, ids)
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return struct {
		io.Reader
		io.Closer
	}{pr, f}, -1, nil
}
