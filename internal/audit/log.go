package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/ttsguard/ttsguard/internal/store"
)

// The audit log: every command that changes the store or serves a model
// appends one event; the events are the leaves of an RFC 6962 Merkle tree
// (golang.org/x/mod/sumdb/tlog), and after every append the tree's size and
// root hash are signed into a checkpoint (a C2SP tlog-checkpoint in a signed
// note, Ed25519). A checkpoint saved elsewhere (a SIEM, a ticket, another
// machine) later proves that the log still holds every event it covered,
// unchanged and in order (`ttsguard log verify --checkpoint FILE`).
// docs/audit-log.md has the format and what it does and does not prove.

// LogDir is the audit log folder inside the store.
const LogDir = "audit"

// Files in LogDir.
const (
	logRecords    = "log"        // JSON lines, one event each
	logCheckpoint = "checkpoint" // signed note: origin, size, root hash
	logKey        = "key"        // note signer key (private), 0600
	logVerifier   = "key.pub"    // note verifier key
	maxRecord     = 64 << 10     // one event line, bytes
	maxLog        = 1 << 30      // the whole log, bytes
	maxCheckpoint = 64 << 10
)

// Errors callers can branch on.
var (
	// ErrTampered: the log does not match its checkpoint, or an earlier
	// checkpoint is not a prefix of it.
	ErrTampered = errors.New("audit log does not match its checkpoint")
	// ErrBadRecord: a line of the log is not a valid event record.
	ErrBadRecord = errors.New("invalid audit log record")
)

// Event is what one command did. Model and Root are empty for commands that
// concern no single model (gc, doctor --fix).
type Event struct {
	Time     time.Time `json:"time"`
	Command  string    `json:"command"`
	Model    string    `json:"model,omitempty"`
	Root     string    `json:"root,omitempty"`
	OK       bool      `json:"ok"`
	Detail   string    `json:"detail,omitempty"`
	User     string    `json:"user"`
	TTSGuard string    `json:"ttsguard"`
}

// Record is an event at its place in the log (Index counts from 0).
type Record struct {
	Index int64 `json:"index"`
	Event
}

// Checkpoint is a verified checkpoint: the log's origin, size and root hash,
// and the signed note text as written.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Note   []byte
}

// Log is the audit log of one store.
type Log struct {
	Dir      string
	verifier note.Verifier
}

// ErrNoLog: the store has no audit log yet (OpenLog without create).
var ErrNoLog = errors.New("no audit log")

