package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/hub"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/policy"
)

// Lock file errors.
var (
	// ErrPinMismatch: a model differs from what the lock file pins.
	ErrPinMismatch = errors.New("does not match the lock file")
	// ErrLockConflict: the lock file changed on disk since LoadLock read it.
	ErrLockConflict = errors.New("lock file changed since it was loaded")
)

// LockVersion is the "version" value of the lock file format.
const LockVersion = 1

const maxLockSize = 64 << 20

// LockEntry pins one model.
type LockEntry struct {
	Name     string            // the model name (the key in "models")
	Source   []string          // what was requested: coqui ids, URLs, local paths
	Archives map[string]string // URL or file -> hex SHA-256 of the downloaded archive or file
	Root     string            // manifest root "sha256:<hex>"
	Files    map[string]string // slash-separated path in the model folder -> hex SHA-256
	Updated  time.Time         // written in UTC, whole seconds
	Revision *LockRevision     // the Hugging Face commit of a Hub model; nil for any other
	OCI      *LockOCI          // the OCI manifest of a model pulled from a registry; nil for any other
}

// LockOCI pins the manifest a model pulled from an OCI registry came from:
// a tag is resolved once, and a tag that later names another manifest is a
// change of the pin.
type LockOCI struct {
	Ref      string `json:"ref"`      // oci://HOST/REPO:TAG or @sha256:..., as requested
	Manifest string `json:"manifest"` // the manifest's digest, sha256:<hex>
}

// LockRevision pins the Hugging Face Hub commit a model's files came from.
type LockRevision struct {
	Repo   string `json:"repo"`   // OWNER/NAME
	Ref    string `json:"ref"`    // the revision asked for: a branch, tag or commit
	Commit string `json:"commit"` // what Ref pointed to: 40 lowercase hex
}

// LockFile is ttsguard.lock, kept next to the policy file. It is JSON, two-
// space indented, with keys in byte order and one line per file, so that a
// change to a model shows as a small diff:
//
//	{
//	  "version": 1,
//	  "models": {
//	    "tts_models/en/ljspeech/vits": {
//	      "source": [
//	        "tts_models/en/ljspeech/vits"
//	      ],
//	      "archives": {
//	        "https://github.com/coqui-ai/TTS/releases/download/v0.6.1_models/tts_models--en--ljspeech--vits.zip": "<64 hex>"
//	      },
//	      "root": "sha256:<64 hex>",
//	      "files": {
//	        "config.json": "<64 hex>",
//	        "model_file.pth": "<64 hex>"
//	      },
//	      "updated": "2025-06-01T12:00:00Z"
//	    }
//	  }
//	}
//
// A model pulled from the Hugging Face Hub also has "revision": {"repo":
// "OWNER/NAME", "ref": "main", "commit": "<40 hex>"} (optional; older
// files without it stay valid).
//
// Parsing is strict: unknown keys, duplicate keys, data after the object, a
// bad name, path or digest, a root that is not the OMS root of the files, and
// a version other than 1 are errors naming the file and the model. "archives"
// is left out when empty; "files" must list at least one file. HTML
// characters are not escaped.
type LockFile struct {
	Path    string
	Entries map[string]LockEntry

	loaded bool     // read by LoadLock: Save checks the file did not change since
	sum    [32]byte // SHA-256 of the bytes read (zero when the file was missing)
}

type lockWire struct {
	Version int                      `json:"version"`
	Models  map[string]lockEntryWire `json:"models"`
}

type lockWireIn struct {
	Version int                        `json:"version"`
	Models  map[string]json.RawMessage `json:"models"`
}

type lockEntryWire struct {
	Source   []string          `json:"source"`
	Archives map[string]string `json:"archives,omitempty"`
	Root     string            `json:"root"`
	Files    map[string]string `json:"files"`
	Updated  string            `json:"updated"`
	Revision *LockRevision     `json:"revision,omitempty"`
	OCI      *LockOCI          `json:"oci,omitempty"`
}

