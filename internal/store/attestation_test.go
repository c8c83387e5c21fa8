package store

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestAttestationFile: the training provenance bundle is stored beside the
// signature, outside the manifest; the metadata records it, the stat record
// covers it (the fast path), and a changed or removed bundle shows in
// verification, fast or full.
func TestAttestationFile(t *testing.T) {
	s := openStore(t)
	dir := t.TempDir()
	writeFiles(dir, variant("a"))
	writeFiles(dir, map[string]string{"model.sig": `{"bundle":1}`, "provenance.sig": `{"bundle":2}`})
	root := rootOfVariant(t, "a")
	if _, err := s.Commit(context.Background(), "m", dir, root, Provenance{SignatureFile: "model.sig"}); err == nil {
		t.Fatal("provenance.sig not declared, yet left out of the root")
	}
	if _, err := s.Commit(context.Background(), "m", dir, root, Provenance{SignatureFile: "model.sig", AttestationFile: "model.sig"}); err == nil {
		t.Fatal("one file given as signature and provenance")
	}
	v, err := s.Commit(context.Background(), "m", dir, root, Provenance{SignatureFile: "model.sig", AttestationFile: "provenance.sig"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Meta(v)
	if err != nil || m.Attestation == nil || m.Attestation.Path != "provenance.sig" || len(m.Files) != 4 || len(m.SideFiles()) != 2 {
		t.Fatalf("metadata: %+v, %v", m, err)
	}
	if b, err := os.ReadFile(filepath.Join(v.Dir, "provenance.sig")); err != nil || string(b) != `{"bundle":2}` {
		t.Errorf("provenance in the version: %q, %v", b, err)
	}
	checkConsistent(t, s)
	if os.Geteuid() == 0 {
		if r := readRecordFile(t, s, v); len(r.Files) != 6 {
			t.Errorf("the stat record lists %d files, want 4 and both bundles", len(r.Files))
		}
		mustFast(t, s, v)
	}
	p := filepath.Join(v.Dir, "provenance.sig")
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("forged"), 0o644)
	for _, fast := range []bool{true, false} {
		vr, err := s.VerifyVersion(context.Background(), v, fast)
		if err != nil || !slices.Equal(vr.Diff.Changed, []string{"provenance.sig"}) {
			t.Errorf("fast=%v: modified provenance: %+v, %v", fast, vr, err)
		}
	}
	os.Remove(p)
	if d, err := s.Verify(context.Background(), v); err != nil || !slices.Equal(d.Missing, []string{"provenance.sig"}) {
		t.Errorf("removed provenance: %+v, %v", d, err)
	}
}
