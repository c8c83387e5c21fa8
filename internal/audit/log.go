package audit

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

// LogFiles returns the paths of the audit log's records and of its signed
// checkpoint in the store at root.
func LogFiles(root string) (records, checkpoint string) {
	return filepath.Join(root, LogDir, logRecords), filepath.Join(root, LogDir, logCheckpoint)
}

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
	Time    time.Time `json:"time"`
	Command string    `json:"command"`
	Model   string    `json:"model,omitempty"`
	Root    string    `json:"root,omitempty"`
	OK      bool      `json:"ok"`
	Detail  string    `json:"detail,omitempty"`
	// Verify says how a stored model's files were verified: "fast: ..."
	// (the store's stat record matched) or "full: <why>" (every file hashed).
	Verify   string `json:"verify,omitempty"`
	User     string `json:"user"`
	TTSGuard string `json:"ttsguard"`
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