// OpenLog opens the audit log of the store at storeRoot. With create, a
// missing log is started: its folder (0700), a signing key and a signed
// checkpoint of the empty log (so that a writer killed in the first append
// leaves an unsigned record, not an unsigned log). Without create, a
// missing log is ErrNoLog and nothing is written.
func OpenLog(storeRoot string, create bool) (*Log, error) {
	dir := filepath.Join(storeRoot, LogDir)
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !create:
		return nil, fmt.Errorf("audit log %q: %w", dir, ErrNoLog)
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("audit log %q: %w", dir, err)
		}
	case err != nil:
		return nil, fmt.Errorf("audit log %q: %w", dir, err)
	case !st.IsDir():
		return nil, fmt.Errorf("audit log %q: %w: not a folder (a symbolic link or a file)", dir, ErrTampered)
	}
	l := &Log{Dir: dir}
	unlock, err := l.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	_, errPub := os.Lstat(filepath.Join(dir, logVerifier))
	_, errKey := os.Lstat(filepath.Join(dir, logKey))
	switch {
	case errors.Is(errPub, fs.ErrNotExist) && errors.Is(errKey, fs.ErrNotExist):
		if !create {
			return nil, fmt.Errorf("audit log %q: %w (no key yet)", dir, ErrNoLog)
		}
		if err := l.newKey(); err != nil {
			return nil, err
		}
	case errors.Is(errPub, fs.ErrNotExist):
		return nil, fmt.Errorf("audit log %q: %w: the verifier key %s is missing (the signing key is there): restore it from a backup", dir, ErrTampered, logVerifier)
	}
	vkey, err := readLimitedFile(filepath.Join(dir, logVerifier), 4096)
	if err != nil {
		return nil, fmt.Errorf("audit log %q: verifier key: %w", dir, err)
	}
	if l.verifier, err = note.NewVerifier(strings.TrimSpace(string(vkey))); err != nil {
		return nil, fmt.Errorf("audit log %q: verifier key: %w", dir, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, logCheckpoint)); errors.Is(err, fs.ErrNotExist) && create {
		if _, err := os.Lstat(filepath.Join(dir, logRecords)); errors.Is(err, fs.ErrNotExist) {
			if _, err := l.sign(&treeState{}); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// VerifierKey returns the log's public key in note format
// ("<name>+<hash>+<key>"), to keep beside exported checkpoints.
func (l *Log) VerifierKey() string {
	k, _ := readLimitedFile(filepath.Join(l.Dir, logVerifier), 4096)
	return strings.TrimSpace(string(k))
}

// newKey writes a fresh signing key pair (the caller holds the lock).
func (l *Log) newKey() error {
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "ttsguard-audit-"+hex.EncodeToString(id[:]))
	if err != nil {
		return fmt.Errorf("audit log %q: %w", l.Dir, err)
	}
	if err := store.WriteFileAtomic(filepath.Join(l.Dir, logKey), []byte(skey+"\n"), 0o600); err != nil {
		return err
	}
	return store.WriteFileAtomic(filepath.Join(l.Dir, logVerifier), []byte(vkey+"\n"), 0o644)
}

// lock takes the log folder's exclusive flock.
func (l *Log) lock() (func(), error) {
	f, err := os.Open(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("audit log %q: %w", l.Dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log %q: %w", l.Dir, err)
	}
	return func() { f.Close() }, nil
}

// Append adds e to the log and signs the new checkpoint. It checks the
// signing key first (an event it could not sign is not written) and the log
// against the last checkpoint, and refuses to extend a log that does not
// match it (ErrTampered). Records a writer killed before signing left are
// kept and signed now; an incomplete or invalid line among them is cut off.
func (l *Log) Append(e Event) (*Checkpoint, error) {
	unlock, err := l.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	signer, err := l.signer()
	if err != nil {
		return nil, err
	}
	st, err := l.load(true)
	if err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	line, err := json.Marshal(Record{Index: st.n, Event: e})
	if err != nil {
		return nil, err
	}
	if len(line) >= maxRecord {
		return nil, fmt.Errorf("audit log %q: event of %d bytes is larger than %d", l.Dir, len(line), maxRecord)
	}
	if err := st.add(line, true); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(l.Dir, logRecords), os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log %q: %w", l.Dir, err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("audit log %q: %w", l.Dir, err)
	}
	return l.signWith(st, signer)
}

// signer reads the signing key.
func (l *Log) signer() (note.Signer, error) {
	skey, err := readLimitedFile(filepath.Join(l.Dir, logKey), 4096)
	if err != nil {
		return nil, fmt.Errorf("audit log %q: signing key: %w", l.Dir, err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, fmt.Errorf("audit log %q: signing key: %w", l.Dir, err)
	}
	if signer.Name() != l.verifier.Name() || signer.KeyHash() != l.verifier.KeyHash() {
		return nil, fmt.Errorf("audit log %q: %w: the signing key is not the verifier key's pair", l.Dir, ErrTampered)
	}
	return signer, nil
}

// sign writes a checkpoint for the tree in st (the caller holds the lock).
func (l *Log) sign(st *treeState) (*Checkpoint, error) {
	signer, err := l.signer()
	if err != nil {
		return nil, err
	}
	return l.signWith(st, signer)
}

func (l *Log) signWith(st *treeState, signer note.Signer) (*Checkpoint, error) {
	root, err := st.root()
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s\n%d\n%s\n", signer.Name(), st.n, base64.StdEncoding.EncodeToString(root[:]))
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		return nil, err
	}
	if err := store.WriteFileAtomic(filepath.Join(l.Dir, logCheckpoint), msg, 0o644); err != nil {
		return nil, err
	}
	return &Checkpoint{Origin: signer.Name(), Size: st.n, Root: root, Note: msg}, nil
}

// Current returns the last signed checkpoint, verified with the log's key.
func (l *Log) Current() (*Checkpoint, error) {
	msg, err := readLimitedFile(filepath.Join(l.Dir, logCheckpoint), maxCheckpoint)
	if errors.Is(err, fs.ErrNotExist) {
		return &Checkpoint{Origin: l.verifier.Name(), Root: emptyRoot()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit log %q: checkpoint: %w", l.Dir, err)
	}
	return ParseCheckpoint(msg, l.verifier)
}

// ParseCheckpoint verifies a signed checkpoint with v and reads it.
func ParseCheckpoint(msg []byte, v note.Verifier) (*Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint signature: %v", ErrTampered, err)
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) != 4 || lines[3] != "" {
		return nil, fmt.Errorf("checkpoint: want origin, size and root hash lines")
	}
	if lines[0] != v.Name() {
		return nil, fmt.Errorf("checkpoint: origin %q, want %q", lines[0], v.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return nil, fmt.Errorf("checkpoint: size %q is not a count", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return nil, fmt.Errorf("checkpoint: root hash %q is not %d bytes of base64", lines[2], tlog.HashSize)
	}
	c := &Checkpoint{Origin: lines[0], Size: size, Note: msg}
	copy(c.Root[:], raw)
	return c, nil
}

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

// LogReport is the evidence of Verify.
type LogReport struct {
	Dir         string `json:"dir"`
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
	Records     int64  `json:"records"`           // complete lines when the log does not verify
	Signed      int64  `json:"signed"`            // records the last checkpoint covers
	Root        string `json:"root"`              // base64 tree hash of all records
	Earlier     *int64 `json:"earlier,omitempty"` // size of the earlier checkpoint checked, if any
	OK          bool   `json:"ok"`
	Problem     string `json:"problem,omitempty"`
}

// Verify checks the log against its last checkpoint and, when earlier is
// not nil, against an earlier checkpoint of this log (saved elsewhere): the
// first records must still hash to its root. A failed check returns the
// report and an error wrapping ErrTampered or ErrBadRecord.
func (l *Log) Verify(earlier []byte) (*LogReport, error) {
	r := &LogReport{Dir: l.Dir, Origin: l.verifier.Name(), VerifierKey: l.VerifierKey()}
	fail := func(err error) (*LogReport, error) {
		r.Problem = err.Error()
		return r, err
	}
	st, err := l.load(false)
	if err != nil {
		// Best effort for the evidence: the lines there are, what the
		// checkpoint signs.
		if data, rerr := readLimitedFile(filepath.Join(l.Dir, logRecords), maxLog); rerr == nil {
			r.Records = int64(bytes.Count(data, []byte{'\n'}))
		}
		if cp, cerr := l.Current(); cerr == nil {
			r.Signed = cp.Size
		}
		return fail(err)
	}
	r.Records, r.Signed = st.n, st.signed
	root, err := st.root()
	if err != nil {
		return fail(err)
	}
	r.Root = base64.StdEncoding.EncodeToString(root[:])
	if earlier != nil {
		e, err := ParseCheckpoint(earlier, l.verifier)
		if err != nil {
			return fail(fmt.Errorf("earlier checkpoint: %w (signed by another key, or the log's key was replaced)", err))
		}
		r.Earlier = &e.Size
		if e.Size > r.Records {
			return fail(fmt.Errorf("%w: the earlier checkpoint signs %d records, the log holds %d (records were removed)", ErrTampered, e.Size, r.Records))
		}
		h, err := st.treeHash(e.Size)
		if err != nil {
			return fail(err)
		}
		if h != e.Root {
			return fail(fmt.Errorf("%w: the first %d records no longer hash to the earlier checkpoint's root (records were changed, removed or reordered)", ErrTampered, e.Size))
		}
	}
	if r.Records > r.Signed {
		r.Problem = fmt.Sprintf("%d records after the last checkpoint (a writer was killed before signing; the next event signs them)", r.Records-r.Signed)
	}
	r.OK = true
	return r, nil
}

// Records returns the events of a log that matches its checkpoint, and how
// many of them (from the first) the checkpoint signs.
func (l *Log) Records() ([]Record, int64, error) {
	st, err := l.load(false)
	if err != nil {
		return nil, 0, err
	}
	return st.records, st.signed, nil
}
