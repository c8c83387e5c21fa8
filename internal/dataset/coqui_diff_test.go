package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
	"github.com/ttsguard/ttsguard/internal/scan"
)

type refRow struct{ Text, Audio, Speaker string }

type refResult struct {
	Error string
	Rows  []refRow
}

// TestCoquiDifferential runs coqui's own formatters.py (through
// testdata/coqui_ref.py) on every corpus dataset and checks that Load yields
// the same rows: texts, audio paths and speakers, in order; where coqui
// raises, the audit must have a finding at or above medium. It runs only
// when TTSGUARD_COQUI_PYTHON names a Python with coqui-tts installed.
func TestCoquiDifferential(t *testing.T) {
	py := os.Getenv("TTSGUARD_COQUI_PYTHON")
	if py == "" {
		t.Skip("TTSGUARD_COQUI_PYTHON not set")
	}
	dir := t.TempDir()
	type job struct {
		Name      string `json:"name"`
		Formatter string `json:"formatter"`
		Root      string `json:"root"`
		Meta      string `json:"meta"`
	}
	var jobs []job
	corpus := dstest.Corpus()
	for _, d := range corpus {
		root, err := d.Write(dir)
		if err != nil {
			t.Fatal(err)
		}
		meta := d.MetaFile
		if meta == "" {
			meta = DefaultMetaFile(d.Formatter)
		}
		jobs = append(jobs, job{d.Name, d.Formatter, root, meta})
	}
	in, _ := json.Marshal(jobs)
	cmd := exec.Command(py, "testdata/coqui_ref.py")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("coqui_ref.py: %v", err)
	}
	var ref map[string]refResult
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	for i, d := range corpus {
		t.Run(d.Name, func(t *testing.T) {
			r, ok := ref[d.Name]
			if !ok {
				t.Fatal("no reference result")
			}
			root := jobs[i].Root
			rep := &Report{}
			rows, err := Load(context.Background(), os.DirFS(root), d.Formatter, d.MetaFile, rep)
			if err != nil {
				t.Fatal(err)
			}
			if r.Error != "" {
				full, err := Audit(context.Background(), os.DirFS(root), root, optionsFor(t, dir, d))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("coqui raises %s", r.Error)
				if !full.Failed(scan.Medium) {
					t.Errorf("coqui raises %s, the audit passes", r.Error)
				}
				return
			}
			var got []refRow
			for _, row := range rows {
				p := path.Clean(strings.TrimPrefix(row.Clip.Joined, "ROOT/"))
				if row.Optional {
					fi, err := os.Stat(filepath.Join(root, p))
					if err != nil || d.Formatter == "mailabs" && !fi.Mode().IsRegular() {
						continue // coqui drops the row
					}
				}
				got = append(got, refRow{row.Text, p, row.Speaker})
			}
			for j := range r.Rows {
				r.Rows[j].Text = strings.TrimSuffix(r.Rows[j].Text, "\n") // the line terminator coqui keeps
			}
			if DefaultMetaFile(d.Formatter) == "" { // files found by glob come in directory order
				cmpRow := func(a, b refRow) int { return strings.Compare(a.Audio, b.Audio) }
				slices.SortFunc(got, cmpRow)
				slices.SortFunc(r.Rows, cmpRow)
			}
			if len(got) != len(r.Rows) {
				t.Fatalf("%d rows, coqui yields %d", len(got), len(r.Rows))
			}
			for j, w := range r.Rows {
				if got[j] != w {
					t.Errorf("row %d: %q, coqui %q", j, got[j], w)
				}
			}
		})
	}
}
