package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// The relink journal: a file in a commit's or repair's work folder (under
// tmp/) that lists, one hex SHA-256 a line after journalHeader, the blobs
// whose versions it is about to link again. It is written and synced before
// the first blob is replaced. A work folder that no live process holds and
// that has a journal is not simply deleted (cleanTmp): recoverRelinks, under
// the store lock, first links every version that names a journaled blob to
// it and takes away the write permission a killed relink left on a version
// folder.
const (
	journalName   = "relink"
	journalHeader = "ttsguard relink journal v1\n"
	maxJournal    = 1 << 20
)

// writeJournal writes the relink journal of sums into the work folder
// (under tmp/) and makes it durable.
func (s *Store) writeJournal(work string, sums []string) error {
	var b strings.Builder
	b.WriteString(journalHeader)
	for _, sum := range sums {
		b.WriteString(sum)
		b.WriteByte('\n')
	}
	if err := writeFileSync(filepath.Join(work, journalName), []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := syncDir(work); err != nil {
		return err
	}
	return syncDir(filepath.Join(s.Root, dirTmp))
}

// hasJournal reports whether the work folder p holds a relink journal.
func hasJournal(p string) bool {
	st, err := os.Lstat(filepath.Join(p, journalName))
	return err == nil && st.Mode().IsRegular()
}

// readJournal returns the blobs a relink journal lists.
func readJournal(p string) ([]string, error) {
	f, err := os.OpenFile(filepath.Join(p, journalName), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJournal+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJournal || !bytes.HasPrefix(data, []byte(journalHeader)) {
		return nil, fmt.Errorf("relink journal %q: %w: not a journal", p, ErrCorrupt)
	}
	var sums []string
	sc := bufio.NewScanner(bytes.NewReader(data[len(journalHeader):]))
	for sc.Scan() {
		if line := sc.Text(); isHexSum(line) {
			sums = append(sums, line) // a torn last line is not a sum: its blob's relink had not begun
		}
	}
	return sums, nil
}

// recoverRelinks finishes what killed commits and repairs journaled (see
// writeJournal) and deletes their work folders. The caller holds the store
// lock.
func (s *Store) recoverRelinks() error {
	tmp := filepath.Join(s.Root, dirTmp)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("store %q: %w", s.Root, err)
	}
	type journaled struct {
		dir  string
		held *os.File
	}
	var found []journaled
	defer func() {
		for _, j := range found {
			j.held.Close()
		}
	}()
	want := map[string]bool{}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(tmp, e.Name())
		if !e.IsDir() || !hasJournal(p) {
			continue
		}
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			continue
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			f.Close() // a live process holds it
			continue
		}
		found = append(found, journaled{p, f})
		sums, err := readJournal(p)
		if err != nil {
			errs = append(errs, err)
		}
		for _, sum := range sums {
			want[sum] = true
		}
	}
	if len(found) == 0 {
		return nil
	}
	if len(want) > 0 {
		if err := s.relinkJournaled(want); err != nil {
			return errors.Join(append(errs, err)...) // the journals stay for the next try
		}
	}
	for _, j := range found {
		if err := removeTree(j.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// relinkJournaled links every version that names one of sums to its blob
// and reseals the version folders on the way.
func (s *Store) relinkJournaled(sums map[string]bool) error {
	refs, _ := s.blobRefs()
	work, release, err := s.newTmp("recover-")
	if err != nil {
		return err
	}
	defer release()
	r := &relinker{s: s, work: work}
	keys := make([]string, 0, len(sums))
	for sum := range sums {
		keys = append(keys, sum)
	}
	sort.Strings(keys)
	var errs []error
	for _, sum := range keys {
		rs := refs[sum]
		for _, ref := range rs {
			errs = append(errs, resealDirs(ref.dir, ref.Path))
		}
		if st, err := os.Lstat(s.blobPath(sum)); err != nil || !st.Mode().IsRegular() || len(rs) == 0 {
			continue // no blob to link to (GC or check will tell), or no user
		}
		if _, err := r.relinkUsers(s.blobPath(sum), rs); err != nil {
			errs = append(errs, fmt.Errorf("blob %s: %w", sum, err))
		}
	}
	return errors.Join(errs...)
}
