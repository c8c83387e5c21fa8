package channel

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/cjson"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/ttsguard/ttsguard/internal/store"
)

// ErrRepo is wrapped by errors about a channel folder or what is asked of it.
var ErrRepo = errors.New("channel")

// Default expiry of each role's metadata from the time it is signed.
var DefaultExpiry = map[string]time.Duration{
	metadata.ROOT:      365 * 24 * time.Hour,
	metadata.TARGETS:   90 * 24 * time.Hour,
	metadata.SNAPSHOT:  7 * 24 * time.Hour,
	metadata.TIMESTAMP: 24 * time.Hour,
}

// Roles are the top-level roles, in the order they are signed.
var Roles = []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP}

// Keys are the signers of each role (by role name).
type Keys map[string][]*Signer

// Descriptor is a published model version: where to get it and the OMS
// root digest its bytes must hash to. It is a target's file (canonical
// JSON) and, with Published, its custom field "ttsguard".
type Descriptor struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Source     string `json:"source"`
	RootDigest string `json:"root_digest"`
	// Published is the targets metadata version that published it: the
	// newest published version of a model is its current one.
	Published int64 `json:"published,omitempty"`
}

// TargetPath is where a model version's descriptor lives in the channel.
func TargetPath(name, version string) string { return "models/" + name + "/" + version + ".json" }

var (
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)
	digestRE  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// Validate checks a descriptor's fields.
func (d Descriptor) Validate() error {
	if _, err := store.EscapeName(d.Name); err != nil || strings.Contains(d.Name, "..") {
		return fmt.Errorf("model name %q: not a store name", d.Name)
	}
	if !versionRE.MatchString(d.Version) {
		return fmt.Errorf("version %q: want 1-64 of A-Z a-z 0-9 . _ + -, starting with a letter or digit", d.Version)
	}
	if !digestRE.MatchString(d.RootDigest) {
		return fmt.Errorf("root digest %q: want sha256:64 hex digits", d.RootDigest)
	}
	if !strings.HasPrefix(d.Source, "https://") && !strings.HasPrefix(d.Source, "oci://") && !strings.HasPrefix(d.Source, "http://") {
		return fmt.Errorf("source %q: want an https:// or oci:// reference", d.Source)
	}
	return nil
}

// repo is a channel folder's newest state.
type repo struct {
	dir       string
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	pending   *pendingFile // a target file commit writes first
	forge     bool         // tests: sign with any key, below the threshold (an attacker's metadata)
}

type pendingFile struct {
	path string
	data []byte
}

// Summary is the evidence of a publisher command.
type Summary struct {
	Dir       string      `json:"dir"`
	Root      int64       `json:"root_version"`
	Targets   int64       `json:"targets_version"`
	Snapshot  int64       `json:"snapshot_version"`
	Timestamp int64       `json:"timestamp_version"`
	Expires   time.Time   `json:"timestamp_expires"`
	Published *Descriptor `json:"published,omitempty"`
	Files     []string    `json:"written"`
}

// InitOptions configure Init.
type InitOptions struct {
	Thresholds map[string]int           // per role; missing = 1
	Expiry     map[string]time.Duration // per role; missing = DefaultExpiry
	Now        time.Time                // zero = time.Now()
}

func (o InitOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now().UTC()
	}
	return o.Now.UTC()
}

func expiry(m map[string]time.Duration, role string, now time.Time) time.Time {
	d, ok := m[role]
	if !ok {
		d = DefaultExpiry[role]
	}
	return now.Add(d).Truncate(time.Second)
}