// LoadLock reads the lock file at path; a missing file is an empty lock file.
// Whoever can change the lock file decides which pins hold, so a lock file
// that anyone but the caller or root could have written, or a missing one in
// a folder that others may write, is refused (policy.CheckTrusted; the error
// wraps policy.ErrUntrusted).
func LoadLock(path string) (*LockFile, error) {
	l := &LockFile{Path: path, Entries: map[string]LockEntry{}, loaded: true}
	data, err := readTrusted(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := policy.CheckTrustedFolder(path); err != nil {
			return nil, fmt.Errorf("lock file %q: %w", path, err)
		}
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	l.sum = sha256.Sum256(data)
	if err := checkDuplicateKeys(json.NewDecoder(bytes.NewReader(data)), "", 0, false); err != nil {
		return nil, fmt.Errorf("lock file %q: %s", path, describeJSONError(data, err))
	}
	var w lockWireIn
	if err := decodeStrict(data, &w); err != nil {
		return nil, fmt.Errorf("lock file %q: %s", path, describeJSONError(data, err))
	}
	if w.Version != LockVersion {
		return nil, fmt.Errorf("lock file %q: version %d, want %d", path, w.Version, LockVersion)
	}
	for name, raw := range w.Models {
		var we lockEntryWire
		if err := decodeStrict(raw, &we); err != nil {
			return nil, fmt.Errorf("lock file %q: model %q: %w", path, name, err)
		}
		t, err := time.Parse(time.RFC3339, we.Updated)
		if err != nil {
			return nil, fmt.Errorf("lock file %q: model %q: updated %q: want RFC 3339 time", path, name, we.Updated)
		}
		e := LockEntry{Name: name, Source: we.Source, Archives: we.Archives, Root: we.Root, Files: we.Files, Updated: t.UTC(), Revision: we.Revision, OCI: we.OCI}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("lock file %q: %w", path, err)
		}
		l.Entries[name] = e
	}
	return l, nil
}

// decodeStrict decodes one JSON value into v: unknown fields and trailing data are errors.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readOpen(path, f)
}

// readTrusted reads the lock file at path after policy.CheckTrusted accepted
// it as it is open.
func readTrusted(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("lock file %q: %w", path, err)
	}
	if err := policy.CheckTrusted(path, fi); err != nil {
		return nil, fmt.Errorf("lock file %q: %w", path, err)
	}
	return readOpen(path, f)
}

func readOpen(path string, f *os.File) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(f, maxLockSize+1))
	if err != nil {
		return nil, fmt.Errorf("lock file %q: %w", path, err)
	}
	if len(data) > maxLockSize {
		return nil, fmt.Errorf("lock file %q: over %d bytes", path, maxLockSize)
	}
	return data, nil
}

// validate checks an entry as LoadLock and Save do.
func (e LockEntry) validate() error {
	if _, err := EscapeName(e.Name); err != nil {
		return err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("model %q: %s", e.Name, fmt.Sprintf(format, a...))
	}
	for _, s := range e.Source {
		if s == "" {
			return bad("empty source")
		}
	}
	for k, v := range e.Archives {
		if k == "" || !isHex64(v) {
			return bad("archive %q: digest %q: want 64 lowercase hex digits", k, v)
		}
	}
	if len(e.Files) == 0 {
		return bad("no files")
	}
	for p, v := range e.Files {
		if !cleanRel(p) {
			return bad("file %q: not a clean relative path", p)
		}
		if !isHex64(v) {
			return bad("file %q: digest %q: want 64 lowercase hex digits", p, v)
		}
	}
	if r := e.Revision; r != nil && (hub.ParseRepoID(r.Repo) != nil || hub.ValidRevision(r.Ref) != nil || !hub.IsCommit(r.Commit)) {
		return bad("revision {repo %q, ref %q, commit %q}: want OWNER/NAME, a branch, tag or commit, and 40 lowercase hex", r.Repo, r.Ref, r.Commit)
	}
	if o := e.OCI; o != nil {
		if md, err := digest.Parse(o.Manifest); err != nil || md.Algorithm != digest.SHA256 || md.String() != o.Manifest || !strings.HasPrefix(o.Ref, "oci://") {
			return bad("oci {ref %q, manifest %q}: want an oci:// reference and sha256:<64 lowercase hex>", o.Ref, o.Manifest)
		}
	}
	d, err := digest.Parse(e.Root)
	if err != nil || d.Algorithm != digest.SHA256 || d.String() != e.Root {
		return bad("root %q: want sha256:<64 lowercase hex>", e.Root)
	}
	if got := filesRoot(e.Files); got != e.Root {
		return bad("root %s is not the root of its files (%s)", e.Root, got)
	}
	return nil
}

