package channel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/ttsguard/ttsguard/internal/pull"
)

// TestHappyPath: publish v1, update pins it; publish v2, update moves the
// pin through lock update's gates.
func TestHappyPath(t *testing.T) {
	f := newFixture(t, 1)
	r, err := f.update(time.Time{})
	if err != nil || len(r.Models) != 1 || r.Models[0].Outcome != Unpublished {
		t.Fatalf("empty channel: %+v, %v", r, err)
	}
	v1 := f.publish(1, "")
	r, err = f.update(time.Time{})
	if err != nil || r.Models[0].Outcome != Updated || f.pin() != v1.RootDigest {
		t.Fatalf("v1: %v %+v, pin %s", err, r.Models, f.pin())
	}
	if g := r.Models[0].Pull.Gates[0]; g.Name != "channel" || !g.OK {
		t.Fatalf("first gate: %+v", g)
	}
	r, err = f.update(time.Time{})
	if err != nil || r.Models[0].Outcome != UpToDate {
		t.Fatalf("again: %v %+v", err, r.Models)
	}
	v2 := f.publish(2, "")
	r, err = f.update(time.Time{})
	if err != nil || r.Models[0].Outcome != Updated || f.pin() != v2.RootDigest || r.Models[0].From != v1.RootDigest {
		t.Fatalf("v2: %v %+v, pin %s", err, r.Models, f.pin())
	}
	if p := r.Models[0].Pull; p.Pinned != "updated" || !strings.Contains(p.Changes, "CHANGELOG.txt") {
		t.Fatalf("v2 pull: %+v", p)
	}
	st := r.Channels[0]
	if st.Targets != 3 || st.Timestamp != 3 || st.Root != 1 {
		t.Fatalf("state %+v", st)
	}
	// the cache holds the verified timestamp; it expires after a day
	cache := CacheDir(filepath.Join(f.home, "store"), "prod")
	s, err := CachedStatus(cache, "prod", f.now)
	if err != nil || s.Expired || s.Timestamp != 3 {
		t.Fatalf("status now: %+v %v", s, err)
	}
	if s, err = CachedStatus(cache, "prod", f.now.Add(48*time.Hour)); err != nil || !s.Expired {
		t.Fatalf("status in two days: %+v %v", s, err)
	}
	if fi, err := os.Stat(cache); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache %v %v", fi, err)
	}
}

// TestRollback: a mirror replays an older, validly signed state.
func TestRollback(t *testing.T) {
	f := newFixture(t, 1)
	f.publish(1, "")
	old := f.snapshotOf()
	v2 := f.publish(2, "")
	if _, err := f.update(time.Time{}); err != nil || f.pin() != v2.RootDigest {
		t.Fatal(err)
	}
	f.set(func() { f.serve = old })
	r, err := f.update(time.Time{})
	wantAttack(t, err, AttackRollback, "rollback attack refused")
	if r.OK || r.Models[0].Outcome != Refused || f.pin() != v2.RootDigest {
		t.Fatalf("%+v, pin %s", r.Models, f.pin())
	}
	// An attacker holding the timestamp key signs a newer timestamp that
	// names the older snapshot: refused as well.
	f.set(func() { f.serve = f.dir })
	forged := f.snapshotOf()
	rp, err := load(forged)
	if err != nil {
		t.Fatal(err)
	}
	rp.timestamp.Signed.Version += 5
	sm, _ := os.ReadFile(filepath.Join(forged, "2.snapshot.json"))
	rp.timestamp.Signed.Meta["snapshot.json"] = metaFile(2, sm)
	if err := signRole(rp.timestamp, rp.root, metadata.TIMESTAMP, []*Signer{f.keys["timestamp"]}); err != nil {
		t.Fatal(err)
	}
	s := &Summary{}
	if err := rp.write(s, filepath.Join(forged, "timestamp.json"), rp.timestamp); err != nil {
		t.Fatal(err)
	}
	f.set(func() { f.serve = forged })
	_, err = f.update(time.Time{})
	wantAttack(t, err, AttackRollback, "snapshot version 2 must be >= 3")
}