// Init creates a channel in dir (which must not exist or be empty): root
// version 1 naming keys' public keys for each role with its threshold, and
// empty targets, snapshot and timestamp. Every role needs at least its
// threshold of keys.
func Init(dir string, keys Keys, o InitOptions) (*Summary, error) {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%w: %q is not empty: not overwriting a channel", ErrRepo, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRepo, err)
	}
	now := o.now()
	root := metadata.Root(expiry(o.Expiry, metadata.ROOT, now))
	root.Signed.ConsistentSnapshot = true
	for _, role := range Roles {
		t := o.Thresholds[role]
		if t == 0 {
			t = 1
		}
		if len(keys[role]) < t {
			return nil, fmt.Errorf("%w: role %s has threshold %d but %d key(s)", ErrRepo, role, t, len(keys[role]))
		}
		root.Signed.Roles[role].Threshold = t
		for _, k := range keys[role] {
			if err := root.Signed.AddKey(k.Key, role); err != nil {
				return nil, fmt.Errorf("%w: %s key %q: %v", ErrRepo, role, k.File, err)
			}
		}
	}
	r := &repo{dir: dir, root: root}
	r.targets = metadata.Targets(expiry(o.Expiry, metadata.TARGETS, now))
	r.snapshot = metadata.Snapshot(expiry(o.Expiry, metadata.SNAPSHOT, now))
	r.timestamp = metadata.Timestamp(expiry(o.Expiry, metadata.TIMESTAMP, now))
	s := &Summary{Dir: dir}
	if err := signRole(root, root, metadata.ROOT, keys[metadata.ROOT]); err != nil {
		return nil, err
	}
	if err := r.writeRoot(s); err != nil {
		return nil, err
	}
	if err := r.commit(s, keys, true); err != nil {
		return nil, err
	}
	return s, nil
}

// Publish adds d as a target signed by the targets keys and makes it the
// model's current version: new targets, snapshot and timestamp (written in
// that order; timestamp.json, the one file clients start from, last).
func Publish(dir string, d Descriptor, keys Keys, expires map[string]time.Duration, now time.Time) (*Summary, error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRepo, err)
	}
	r, err := load(dir)
	if err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = time.Now().UTC()
	}
	r.targets.Signed.Version++
	r.targets.Signed.Expires = expiry(expires, metadata.TARGETS, now)
	d.Published = r.targets.Signed.Version
	file := d
	file.Published = 0
	body, err := cjson.EncodeCanonical(file)
	if err != nil {
		return nil, err
	}
	p := TargetPath(d.Name, d.Version)
	tf, err := metadata.TargetFile().FromBytes(p, body, "sha256")
	if err != nil {
		return nil, err
	}
	custom, err := json.Marshal(map[string]Descriptor{"ttsguard": d})
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(custom)
	tf.Custom = &raw
	if r.targets.Signed.Targets == nil {
		r.targets.Signed.Targets = map[string]*metadata.TargetFiles{}
	}
	r.targets.Signed.Targets[p] = tf
	s := &Summary{Dir: dir, Published: &d}
	// the target file is written first, under its consistent-snapshot name
	r.pending = &pendingFile{filepath.Join(dir, "targets", filepath.FromSlash(filepath.Dir(p)), hex.EncodeToString(tf.Hashes["sha256"])+"."+filepath.Base(p)), body}
	r.snapshot.Signed.Expires = expiry(expires, metadata.SNAPSHOT, now)
	r.timestamp.Signed.Expires = expiry(expires, metadata.TIMESTAMP, now)
	if err := r.commit(s, keys, false); err != nil {
		return nil, err
	}
	return s, nil
}

// Timestamp signs a new timestamp for the current snapshot (a refresh
// before the last one expires), valid for expires.
func Timestamp(dir string, signers []*Signer, expires time.Duration, now time.Time) (*Summary, error) {
	r, err := load(dir)
	if err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = time.Now().UTC()
	}
	r.timestamp.Signed.Version++
	r.timestamp.Signed.Expires = now.Add(expires).Truncate(time.Second)
	if err := signRole(r.timestamp, r.root, metadata.TIMESTAMP, signers); err != nil {
		return nil, err
	}
	s := &Summary{Dir: dir}
	if err := r.write(s, filepath.Join(dir, "timestamp.json"), r.timestamp); err != nil {
		return nil, err
	}
	r.summarize(s)
	return s, nil
}

