package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// keysFromEnv reads "RECIPIENT,RECIPIENT...;IDENTITY,IDENTITY..." (the
// helper process's keys).
func keysFromEnv(s string) *crypt.Keys {
	rs, is, _ := strings.Cut(s, ";")
	var recs []age.Recipient
	for _, r := range strings.Split(rs, ",") {
		rr, err := age.ParseX25519Recipient(r)
		if err != nil {
			panic(err)
		}
		recs = append(recs, rr)
	}
	var ids []age.Identity
	for _, i := range strings.Split(is, ",") {
		id, err := age.ParseX25519Identity(i)
		if err != nil {
			panic(err)
		}
		ids = append(ids, id)
	}
	return crypt.NewKeysWith(recs, ids)
}

func keysEnv(recs []*age.X25519Identity, ids []*age.X25519Identity) string {
	var r, i []string
	for _, x := range recs {
		r = append(r, x.Recipient().String())
	}
	for _, x := range ids {
		i = append(i, x.String())
	}
	return strings.Join(r, ",") + ";" + strings.Join(i, ",")
}

// convertHelper runs Convert in a helper process that SIGKILLs itself at
// durable step crashAt (0: never).
func convertHelper(t *testing.T, root, mode, keys string, crashAt int) (killed bool, out string, err error) {
	t.Helper()
	return runHelper("STORE="+root, "CONVERT="+mode, "AGE_KEYS="+keys, fmt.Sprintf("CRASH_AT=%d", crashAt))
}

// ageBlobs counts the blobs of model files that are age files, and all of them.
func ageBlobs(t *testing.T, s *Store) (enc, all int) {
	t.Helper()
	refs, err := s.blobRefs()
	if err != nil {
		t.Fatal(err)
	}
	for sum, rs := range refs {
		if rs[0].side {
			continue
		}
		all++
		if ok, err := crypt.IsAgeFile(s.blobPath(sum)); err != nil {
			t.Fatal(err)
		} else if ok {
			enc++
		}
	}
	return enc, all
}

// TestConvertKill9 kills `store encrypt` and then `store rekey` at every
// durable step in turn and checks after each kill that every version of
// every model still verifies (full and fast path), that the store is
// consistent (links, modes), and that running the conversion again
// finishes it: every model file encrypted, no plaintext left in the store,
// and after a rekey the old key no longer needed.
func TestConvertKill9(t *testing.T) {
	fleet, _ := age.GenerateX25519Identity()
	recovery, _ := age.GenerateX25519Identity()
	next, _ := age.GenerateX25519Identity()
	for _, sc := range []struct {
		mode       string
		keys       string // the helper's: recipients; identities
		after      []*age.X25519Identity
		commitKeys *crypt.Keys // nil: the store starts in plaintext
	}{
		{"encrypt", keysEnv([]*age.X25519Identity{fleet, recovery}, []*age.X25519Identity{fleet}), []*age.X25519Identity{recovery}, nil},
		{"rekey", keysEnv([]*age.X25519Identity{next}, []*age.X25519Identity{fleet, next}), []*age.X25519Identity{next},
			crypt.NewKeysWith([]age.Recipient{fleet.Recipient()}, []age.Identity{fleet})},
	} {
		t.Run(sc.mode, func(t *testing.T) {
			both := keysFromEnv(sc.keys)
			var steps int
			for n := 1; ; n++ {
				if n > 60 {
					t.Fatal("conversion never completed")
				}
				s := openStore(t)
				if sc.commitKeys != nil {
					s = openEncrypted(t, s.Root, sc.commitKeys)
				}
				commitVariant(t, s, "tts_models/en/x/m", "a")
				commitVariant(t, s, "tts_models/en/x/m", "a2")
				commitVariant(t, s, "other", "b")
				killed, out, err := convertHelper(t, s.Root, sc.mode, sc.keys, n)
				if err != nil {
					t.Fatalf("step %d: %v\n%s", n, err, out)
				}
				// What a reader has after the kill: the union of old and new identities.
				r := openEncrypted(t, s.Root, both)
				checkConsistent(t, r)
				if !killed {
					fmt.Sscanf(strings.TrimSpace(out), "steps=%d", &steps)
					break
				}
				// Run again: it finishes.
				if killed, out, err := convertHelper(t, s.Root, sc.mode, sc.keys, 0); killed || err != nil {
					t.Fatalf("after kill at step %d: rerun: %v\n%s", n, err, out)
				}
				done := &Store{Root: s.Root, keys: crypt.NewKeysWith(nil, toIdentities(sc.after))}
				checkConsistent(t, done)
				if enc, all := ageBlobs(t, done); enc != all || all == 0 {
					t.Fatalf("after kill at step %d and a rerun: %d of %d blobs encrypted", n, enc, all)
				}
				grepTree(t, s.Root, "checkpoint a")
				grepTree(t, s.Root, "shared content of every test model")
			}
			if steps < 9 {
				t.Fatalf("only %d durable steps: the conversion was not exercised", steps)
			}
			t.Logf("%s: killed at each of %d durable steps", sc.mode, steps)
		})
	}
}

func toIdentities(ids []*age.X25519Identity) []age.Identity {
	out := make([]age.Identity, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// TestConvertRefusesDamagedBlob: a blob whose content does not match its
// name stops the conversion and is left as it was.
func TestConvertRefusesDamagedBlob(t *testing.T) {
	k, _, _ := testKeys(t)
	s := openStore(t)
	v := commitVariant(t, s, "m", "a")
	m, _ := s.Meta(v)
	var bp string
	for _, f := range m.Files {
		if f.Path == "model_file.pth" {
			bp = s.blobPath(f.SHA256)
		}
	}
	os.Chmod(bp, 0o644)
	if err := os.WriteFile(bp, []byte(strings.Repeat("checkpoint X ", 500)), 0o444); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(bp)
	es := openEncrypted(t, s.Root, k)
	_, err := es.Convert(context.Background(), false)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(bp)) {
		t.Fatalf("convert of a damaged blob: %v", err)
	}
	if after, _ := os.ReadFile(bp); !bytes.Equal(before, after) {
		t.Fatal("the damaged blob was changed")
	}
	if _, err := (&Store{Root: s.Root}).Convert(context.Background(), false); err == nil {
		t.Fatal("convert without recipients: no error")
	}
}
