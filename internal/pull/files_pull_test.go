package pull

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// leftovers are a trainer's files beside the example model: another
// checkpoint, a real TensorBoard log, the trainer's log.
func leftovers(t *testing.T) map[string][]byte {
	events, err := os.ReadFile("../scan/walk/testdata/events.out.tfevents.small")
	must(t, err)
	return map[string][]byte{"checkpoint_1.pth": exampleFiles["model_file.pth"], "events.out.tfevents.1.host": events,
		"trainer_0_log.txt": []byte("> TRAINING\n")}
}

const excludeLeftovers = "    files:\n      exclude: [checkpoint_*.pth, events.out.tfevents.*, trainer_*_log.txt]\n"

// TestPullExcludesFiles pulls a trainer's folder: the files gate warns about
// the files the loader never reads, files.exclude leaves them out before
// hashing (the result, the lock entry and the store hold the rest), and a
// signature over the whole folder still vouches for the files kept, while a
// changed kept file or an unsigned file kept is refused.
func TestPullExcludesFiles(t *testing.T) {
	tests := []struct {
		name    string
		exclude bool
		sign    bool                           // sign the whole folder, and require it
		after   func(t *testing.T, src string) // after signing
		files   int                            // stored; 0: refused
		detail  string                         // in the files gate, or the error
	}{
		{name: "warned, all stored", files: 5,
			detail: "warning: 3 files that coqui's vits loader never reads: checkpoint_1.pth, events.out.tfevents.1.host, trainer_0_log.txt"},
		{name: "excluded", exclude: true, files: 2, detail: `2 files kept, 3 left out by models["m"].files.exclude`},
		{name: "signed whole, excluded", exclude: true, sign: true, files: 2, detail: "3 signed files left out"},
		{name: "signed, not excluded", sign: true, files: 5, detail: "verified"},
		{name: "unsigned file added, excluded", exclude: true, sign: true, files: 2,
			after: func(t *testing.T, src string) {
				must(t, os.WriteFile(filepath.Join(src, "trainer_1_log.txt"), nil, 0o644))
			}},
		{name: "unsigned file added, kept", sign: true,
			after:  func(t *testing.T, src string) { must(t, os.WriteFile(filepath.Join(src, "notes.txt"), nil, 0o644)) },
			detail: "1 extra"},
		{name: "kept file changed", exclude: true, sign: true,
			after: func(t *testing.T, src string) {
				must(t, os.WriteFile(filepath.Join(src, "config.json"), []byte(`{"model": "vits"}`), 0o644))
			},
			detail: "1 changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := localModel(t, leftovers(t))
			k, err := oms.GenerateKey("p256")
			must(t, err)
			pub, err := oms.MarshalPublicKey(&k.PublicKey)
			must(t, err)
			pubPath := filepath.Join(t.TempDir(), "team.pub")
			must(t, os.WriteFile(pubPath, pub, 0o644))
			extra := fmt.Sprintf("signers:\n  - name: team\n    public_key: %s\nmodels:\n  m:\n    signature: optional\n", pubPath)
			if tt.sign {
				extra = strings.Replace(extra, "optional", "required", 1)
				_, err := oms.Sign(context.Background(), src, oms.KeySigner{Key: k}, oms.ModelOptions{})
				must(t, err)
			}
			if tt.exclude {
				extra += excludeLeftovers
			}
			if tt.after != nil {
				tt.after(t, src)
			}
			e := newEnv(t, extra)
			r, err := e.pull(t, Options{Name: "m"}, src)
			if tt.files == 0 {
				if err == nil || !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), tt.detail) {
					t.Fatalf("want a refusal with %q: %v", tt.detail, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v %+v", err, r)
			}
			all := ""
			for _, g := range r.Gates {
				all += g.Name + ": " + g.Detail + "\n"
			}
			if r.Files != tt.files || !strings.Contains(all, tt.detail) || r.Gates[len(r.Gates)-1].Name != "files" {
				t.Fatalf("%d files, gates:\n%s", r.Files, all)
			}
			stored, err := stagedFiles(r.Dir)
			must(t, err)
			lf, err := store.LoadLock(filepath.Join(e.dir, "ttsguard.lock"))
			must(t, err)
			locked := slices.Sorted(func(yield func(string) bool) {
				for f := range lf.Entries["m"].Files {
					if !yield(f) {
						return
					}
				}
			})
			if len(stored) != tt.files || !slices.Equal(stored, locked) || slices.Contains(stored, "checkpoint_1.pth") == tt.exclude {
				t.Fatalf("stored %v, locked %v", stored, locked)
			}
			checkStoredOK(t, e, "m")
		})
	}
}