// RotateRoot writes root version N+1: the roles in newKeys get those public
// keys (their old keys are revoked) and thresholds; the new root is signed
// by oldRoot (a threshold of the current root's keys) and by the new root
// keys (newRoot; the current ones when newKeys has no root). Clients follow
// it on their next refresh. A rotated snapshot or timestamp key takes effect
// with the next Publish or Timestamp signed by it.
func RotateRoot(dir string, newKeys map[string][]*metadata.Key, thresholds map[string]int, oldRoot, newRoot []*Signer, expires time.Duration, now time.Time) (*Summary, error) {
	r, err := load(dir)
	if err != nil {
		return nil, err
	}
	if now.IsZero() {
		now = time.Now().UTC()
	}
	old := *r.root
	nr := metadata.Root(now.Add(expires).Truncate(time.Second))
	nr.Signed = old.Signed
	nr.Signed.Keys = map[string]*metadata.Key{}
	nr.Signed.Roles = map[string]*metadata.Role{}
	nr.Signed.Version = old.Signed.Version + 1
	nr.Signed.Expires = now.Add(expires).Truncate(time.Second)
	for _, role := range Roles {
		t := old.Signed.Roles[role].Threshold
		if n, ok := thresholds[role]; ok {
			t = n
		}
		nr.Signed.Roles[role] = &metadata.Role{Threshold: t, KeyIDs: []string{}}
		keys := newKeys[role]
		if keys == nil {
			for _, id := range old.Signed.Roles[role].KeyIDs {
				keys = append(keys, old.Signed.Keys[id])
			}
		}
		if len(keys) < t {
			return nil, fmt.Errorf("%w: role %s has threshold %d but %d key(s)", ErrRepo, role, t, len(keys))
		}
		for _, k := range keys {
			if err := nr.Signed.AddKey(k, role); err != nil {
				return nil, fmt.Errorf("%w: %s key: %v", ErrRepo, role, err)
			}
		}
	}
	if err := signRole(nr, r.root, metadata.ROOT, oldRoot); err != nil {
		return nil, fmt.Errorf("%w (signing with the current root keys)", err)
	}
	// the new root must verify under itself too
	extra := newRoot
	if len(extra) == 0 {
		extra = oldRoot
	}
	for _, k := range extra {
		if !hasSig(nr.Signatures, k.ID) {
			if _, err := nr.Sign(k); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrRepo, k.File, err)
			}
		}
	}
	if err := nr.VerifyDelegate(metadata.ROOT, nr); err != nil {
		return nil, fmt.Errorf("%w: the new root is not signed by a threshold of its own root keys: %v", ErrRepo, err)
	}
	r.root = nr
	s := &Summary{Dir: dir}
	if err := r.writeRoot(s); err != nil {
		return nil, err
	}
	r.summarize(s)
	return s, nil
}

func hasSig(sigs []metadata.Signature, id string) bool {
	for _, s := range sigs {
		if s.KeyID == id {
			return true
		}
	}
	return false
}

// signRole signs md with signers (each must be a key of role under root)
// and checks the threshold is met.
func signRole[T metadata.Roles](md *metadata.Metadata[T], root *metadata.Metadata[metadata.RootType], role string, signers []*Signer) error {
	return signAs(md, root, role, signers, false)
}

// signAs is signRole; forge (tests) skips the key and threshold checks.
func signAs[T metadata.Roles](md *metadata.Metadata[T], root *metadata.Metadata[metadata.RootType], role string, signers []*Signer, forge bool) error {
	md.ClearSignatures()
	ids := root.Signed.Roles[role].KeyIDs
	for _, k := range signers {
		if !slices.Contains(ids, k.ID) && !forge {
			return fmt.Errorf("%w: key %q (%s) is not a %s key of this channel's root version %d", ErrRepo, k.File, k.ID[:12], role, root.Signed.Version)
		}
		if hasSig(md.Signatures, k.ID) {
			continue
		}
		if _, err := md.Sign(k); err != nil {
			return fmt.Errorf("%w: signing %s with %q: %v", ErrRepo, role, k.File, err)
		}
	}
	if err := root.VerifyDelegate(role, md); err != nil && !forge {
		return fmt.Errorf("%w: %s needs %d signature(s) of its keys, got %d: give more --%s-key", ErrRepo, role, root.Signed.Roles[role].Threshold, len(md.Signatures), role)
	}
	return nil
}

