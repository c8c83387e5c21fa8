package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func sumOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// damage overwrites, in place, the blob of the stored file p (and so every
// version that shares it): same size, or grown by grow bytes.
func damage(t *testing.T, p string, grow int) {
	t.Helper()
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("XX"), st.Size()/2)
	if grow > 0 {
		f.WriteAt(make([]byte, grow), st.Size())
	}
	f.Close()
	if err := os.Chmod(p, 0o444); err != nil {
		t.Fatal(err)
	}
}

func mustVerify(t *testing.T, s *Store, v *Version) {
	t.Helper()
	if d, err := s.Verify(context.Background(), v); err != nil || !d.Empty() {
		t.Errorf("verify %s %s: %+v, %v", v.Name, v.ID, d, err)
	}
}

// TestCommitReplacesDamagedBlob: a commit never reuses a damaged blob: the
// staged, verified bytes replace it, and every version sharing it is linked
// to the replacement (issue 9, item 17).
func TestCommitReplacesDamagedBlob(t *testing.T) {
	for _, c := range []struct {
		name        string
		grow        int
		again, from string // the second commit: model name and variant
	}{
		{"another model, same size", 0, "y", "b"},
		{"another model, other size", 5, "y", "b"},
		{"same content again", 0, "x", "a"},
		{"new version of the model", 0, "x", "a2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t)
			vx := commitVariant(t, s, "x", "a")
			damage(t, filepath.Join(vx.Dir, "shared.bin"), c.grow)
			if d, _ := s.Verify(context.Background(), vx); d.Empty() {
				t.Fatal("damage not seen")
			}
			v := commitVariant(t, s, c.again, c.from)
			mustVerify(t, s, v)
			mustVerify(t, s, vx)
			checkConsistent(t, s)
			if m := mode(t, s.blobPath(sumOf(variant("a")["shared.bin"]))); m != 0o444 {
				t.Errorf("blob mode %v", m)
			}
			if n := tmpEntries(t, s); len(n) != 0 {
				t.Errorf("tmp/: %v", n)
			}
		})
	}
}

// TestCommitRelinksMissingFile: a version file that went missing is linked
// again by a commit of its content.
func TestCommitRelinksMissingFile(t *testing.T) {
	s := openStore(t)
	vx := commitVariant(t, s, "x", "a")
	os.Chmod(vx.Dir, 0o755)
	if err := os.Remove(filepath.Join(vx.Dir, "shared.bin")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(vx.Dir, 0o555)
	commitVariant(t, s, "y", "b")
	mustVerify(t, s, vx)
	checkConsistent(t, s)
}

// TestRepairBlob: a damaged blob is repaired from a clean copy the store
// holds (what a kill during a commit's relinks can leave), and refused,
// changing nothing, when there is none.
func TestRepairBlob(t *testing.T) {
	ctx := context.Background()
	sum := sumOf(variant("a")["shared.bin"])
	s := openStore(t)
	vx := commitVariant(t, s, "x", "a")
	vy := commitVariant(t, s, "y", "b")
	commitVariant(t, s, "x", "a2") // vx is no longer current, and still shares the blob

	users, err := s.BlobUsers(sum)
	if err != nil || len(users) != 3 {
		t.Fatalf("BlobUsers: %v, %v", users, err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name+"@"+u.ID)
	}
	if !slices.Contains(names, "x@"+vx.ID) || !slices.Contains(names, "y@"+vy.ID) {
		t.Errorf("BlobUsers: %v", names)
	}

	// No clean copy: refused, nothing changes.
	damage(t, s.blobPath(sum), 0)
	before := snapshot(t, s)
	rep, err := s.RepairBlob(ctx, sum)
	if !errors.Is(err, ErrNoCleanCopy) || rep == nil || len(rep.Users) != 3 || rep.From != "" {
		t.Fatalf("RepairBlob without a clean copy: %+v, %v", rep, err)
	}
	if d := diffSnapshots(before, snapshot(t, s)); d != "" {
		t.Errorf("store changed:\n%s", d)
	}

	// y's file becomes a clean copy of its own (a relink interrupted).
	clean := filepath.Join(vy.Dir, "shared.bin")
	os.Chmod(vy.Dir, 0o755)
	tmp := filepath.Join(vy.Dir, ".tmp")
	if err := os.WriteFile(tmp, []byte(variant("a")["shared.bin"]), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, clean); err != nil {
		t.Fatal(err)
	}
	os.Chmod(vy.Dir, 0o555)
	rep, err = s.RepairBlob(ctx, sum)
	if err != nil || rep.From != clean || len(rep.Relinked) != 2 {
		t.Fatalf("RepairBlob: %+v, %v", rep, err)
	}
	mustVerify(t, s, vx)
	mustVerify(t, s, vy)
	checkConsistent(t, s)
	if _, err := s.RepairBlob(ctx, "not-a-sum"); err == nil {
		t.Error("RepairBlob of a bad digest")
	}
}

// TestOpenFinishesJournaledRelinks: a commit killed after it replaced a
// blob and before it linked the versions sharing it leaves a journal; the
// next Open links them to the blob and deletes the work folder.
func TestOpenFinishesJournaledRelinks(t *testing.T) {
	s := openStore(t)
	vx := commitVariant(t, s, "x", "a")
	sum := sumOf(variant("a")["shared.bin"])
	work, release, err := s.newTmp("commit-")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeJournal(work, []string{sum}); err != nil {
		t.Fatal(err)
	}
	// The blob is replaced by an equal copy; x still links the old inode.
	bp := s.blobPath(sum)
	if err := os.WriteFile(filepath.Join(work, "new"), []byte(variant("a")["shared.bin"]), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(work, "new"), bp); err != nil {
		t.Fatal(err)
	}
	// And a version folder left writable by a relink killed halfway.
	os.Chmod(vx.Dir, 0o755)
	// Killed: the hold goes, the folder stays.
	heldOnly(t, release, work)
	if _, err := Open(s.Root); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	if n := tmpEntries(t, s); len(n) != 0 {
		t.Errorf("tmp/ after Open: %v", n)
	}
}

// heldOnly drops the hold on a work folder as a killed process would,
// without deleting it: release deletes and unlocks, so the folder is moved
// aside first and put back.
func heldOnly(t *testing.T, release func(), work string) {
	t.Helper()
	aside := work + ".aside"
	if err := os.Rename(work, aside); err != nil {
		t.Fatal(err)
	}
	release()
	if err := os.Rename(aside, work); err != nil {
		t.Fatal(err)
	}
}
