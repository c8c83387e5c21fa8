package channel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/policy"
)

// Attack names what a refused refresh points to (the first words of its
// error).
type Attack string

const (
	AttackRollback  Attack = "rollback"      // an older, validly signed version of a role
	AttackFreeze    Attack = "freeze"        // expired metadata (a replayed timestamp)
	AttackMixMatch  Attack = "mix-and-match" // a file from another state of the channel
	AttackThreshold Attack = "signature"     // not signed by a threshold of trusted keys
)

// RefreshError is a refresh the TUF client workflow refused.
type RefreshError struct {
	Channel string
	Attack  Attack // "" when the failure names no attack (download, I/O)
	Err     error
}

func (e *RefreshError) Error() string {
	switch e.Attack {
	case AttackRollback:
		return fmt.Sprintf("channel %s: rollback attack refused: the mirror serves an older version than this host already trusts: %v", e.Channel, e.Err)
	case AttackFreeze:
		return fmt.Sprintf("channel %s: freeze attack refused: the mirror serves expired metadata (no fresh timestamp: the channel may be frozen): %v", e.Channel, e.Err)
	case AttackMixMatch:
		return fmt.Sprintf("channel %s: mix-and-match attack refused: a metadata file does not match the length and hash its signed parent names: %v", e.Channel, e.Err)
	case AttackThreshold:
		return fmt.Sprintf("channel %s: signature threshold not met: metadata is not signed by enough trusted keys (a revoked key, or a single compromised key under a threshold): %v", e.Channel, e.Err)
	}
	return fmt.Sprintf("channel %s: refresh failed: %v", e.Channel, e.Err)
}

// ErrAttack is matched by a RefreshError that names an attack.
var ErrAttack = errors.New("channel metadata refused")

func (e *RefreshError) Unwrap() []error {
	if e.Attack != "" {
		return []error{e.Err, ErrAttack}
	}
	return []error{e.Err}
}

func classify(name string, err error) error {
	e := &RefreshError{Channel: name, Err: err}
	switch {
	case errors.Is(err, &metadata.ErrBadVersionNumber{}):
		e.Attack = AttackRollback
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		e.Attack = AttackFreeze
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		e.Attack = AttackMixMatch
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		e.Attack = AttackThreshold
	}
	return e
}

// Client follows one channel of the policy.
type Client struct {
	Channel policy.Channel
	// Cache is the channel's local TUF cache (metadata/, targets/): owned by
	// this user, 0700 (CacheDir).
	Cache string
	// TLS is the HTTPS client configuration (the policy's TLSConfig).
	TLS *tls.Config
	// Now overrides the reference time of expiry checks (tests); zero = now.
	Now time.Time
}

// CacheDir is a channel's cache under a store.
func CacheDir(storeDir, channel string) string {
	return filepath.Join(storeDir, audit.ChannelsDir, channel)
}

// State is a channel's verified view after a refresh.
type State struct {
	Channel          string       `json:"channel"`
	URL              string       `json:"url"`
	Root             int64        `json:"root_version"`
	Timestamp        int64        `json:"timestamp_version"`
	Snapshot         int64        `json:"snapshot_version"`
	Targets          int64        `json:"targets_version"`
	TimestampExpires time.Time    `json:"timestamp_expires"`
	Models           []Descriptor `json:"models"` // the current version of each model, by name
}

// Current returns the channel's current version of model name.
func (s *State) Current(name string) (Descriptor, bool) {
	for _, d := range s.Models {
		if d.Name == name {
			return d, true
		}
	}
	return Descriptor{}, false
}

// maxMeta caps every metadata download.
const maxMeta = 8 << 20

