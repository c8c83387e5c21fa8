package inspect

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// TestInspectAgeFolder: a stored model encrypted at rest named by its
// folder's path holds age files; inspect says so and how to read it,
// instead of reporting the ciphertext as a broken checkpoint.
func TestInspectAgeFolder(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, err := crypt.Encrypt(&b, []age.Recipient{id.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("PK\x03\x04 not really a checkpoint"))
	w.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "model_file.pth"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Inspect(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Checkpoints) != 1 || !strings.Contains(r.Checkpoints[0].Error, "is an age file (a model encrypted at rest): name the stored model") || !r.Failed() {
		t.Fatalf("%+v %+v", r.Checkpoints, r.Findings)
	}
}
