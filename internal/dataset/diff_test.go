package dataset

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

// TestDiff: every added, removed and changed row and file is listed, and
// nothing else; identical folders have no differences.
func TestDiff(t *testing.T) {
	dir := t.TempDir()
	old := dstest.LJSpeech("old", dstest.Base("LJ001-", 12))
	rows := dstest.Base("LJ001-", 13)
	rows[2].Text = "Printing, in the only tense."
	rows[4].Clip.Seed = 99 // another recording under the same row
	rows = slices.Delete(rows, 6, 7)
	nw := dstest.LJSpeech("new", rows)
	nw.Files["notes.txt"] = []byte("added\n")
	same := dstest.LJSpeech("same", dstest.Base("LJ001-", 12))
	oldRoot, err := old.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	newRoot, _ := nw.Write(dir)
	sameRoot, _ := same.Write(dir)

	d, err := Diff(context.Background(), os.DirFS(oldRoot), os.DirFS(newRoot), oldRoot, newRoot, "ljspeech", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range d.Changes {
		got = append(got, c.Kind+" "+c.What+" "+c.Key)
	}
	// rows in NEW in key order, then rows only in OLD; files likewise
	want := []string{
		"changed row LJ001-0003", "changed row LJ001-0005", "added row LJ001-0013", "removed row LJ001-0007",
		"changed file metadata.csv", "added file notes.txt", "changed file wavs/LJ001-0005.wav", "added file wavs/LJ001-0013.wav",
		"removed file wavs/LJ001-0007.wav",
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes\n%q\nwant\n%q", got, want)
	}
	var b strings.Builder
	d.Text(&b)
	for _, s := range []string{
		`~ row LJ001-0003 (metadata.csv:3): text "Printing, in the only sense." -> "Printing, in the only tense."`,
		`~ row LJ001-0005 (metadata.csv:5): audio "wavs/LJ001-0005.wav" content sha256:`,
		`+ row LJ001-0013 (metadata.csv:12)`,
		"1 row added, 1 row removed, 2 row changed, 2 file added, 1 file removed, 2 file changed",
	} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, b.String())
		}
	}

	d, err = Diff(context.Background(), os.DirFS(oldRoot), os.DirFS(sameRoot), oldRoot, sameRoot, "ljspeech", "")
	if err != nil || len(d.Changes) != 0 {
		t.Errorf("identical: %v %+v", err, d)
	}
}