// Refresh runs the TUF client workflow (go-tuf's updater: root rotation,
// thresholds, expiry, rollback and freeze protection, snapshot
// consistency) against the channel and returns its verified state: for each
// model the channel may move, the newest published version, its descriptor
// file downloaded and checked against the signed target. The trusted root
// is the cache's newest root, else the policy's pinned root file.
func (c *Client) Refresh(ctx context.Context) (*State, error) {
	name := c.Channel.Name
	if err := ensureCache(c.Cache); err != nil {
		return nil, fmt.Errorf("channel %s: cache: %w", name, err)
	}
	unlock, err := lockCache(c.Cache)
	if err != nil {
		return nil, fmt.Errorf("channel %s: cache: %w", name, err)
	}
	defer unlock()
	rootBytes, err := c.trustedRoot()
	if err != nil {
		return nil, err
	}
	cfg, err := config.New(strings.TrimSuffix(c.Channel.URL, "/"), rootBytes)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", name, err)
	}
	cfg.LocalMetadataDir = filepath.Join(c.Cache, "metadata")
	cfg.LocalTargetsDir = filepath.Join(c.Cache, "targets")
	cfg.RootMaxLength, cfg.TimestampMaxLength, cfg.SnapshotMaxLength, cfg.TargetsMaxLength = 1<<20, 64<<10, maxMeta, maxMeta
	cfg.Fetcher = &fetcher{ctx: ctx, client: &http.Client{Transport: &http.Transport{TLSClientConfig: c.TLS, Proxy: http.ProxyFromEnvironment}, Timeout: 2 * time.Minute}}
	up, err := updater.New(cfg)
	if err != nil {
		return nil, classify(name, err)
	}
	if !c.Now.IsZero() {
		up.UnsafeSetRefTime(c.Now)
	}
	if err := up.Refresh(); err != nil {
		return nil, classify(name, err)
	}
	tm := up.GetTrustedMetadataSet()
	st := &State{Channel: name, URL: c.Channel.URL, Root: tm.Root.Signed.Version, Timestamp: tm.Timestamp.Signed.Version,
		Snapshot: tm.Snapshot.Signed.Version, Targets: tm.Targets[metadata.TARGETS].Signed.Version, TimestampExpires: tm.Timestamp.Signed.Expires}
	current := map[string]Descriptor{}
	paths := map[string]string{}
	for p, tf := range up.GetTopLevelTargets() {
		d, err := descriptorOf(p, tf)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", name, err)
		}
		if !c.Channel.Moves(d.Name) {
			continue
		}
		if old, ok := current[d.Name]; !ok || d.Published > old.Published {
			current[d.Name], paths[d.Name] = d, p
		}
	}
	for n, d := range current {
		tf := up.GetTopLevelTargets()[paths[n]]
		local := filepath.Join(cfg.LocalTargetsDir, hex.EncodeToString(tf.Hashes["sha256"])+".json")
		_, body, err := up.FindCachedTarget(tf, local) // checked against its length and hash
		if err != nil || body == nil {
			if _, body, err = up.DownloadTarget(tf, local, ""); err != nil {
				return nil, classify(name, fmt.Errorf("target %s: %w", paths[n], err))
			}
		}
		var file Descriptor
		if err := strictJSON(body, &file); err != nil {
			return nil, fmt.Errorf("channel %s: target %s: %w", name, paths[n], err)
		}
		file.Published = d.Published
		if file != d {
			return nil, fmt.Errorf("channel %s: target %s: its file %+v differs from its signed custom fields %+v", name, paths[n], file, d)
		}
		st.Models = append(st.Models, d)
	}
	sort.Slice(st.Models, func(i, j int) bool { return st.Models[i].Name < st.Models[j].Name })
	return st, nil
}

// descriptorOf reads a target's custom "ttsguard" descriptor and checks it
// names the target's path.
func descriptorOf(p string, tf *metadata.TargetFiles) (Descriptor, error) {
	if tf.Custom == nil {
		return Descriptor{}, fmt.Errorf("target %q has no ttsguard custom field", p)
	}
	var c struct {
		D *Descriptor `json:"ttsguard"`
	}
	if err := json.Unmarshal(*tf.Custom, &c); err != nil || c.D == nil {
		return Descriptor{}, fmt.Errorf("target %q: custom field: not a ttsguard descriptor (%v)", p, err)
	}
	d := *c.D
	if err := d.Validate(); err != nil {
		return Descriptor{}, fmt.Errorf("target %q: %w", p, err)
	}
	if TargetPath(d.Name, d.Version) != p {
		return Descriptor{}, fmt.Errorf("target %q describes %s version %s, which lives at %q", p, d.Name, d.Version, TargetPath(d.Name, d.Version))
	}
	return d, nil
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not a descriptor: %w", err)
	}
	if dec.More() {
		return errors.New("not a descriptor: trailing data")
	}
	return nil
}

