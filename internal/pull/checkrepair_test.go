package pull

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckRepairsFromCleanCopy: when the store holds a clean copy of a
// damaged blob (a model whose file is an equal copy of its own, as a kill
// while a commit links versions again leaves), check repairs the blob for
// every model that shares it, and says so while failing this once.
func TestCheckRepairsFromCleanCopy(t *testing.T) {
	e := newEnv(t, "")
	src := localModel(t, nil)
	ra, err := e.pull(t, Options{Name: "a"}, src)
	must(t, err)
	rb, err := e.pull(t, Options{Name: "b"}, src)
	must(t, err)
	// b's file: an equal copy with an inode of its own.
	must(t, os.Chmod(rb.Dir, 0o755))
	tmp := filepath.Join(rb.Dir, ".copy")
	must(t, os.WriteFile(tmp, exampleFiles["model_file.pth"], 0o444))
	must(t, os.Rename(tmp, filepath.Join(rb.Dir, "model_file.pth")))
	must(t, os.Chmod(rb.Dir, 0o555))
	corruptStored(t, ra.Dir, "model_file.pth", 0)

	cr, err := CheckStored(context.Background(), e.pol, "a")
	if err == nil || cr.OK {
		t.Fatalf("the damage went unnoticed: %+v", cr)
	}
	if len(cr.BadBlobs) != 1 || !cr.BadBlobs[0].Repaired || len(cr.BadBlobs[0].SharedBy) != 2 ||
		!strings.Contains(cr.Gates[0].Detail, "repaired from the clean copy") {
		t.Fatalf("bad blobs %+v, detail %s", cr.BadBlobs, cr.Gates[0].Detail)
	}
	checkStoredOK(t, e, "a")
	checkStoredOK(t, e, "b")
}