// TestFreeze: the mirror keeps serving the last timestamp after it expired.
func TestFreeze(t *testing.T) {
	f := newFixture(t, 1)
	v1 := f.publish(1, "")
	if _, err := f.update(time.Time{}); err != nil {
		t.Fatal(err)
	}
	frozen := f.snapshotOf()
	f.publish(2, "") // the mirror withholds it: it keeps replaying v1's state
	f.set(func() { f.serve = frozen })
	// two days on, the timestamp (valid one day) has expired
	_, err := f.update(f.now.Add(48 * time.Hour))
	f.set(func() { f.serve = f.dir })
	wantAttack(t, err, AttackFreeze, "freeze attack refused")
	if f.pin() != v1.RootDigest {
		t.Fatal("pin moved")
	}
	// A fresh timestamp unfreezes the channel.
	if _, err := Timestamp(f.dir, []*Signer{f.keys["timestamp"]}, 72*time.Hour, f.now.Add(47*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.update(f.now.Add(48 * time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMixAndMatch: snapshot or targets from another state of the channel.
func TestMixAndMatch(t *testing.T) {
	for _, role := range []string{"targets", "snapshot"} {
		t.Run(role, func(t *testing.T) {
			f := newFixture(t, 1)
			f.publish(1, "")
			f.publish(2, "")
			// the state names 3.ROLE.json; the mirror serves version 2's under that name
			f.set(func() {
				f.over[fmt.Sprintf("/channel/3.%s.json", role)] = mustRead(t, filepath.Join(f.dir, fmt.Sprintf("2.%s.json", role)))
			})
			r, err := f.update(time.Time{})
			wantAttack(t, err, AttackMixMatch, "mix-and-match attack refused")
			if r.OK || f.pin() != "" {
				t.Fatalf("%+v", r.Models)
			}
		})
	}
}

// TestTargetRootMismatch: the bytes at a target's source do not hash to the
// root digest the channel signed: refused before anything is stored.
func TestTargetRootMismatch(t *testing.T) {
	f := newFixture(t, 1)
	f.publish(1, rootOf(t, version(7)))
	r, err := f.update(time.Time{})
	if !errors.Is(err, pull.ErrGate) || !strings.Contains(err.Error(), "the channel's signed target names") {
		t.Fatalf("got %v", err)
	}
	if r.Models[0].Outcome != Refused || f.pin() != "" {
		t.Fatalf("%+v pin %q", r.Models, f.pin())
	}
	if ents, _ := os.ReadDir(filepath.Join(f.home, "store", "models")); len(ents) != 0 {
		t.Fatalf("stored: %v", ents)
	}
}

// TestRevokedKeyAfterRotation: root v2 replaces the timestamp key; a
// timestamp signed by the revoked key is refused.
func TestRevokedKeyAfterRotation(t *testing.T) {
	f := newFixture(t, 1)
	f.publish(1, "")
	if _, err := f.update(time.Time{}); err != nil {
		t.Fatal(err)
	}
	newTS := map[string][]*metadata.Key{metadata.TIMESTAMP: {f.keys["timestamp2"].Key}}
	if _, err := RotateRoot(f.dir, newTS, nil, []*Signer{f.keys["root"]}, nil, 365*24*time.Hour, f.now); err != nil {
		t.Fatal(err)
	}
	// the revoked key can no longer sign through the publisher
	if _, err := Timestamp(f.dir, []*Signer{f.keys["timestamp"]}, time.Hour, f.now); err == nil || !strings.Contains(err.Error(), "is not a timestamp key") {
		t.Fatalf("publisher signed with a revoked key: %v", err)
	}
	if _, err := Timestamp(f.dir, []*Signer{f.keys["timestamp2"]}, 24*time.Hour, f.now); err != nil {
		t.Fatal(err)
	}
	r, err := f.update(time.Time{})
	if err != nil || r.Channels[0].Root != 2 {
		t.Fatalf("after rotation: %v %+v", err, r)
	}
	// an attacker holding the revoked key signs a newer timestamp
	forged := f.snapshotOf()
	rp, err := load(forged)
	if err != nil {
		t.Fatal(err)
	}
	rp.timestamp.Signed.Version++
	rp.timestamp.Signed.Expires = f.now.Add(time.Hour)
	if err := signAs(rp.timestamp, rp.root, metadata.TIMESTAMP, []*Signer{f.keys["timestamp"]}, true); err != nil {
		t.Fatal(err)
	}
	if err := rp.write(&Summary{}, filepath.Join(forged, "timestamp.json"), rp.timestamp); err != nil {
		t.Fatal(err)
	}
	f.set(func() { f.serve = forged })
	_, err = f.update(time.Time{})
	wantAttack(t, err, AttackThreshold, "signature threshold not met")
}

// TestThresholdTwo: targets needs two signatures; one compromised targets
// key (with the online snapshot and timestamp keys) cannot publish.
func TestThresholdTwo(t *testing.T) {
	f := newFixture(t, 2)
	v1 := f.publish(1, "")
	if _, err := f.update(time.Time{}); err != nil {
		t.Fatal(err)
	}
	// the publisher refuses to sign below the threshold
	one := f.onlineKeys()
	one[metadata.TARGETS] = one[metadata.TARGETS][:1]
	evil := Descriptor{Name: "vits", Version: "6.6.6", Source: f.srv.URL + "/dl/evil.zip", RootDigest: rootOf(t, version(6))}
	if _, err := Publish(f.dir, evil, one, nil, f.now); err == nil || !strings.Contains(err.Error(), "targets needs 2 signature(s)") {
		t.Fatalf("publisher signed below the threshold: %v", err)
	}
	// the attacker signs anyway and serves it
	forged := f.snapshotOf()
	rp, err := load(forged)
	if err != nil {
		t.Fatal(err)
	}
	rp.forge = true
	rp.targets.Signed.Version++
	tf, _ := metadata.TargetFile().FromBytes(TargetPath(evil.Name, evil.Version), []byte("{}"), "sha256")
	rp.targets.Signed.Targets[TargetPath(evil.Name, evil.Version)] = tf
	if err := rp.commit(&Summary{}, one, false); err != nil {
		t.Fatal(err)
	}
	f.set(func() { f.serve = forged })
	_, err = f.update(time.Time{})
	wantAttack(t, err, AttackThreshold, "signature threshold not met")
	if f.pin() != v1.RootDigest {
		t.Fatal("pin moved")
	}
}

// TestPinnedRoot: the policy's root file must hash to its pin.
func TestPinnedRoot(t *testing.T) {
	f := newFixture(t, 1)
	f.publish(1, "")
	rp := filepath.Join(f.home, "channel-root.json")
	b := mustRead(t, rp)
	os.WriteFile(rp, append(b, ' '), 0o644)
	_, err := f.update(time.Time{})
	if err == nil || !strings.Contains(err.Error(), "the policy pins") {
		t.Fatalf("got %v", err)
	}
}

// TestRootKeyRotation: the root key itself is replaced twice (v2 signed by
// the old and new keys, v3 by the second and third); a host that trusts
// only root v1 walks both rotations, and a root v4 signed only by the
// retired first key is refused.
func TestRootKeyRotation(t *testing.T) {
	f := newFixture(t, 1)
	f.publish(1, "")
	kd := t.TempDir()
	r2, r3 := writeKey(t, kd, "root2", false), writeKey(t, kd, "root3", true)
	if _, err := RotateRoot(f.dir, map[string][]*metadata.Key{metadata.ROOT: {r2.Key}}, nil, []*Signer{f.keys["root"]}, []*Signer{r2}, 365*24*time.Hour, f.now); err != nil {
		t.Fatal(err)
	}
	// the retired key cannot sign the next root through the publisher
	if _, err := RotateRoot(f.dir, map[string][]*metadata.Key{metadata.ROOT: {r3.Key}}, nil, []*Signer{f.keys["root"]}, []*Signer{r3}, time.Hour, f.now); err == nil || !strings.Contains(err.Error(), "is not a root key") {
		t.Fatalf("retired root key signed: %v", err)
	}
	if _, err := RotateRoot(f.dir, map[string][]*metadata.Key{metadata.ROOT: {r3.Key}}, nil, []*Signer{r2}, []*Signer{r3}, 365*24*time.Hour, f.now); err != nil {
		t.Fatal(err)
	}
	r, err := f.update(time.Time{})
	if err != nil || r.Channels[0].Root != 3 || r.Models[0].Outcome != Updated {
		t.Fatalf("after two rotations: %v %+v", err, r)
	}
	// root v4 forged with the first root key only
	forged := f.snapshotOf()
	rp, err := load(forged)
	if err != nil {
		t.Fatal(err)
	}
	nr := *rp.root
	nr.Signed.Version = 4
	if err := signAs(&nr, rp.root, metadata.ROOT, []*Signer{f.keys["root"]}, true); err != nil {
		t.Fatal(err)
	}
	b, _ := nr.ToBytes(true)
	os.WriteFile(filepath.Join(forged, "4.root.json"), b, 0o644)
	f.set(func() { f.serve = forged })
	_, err = f.update(time.Time{})
	wantAttack(t, err, AttackThreshold, "signature threshold not met")
}

// TestConcurrentUpdates: hosts sharing one store update at once; the cache
// lock and the lock file keep them consistent (run with -race).
func TestConcurrentUpdates(t *testing.T) {
	f := newFixture(t, 1)
	v1 := f.publish(1, "")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := f.update(time.Time{})
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if f.pin() != v1.RootDigest {
		t.Fatalf("pin %s", f.pin())
	}
}