// trustedRoot is the cache's newest root (written only by the updater,
// after verification), else the policy's root file, which must hash to its
// pin.
func (c *Client) trustedRoot() ([]byte, error) {
	cached := filepath.Join(c.Cache, "metadata", "root.json")
	if b, err := os.ReadFile(cached); err == nil {
		return b, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("channel %s: cached root: %w", c.Channel.Name, err)
	}
	b, err := os.ReadFile(c.Channel.Root)
	if err != nil {
		return nil, fmt.Errorf("channel %s: trusted root: %w", c.Channel.Name, err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != c.Channel.RootSHA256 {
		return nil, fmt.Errorf("channel %s: trusted root %q hashes to sha256 %x, the policy pins %s: refusing it", c.Channel.Name, c.Channel.Root, sum, c.Channel.RootSHA256)
	}
	return b, nil
}

// ensureCache creates the cache folder 0700 and refuses one another user
// owns or others can write (its root.json is trusted).
func ensureCache(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "metadata"), filepath.Join(dir, "targets")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		fi, err := os.Lstat(d)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%q is not a folder", d)
		}
		if fi.Mode().Perm()&0o022 != 0 {
			return fmt.Errorf("%q is writable by others (%v): refusing a cache whose root others could replace", d, fi.Mode().Perm())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("%q is owned by uid %d, not this user (%d)", d, st.Uid, os.Geteuid())
		}
	}
	return nil
}

// lockCache takes the cache's lock (flock on CACHE/.lock): concurrent
// refreshes of one channel take turns, so an older state never overwrites
// a newer one in the cache.
func lockCache(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// fetcher downloads metadata and targets with the policy's TLS settings,
// once (no retries), bounded by maxLength and the context.
type fetcher struct {
	ctx    context.Context
	client *http.Client
}

func (f *fetcher) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := f.client.Do(req)
	if err != nil {
		return nil, &metadata.ErrDownload{Msg: err.Error()}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, &metadata.ErrDownloadHTTP{StatusCode: res.StatusCode, URL: u}
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxLength+1))
	if err != nil {
		return nil, &metadata.ErrDownload{Msg: fmt.Sprintf("%s: %v", u, err)}
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is larger than %d bytes", u, maxLength)}
	}
	return data, nil
}

// Status is what the cache says about a channel without going online.
type Status struct {
	Channel          string    `json:"channel"`
	Timestamp        int64     `json:"timestamp_version"`
	TimestampExpires time.Time `json:"timestamp_expires"`
	Expired          bool      `json:"expired"`
}

// CachedStatus reads the last-known (verified) timestamp of a channel's
// cache: a timestamp that has expired at now means the host has not seen a
// fresh one since (a frozen channel or a mirror withholding updates).
func CachedStatus(cache, channel string, now time.Time) (*Status, error) {
	ts, err := metadata.Timestamp().FromFile(filepath.Join(cache, "metadata", "timestamp.json"))
	if err != nil {
		return nil, fmt.Errorf("channel %s: no verified timestamp in %q (run ttsguard update): %w", channel, cache, err)
	}
	root, err := metadata.Root().FromFile(filepath.Join(cache, "metadata", "root.json"))
	if err != nil {
		return nil, fmt.Errorf("channel %s: no trusted root in %q: %w", channel, cache, err)
	}
	if err := root.VerifyDelegate(metadata.TIMESTAMP, ts); err != nil {
		return nil, fmt.Errorf("channel %s: the cached timestamp is not signed by the cached root's timestamp keys: %w", channel, err)
	}
	return &Status{Channel: channel, Timestamp: ts.Signed.Version, TimestampExpires: ts.Signed.Expires, Expired: ts.Signed.IsExpired(now)}, nil
}
