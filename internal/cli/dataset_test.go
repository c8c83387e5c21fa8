package cli

import (
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

// TestDatasetScripts runs testdata/dataset/*.txtar with the generated
// dataset corpus (clean and poisoned, see internal/dataset/dstest) written
// under $DS.
func TestDatasetScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/dataset",
		Setup: func(e *testscript.Env) error {
			ds := filepath.Join(e.WorkDir, "ds")
			for _, d := range dstest.Corpus() {
				if _, err := d.Write(ds); err != nil {
					return err
				}
			}
			e.Setenv("DS", ds)
			e.Setenv("TTSGUARD_HOME", filepath.Join(e.WorkDir, "store"))
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, "xdg"))
			return nil
		},
	})
}