// filesRoot is the OMS root (files mode, SHA-256) of path -> hex digest.
func filesRoot(files map[string]string) string {
	items := make([]manifest.Item, 0, len(files))
	for p, h := range files {
		d, _ := hex.DecodeString(h)
		items = append(items, manifest.Item{Name: p, File: p, Digest: d})
	}
	manifest.Sort(items)
	return manifest.RootOf(items).String()
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// Marshal returns the bytes Save writes.
func (l *LockFile) Marshal() ([]byte, error) {
	w := lockWire{Version: LockVersion, Models: map[string]lockEntryWire{}}
	for name, e := range l.Entries {
		if e.Name == "" {
			e.Name = name
		}
		if e.Name != name {
			return nil, fmt.Errorf("lock file %q: entry %q names model %q", l.Path, name, e.Name)
		}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("lock file %q: %w", l.Path, err)
		}
		src := e.Source
		if src == nil {
			src = []string{}
		}
		w.Models[name] = lockEntryWire{Source: src, Archives: e.Archives, Root: e.Root, Files: e.Files,
			Updated: e.Updated.UTC().Truncate(time.Second).Format(time.RFC3339), Revision: e.Revision, OCI: e.OCI}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Save writes the lock file atomically: a temporary file in the same folder,
// fsync, rename over Path, fsync of the folder. Concurrent Saves are
// serialized by a flock on the folder; when the lock file was read by LoadLock
// and has changed on disk since, Save writes nothing and returns an error
// wrapping ErrLockConflict (load it again and redo the change, or use
// UpdateLock). A LockFile not made by LoadLock overwrites whatever is there.
func (l *LockFile) Save() error {
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	df, err := lockFolder(l.Path)
	if err != nil {
		return err
	}
	defer df.Close()
	if l.loaded {
		var sum [32]byte
		cur, err := readLimited(l.Path)
		if err == nil {
			sum = sha256.Sum256(cur)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if sum != l.sum {
			return fmt.Errorf("lock file %q: %w", l.Path, ErrLockConflict)
		}
	}
	return l.write(df, data)
}

// ErrUnchanged, returned by UpdateLock's change function, means "nothing to
// write": UpdateLock then writes nothing and returns nil.
var ErrUnchanged = errors.New("lock file unchanged")

// UpdateLock changes the lock file at path as one step that concurrent
// writers cannot interleave with: under the folder's flock it reads the file
// as it is now (missing: empty), calls change with it, and writes the result
// atomically. Writers of different entries therefore never conflict, and a
// change decided on what change read cannot be undone by another writer
// meanwhile. When change returns an error nothing is written and the error
// is returned (ErrUnchanged: nil).
func UpdateLock(path string, change func(*LockFile) error) error {
	df, err := lockFolder(path)
	if err != nil {
		return err
	}
	defer df.Close()
	l, err := LoadLock(path)
	if err != nil {
		return err
	}
	if err := change(l); errors.Is(err, ErrUnchanged) {
		return nil
	} else if err != nil {
		return err
	}
	data, err := l.Marshal()
	if err != nil {
		return err
	}
	return l.write(df, data)
}

// lockFolder opens the lock file's folder and takes its exclusive flock,
// which closing the returned file releases.
func lockFolder(path string) (*os.File, error) {
	df, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("lock file %q: %w", path, err)
	}
	if err := syscall.Flock(int(df.Fd()), syscall.LOCK_EX); err != nil {
		df.Close()
		return nil, fmt.Errorf("lock file %q: %w", path, err)
	}
	return df, nil
}

// write replaces the lock file with data (the caller holds the flock on df).
func (l *LockFile) write(df *os.File, data []byte) error {
	if err := WriteFileAtomic(l.Path, data, 0o644); err != nil {
		return fmt.Errorf("lock file %q: %w", l.Path, err)
	}
	l.loaded, l.sum = true, sha256.Sum256(data)
	return nil
}

// CheckDuplicateKeys fails on a JSON document in which an object holds the
// same key twice (two readers could pick different ones); other packages
// that read JSON from untrusted places share it.
func CheckDuplicateKeys(data []byte) error {
	return checkDuplicateKeys(json.NewDecoder(bytes.NewReader(data)), "", 0, false)
}

// CheckDuplicateKeysFold is CheckDuplicateKeys with keys compared ignoring
// case, for JSON decoded into Go structs (encoding/json matches field names
// case-insensitively, the last one winning, where other readers would take
// the exact name).
func CheckDuplicateKeysFold(data []byte) error {
	return checkDuplicateKeys(json.NewDecoder(bytes.NewReader(data)), "", 0, true)
}

// checkDuplicateKeys fails on an object holding the same key twice, which
// encoding/json would silently accept (last one wins).
func checkDuplicateKeys(dec *json.Decoder, at string, depth int, fold bool) error {
	if depth > 32 {
		return fmt.Errorf("nested too deeply at %q", at)
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if d == '{' {
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			if fold {
				key = strings.ToLower(key)
			}
			if seen[key] {
				return fmt.Errorf("duplicate key %q in %q", key, "/"+strings.TrimPrefix(at, "/"))
			}
			seen[key] = true
			if err := checkDuplicateKeys(dec, at+"/"+key, depth+1, fold); err != nil {
				return err
			}
		}
	} else {
		for dec.More() {
			if err := checkDuplicateKeys(dec, at, depth+1, fold); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

// describeJSONError adds the line and column to a decoding error.
func describeJSONError(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	line := bytes.Count(data[:off], []byte("\n")) + 1
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// sortedKeys returns m's keys in byte order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
