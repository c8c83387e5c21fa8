package pull

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
)

// keptAlways are never left out by files.exclude: the signature (which
// vouches for the files kept), the provenance and the terms-of-service
// marker.
var keptAlways = map[string]bool{"model.sig": true, oms.ProvenanceFile: true, TOSFile: true}

// notModel are the paths that are never part of a model: the default git
// paths, the signature and the training provenance bundle.
func notModel() []string {
	return append(slices.Clone(manifest.DefaultIgnorePaths), "model.sig", oms.ProvenanceFile)
}

// stagedFiles lists the files of a staged model as the manifest will: every
// file but the default git paths, the signature and the provenance.
func stagedFiles(model string) ([]string, error) {
	files, err := manifest.Walk(model, manifest.WalkOptions{
		IgnorePaths: notModel()})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names, nil
}

// excludedBy reports whether the model's files.exclude leaves out the file
// name (keptAlways never is).
func excludedBy(mp policy.Model, name string) bool {
	return !keptAlways[name] && mp.Excluded(name)
}

// filesGate applies the policy's models.NAME.files.exclude to the staged
// model folder (before it is hashed: the manifest, pins, lock entry and
// store hold the files kept) and reports, as warnings, the files kept that
// coqui's loader never reads (see unreadFiles). It fails only when nothing
// would be left to store, or a file cannot be removed.
func filesGate(model, name string, mp policy.Model) (Gate, error) {
	g := Gate{Name: "files"}
	names, err := stagedFiles(model)
	if err != nil {
		return g, err
	}
	var kept, left []string
	for _, n := range names {
		if excludedBy(mp, n) {
			left = append(left, n)
		} else {
			kept = append(kept, n)
		}
	}
	if len(kept) == 0 && len(left) > 0 {
		g.Detail = fmt.Sprintf("models[%q].files.exclude leaves none of the %d files", name, len(names))
		return g, fmt.Errorf("%w: %s: files: %s", ErrGate, name, g.Detail)
	}
	for _, n := range left {
		if err := removeStaged(model, n); err != nil {
			return g, err
		}
	}
	family, unread := unreadFiles(model, kept)
	g.OK = true
	g.Detail = fmt.Sprintf("%d files kept", len(kept))
	if len(left) > 0 {
		g.Detail += fmt.Sprintf(", %d left out by models[%q].files.exclude (%s)", len(left), name, listSome(left))
	}
	if len(unread) > 0 {
		loader := "coqui's loader"
		if family != "" {
			loader = fmt.Sprintf("coqui's %s loader", family)
		}
		w := fmt.Sprintf("%d files that %s never reads: %s; leave them out of the stored model with models[%q].files.exclude (docs/policy.md)",
			len(unread), loader, listSome(unread), name)
		g.Warnings = append(g.Warnings, w)
		g.Detail += "; warning: " + w
	}
	return g, nil
}

// removeStaged removes the staged file name and then every folder above it
// that this left empty.
func removeStaged(model, name string) error {
	if err := os.Remove(filepath.Join(model, filepath.FromSlash(name))); err != nil {
		return err
	}
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		err := os.Remove(filepath.Join(model, filepath.FromSlash(d)))
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listSome names the first few of names.
func listSome(names []string) string {
	const most = 8
	if len(names) <= most {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:most], ", "), len(names)-most)
}