// commit bumps (unless first) and signs snapshot and timestamp over the
// current targets, and writes targets, snapshot, timestamp in that order.
func (r *repo) commit(s *Summary, keys Keys, first bool) error {
	if !first {
		r.snapshot.Signed.Version++
		r.timestamp.Signed.Version++
	}
	if err := signAs(r.targets, r.root, metadata.TARGETS, keys[metadata.TARGETS], r.forge); err != nil {
		return err
	}
	tb, err := r.targets.ToBytes(false)
	if err != nil {
		return err
	}
	r.snapshot.Signed.Meta["targets.json"] = metaFile(r.targets.Signed.Version, tb)
	if err := signAs(r.snapshot, r.root, metadata.SNAPSHOT, keys[metadata.SNAPSHOT], r.forge); err != nil {
		return err
	}
	sb, err := r.snapshot.ToBytes(false)
	if err != nil {
		return err
	}
	r.timestamp.Signed.Meta["snapshot.json"] = metaFile(r.snapshot.Signed.Version, sb)
	if err := signAs(r.timestamp, r.root, metadata.TIMESTAMP, keys[metadata.TIMESTAMP], r.forge); err != nil {
		return err
	}
	if f := r.pending; f != nil {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return fmt.Errorf("%w: %v", ErrRepo, err)
		}
		if err := writeAtomic(f.path, f.data); err != nil {
			return err
		}
		s.Files = append(s.Files, f.path)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{fmt.Sprintf("%d.targets.json", r.targets.Signed.Version), tb},
		{fmt.Sprintf("%d.snapshot.json", r.snapshot.Signed.Version), sb},
	} {
		p := filepath.Join(r.dir, f.name)
		if err := writeAtomic(p, f.data); err != nil {
			return err
		}
		s.Files = append(s.Files, p)
	}
	if err := r.write(s, filepath.Join(r.dir, "timestamp.json"), r.timestamp); err != nil {
		return err
	}
	r.summarize(s)
	return nil
}

// metaFile names a metadata file by version, length and SHA-256, so a file
// from another state of the channel is refused (mix-and-match).
func metaFile(version int64, data []byte) *metadata.MetaFiles {
	m := metadata.MetaFile(version)
	m.Length = int64(len(data))
	h := sha256Sum(data)
	m.Hashes = metadata.Hashes{"sha256": h[:]}
	return m
}

func (r *repo) writeRoot(s *Summary) error {
	b, err := r.root.ToBytes(true)
	if err != nil {
		return err
	}
	for _, name := range []string{fmt.Sprintf("%d.root.json", r.root.Signed.Version), "root.json"} {
		p := filepath.Join(r.dir, name)
		if err := writeAtomic(p, b); err != nil {
			return err
		}
		s.Files = append(s.Files, p)
	}
	return nil
}

func (r *repo) write(s *Summary, path string, md interface{ ToBytes(bool) ([]byte, error) }) error {
	b, err := md.ToBytes(false)
	if err != nil {
		return err
	}
	if err := writeAtomic(path, b); err != nil {
		return err
	}
	s.Files = append(s.Files, path)
	return nil
}

func (r *repo) summarize(s *Summary) {
	s.Root, s.Targets, s.Snapshot, s.Timestamp = r.root.Signed.Version, r.targets.Signed.Version, r.snapshot.Signed.Version, r.timestamp.Signed.Version
	s.Expires = r.timestamp.Signed.Expires
}

// load reads a channel folder's newest state: root.json, timestamp.json and
// the snapshot and targets versions they name.
func load(dir string) (*repo, error) {
	r := &repo{dir: dir}
	var err error
	if r.root, err = metadata.Root().FromFile(filepath.Join(dir, "root.json")); err != nil {
		return nil, fmt.Errorf("%w: %q is not a channel folder (ttsguard channel init): root.json: %v", ErrRepo, dir, err)
	}
	if r.timestamp, err = metadata.Timestamp().FromFile(filepath.Join(dir, "timestamp.json")); err != nil {
		return nil, fmt.Errorf("%w: %q: timestamp.json: %v", ErrRepo, dir, err)
	}
	sm := r.timestamp.Signed.Meta["snapshot.json"]
	if sm == nil {
		return nil, fmt.Errorf("%w: %q: timestamp.json names no snapshot", ErrRepo, dir)
	}
	sp := filepath.Join(dir, strconv.FormatInt(sm.Version, 10)+".snapshot.json")
	if r.snapshot, err = metadata.Snapshot().FromFile(sp); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrRepo, sp, err)
	}
	tm := r.snapshot.Signed.Meta["targets.json"]
	if tm == nil {
		return nil, fmt.Errorf("%w: %q names no targets", ErrRepo, sp)
	}
	tp := filepath.Join(dir, strconv.FormatInt(tm.Version, 10)+".targets.json")
	if r.targets, err = metadata.Targets().FromFile(tp); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrRepo, tp, err)
	}
	return r, nil
}

// writeAtomic writes data to path through a temporary file in its folder:
// fsync, rename, fsync the folder. A failure leaves the old file (if any).
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRepo, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("%w: %v", ErrRepo, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrRepo, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%w: %v", ErrRepo, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%w: %v", ErrRepo, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w: %v", ErrRepo, err)
	}
	ok = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
