package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/mod/sumdb/tlog"
)

// The audit log's Merkle tree, and reading the log file against it.

// treeState is the log read into memory: its size, the tree's stored
// hashes (tlog's layout, about two per record), and the decoded records
// when the reader wants them.
type treeState struct {
	n       int64
	records []Record
	hashes  []tlog.Hash
	signed  int64 // records covered by the last checkpoint
}

func (st *treeState) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(st.hashes)) {
				return nil, fmt.Errorf("stored hash %d not available", x)
			}
			out[i] = st.hashes[x]
		}
		return out, nil
	})
}

// add appends the leaf for one record line; with decode the line must be a
// valid record with the next index (a signed line's bytes are checked by the
// root hash instead).
func (st *treeState) add(line []byte, decode bool) error {
	if decode {
		var r Record
		if err := decodeRecord(line, &r); err != nil {
			return err
		}
		if r.Index != st.n {
			return fmt.Errorf("%w: line %d has index %d", ErrBadRecord, st.n+1, r.Index)
		}
		st.records = append(st.records, r)
	}
	h, err := tlog.StoredHashes(st.n, line, st.reader())
	if err != nil {
		return err
	}
	st.hashes = append(st.hashes, h...)
	st.n++
	return nil
}

func (st *treeState) root() (tlog.Hash, error) {
	return st.treeHash(st.n)
}

func (st *treeState) treeHash(n int64) (tlog.Hash, error) {
	if n == 0 {
		return emptyRoot(), nil
	}
	return tlog.TreeHash(n, st.reader())
}

// emptyRoot is the RFC 6962 hash of an empty tree, SHA-256 of nothing.
func emptyRoot() tlog.Hash {
	h, _ := hex.DecodeString("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	var r tlog.Hash
	copy(r[:], h)
	return r
}

// load reads the log and checks it against the last checkpoint: the first
// Size lines must hash to its root. The records after them were never
// signed. With repair (Append, holding the lock), unsigned lines that are
// incomplete or invalid are cut off, and signed lines are only hashed, not
// decoded; without it (readers), every line is decoded and a bad unsigned
// line is an error.
func (l *Log) load(repair bool) (*treeState, error) {
	fail := func(err error) (*treeState, error) { return nil, fmt.Errorf("audit log %q: %w", l.Dir, err) }
	cp, err := l.Current()
	if err != nil {
		return fail(err)
	}
	path := filepath.Join(l.Dir, logRecords)
	data, err := readLimitedFile(path, maxLog)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	if cp.Note == nil && len(data) > 0 {
		return fail(fmt.Errorf("%w: records but no checkpoint (removed?)", ErrTampered))
	}
	st := &treeState{signed: cp.Size}
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		var err error
		switch {
		case end < 0 && st.n < cp.Size:
			err = fmt.Errorf("%w: signed record %d has lost its end", ErrTampered, st.n)
		case end < 0:
			err = fmt.Errorf("%w: the last line is incomplete (a writer was killed; the next event cuts it off)", ErrBadRecord)
		case st.n == cp.Size:
			if err = st.checkRoot(cp); err != nil {
				return fail(err)
			}
			fallthrough
		default:
			err = st.add(data[off:off+end], !repair || st.n >= cp.Size)
			if err != nil && st.n < cp.Size && !errors.Is(err, ErrBadRecord) {
				return fail(err)
			}
			if err != nil && st.n < cp.Size {
				err = fmt.Errorf("%w: signed record %d: %v", ErrTampered, st.n, err)
			}
		}
		if err != nil {
			if repair && st.n >= cp.Size && !errors.Is(err, ErrTampered) {
				// Never signed: what a killed writer left. Cut it off.
				if terr := os.Truncate(path, int64(off)); terr != nil {
					return fail(terr)
				}
				break
			}
			return fail(fmt.Errorf("line %d: %w", st.n+1, err))
		}
		off += end + 1
	}
	if st.n < cp.Size {
		return fail(fmt.Errorf("%w: %d records, the checkpoint signs %d (records were removed)", ErrTampered, st.n, cp.Size))
	}
	if st.n == cp.Size {
		if err := st.checkRoot(cp); err != nil {
			return fail(err)
		}
	}
	return st, nil
}

// checkRoot compares the tree of the records read so far with cp.
func (st *treeState) checkRoot(cp *Checkpoint) error {
	root, err := st.root()
	if err != nil {
		return err
	}
	if root != cp.Root {
		return fmt.Errorf("%w: the first %d records hash to %s, the checkpoint signs %s", ErrTampered, cp.Size,
			base64.StdEncoding.EncodeToString(root[:]), base64.StdEncoding.EncodeToString(cp.Root[:]))
	}
	return nil
}

// decodeRecord parses one line strictly: known fields only, one JSON value.
func decodeRecord(line []byte, r *Record) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(r); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the record", ErrBadRecord)
	}
	if r.Command == "" || r.Time.IsZero() {
		return fmt.Errorf("%w: no command or time", ErrBadRecord)
	}
	return nil
}

func readLimitedFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%q: larger than %d bytes", path, limit)
	}
	return data, nil
}