// TestExcludedRootIsTheKeptFiles: the root pinned for an excluding pull is
// the root of the files kept, as a pull of a folder holding only them has.
func TestExcludedRootIsTheKeptFiles(t *testing.T) {
	e := newEnv(t, "models:\n  m:\n"+excludeLeftovers)
	r, err := e.pull(t, Options{Name: "m"}, localModel(t, leftovers(t)))
	must(t, err)
	plain, err := e.pull(t, Options{Name: "plain"}, localModel(t, nil))
	must(t, err)
	if r.Root != plain.Root {
		t.Fatalf("root %s, the kept files hash to %s", r.Root, plain.Root)
	}
}

func TestLeftOutOnly(t *testing.T) {
	mp := policy.Model{Files: policy.ModelFiles{Exclude: []string{"checkpoint_*.pth", "logs"}}}
	signer := &oms.Signer{}
	verr := fmt.Errorf("%w: does not match", oms.ErrVerification)
	tests := []struct {
		name string
		r    *oms.Result
		err  error
		want bool
	}{
		{"excluded files missing", &oms.Result{Signer: signer, Missing: []string{"checkpoint_1.pth", "logs/a.txt"}}, verr, true},
		{"a kept file missing", &oms.Result{Signer: signer, Missing: []string{"checkpoint_1.pth", "speakers.pth"}}, verr, false},
		{"and an extra file", &oms.Result{Signer: signer, Missing: []string{"checkpoint_1.pth"}, Extra: []string{"x"}}, verr, false},
		{"and a changed file", &oms.Result{Signer: signer, Missing: []string{"checkpoint_1.pth"}, Changed: []string{"x"}}, verr, false},
		{"nothing missing", &oms.Result{Signer: signer}, verr, false},
		{"no signer", &oms.Result{Missing: []string{"checkpoint_1.pth"}}, verr, false},
		{"not a verification failure", &oms.Result{Signer: signer, Missing: []string{"checkpoint_1.pth"}}, errors.New("i/o"), false},
		{"no result", nil, verr, false},
		{"the signature is never left out", &oms.Result{Signer: signer, Missing: []string{"model.sig"}}, verr, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mp
			if tt.name == "the signature is never left out" {
				m.Files.Exclude = []string{"*.sig"}
			}
			if got := leftOutOnly(tt.r, tt.err, m); got != tt.want {
				t.Fatalf("leftOutOnly = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCheckFolderAppliesExclude: check of a trainer's folder against the
// model's pin hashes and scans what pull kept, so the folder pulled with
// files.exclude checks clean although it still holds the files left out
// (here a checkpoint that runs a command); without the exclusion the same
// folder fails the pin and the scan.
func TestCheckFolderAppliesExclude(t *testing.T) {
	files := leftovers(t)
	files["checkpoint_9.pth"] = []byte("cos\nsystem\n(S'id'\ntR.")
	src := localModel(t, files)
	e := newEnv(t, "models:\n  m:\n"+excludeLeftovers)
	r, err := e.pull(t, Options{Name: "m"}, src)
	must(t, err)
	c, err := Check(context.Background(), e.pol, src, "m")
	if err != nil || !c.OK || c.Root != r.Root {
		t.Fatalf("check of the pulled folder: %v, root %s (pinned %s) %+v", err, c.Root, r.Root, c)
	}
	e.pol.Models["m"] = policy.Model{}
	c, err = Check(context.Background(), e.pol, src, "m")
	if err == nil || c.OK {
		t.Fatalf("check without files.exclude passed: %+v", c)
	}
	var pin, scanned bool
	for _, g := range c.Gates {
		pin = pin || (g.Name == "pin" && !g.OK)
		scanned = scanned || (g.Name == "scan" && !g.OK && strings.Contains(g.Detail, "checkpoint_9.pth"))
	}
	if !pin || !scanned {
		t.Fatalf("want the pin and scan gates to fail: %+v", c.Gates)
	}
}
