package pull

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// CheckResult is the verdict of check.
type CheckResult struct {
	Target    string  `json:"target"`
	Name      string  `json:"name"`
	Dir       string  `json:"path"`
	Stored    bool    `json:"stored"`
	Root      string  `json:"root_digest"`
	Gates     []Gate  `json:"gates"`
	OK        bool    `json:"ok"`
	ElapsedMS float64 `json:"elapsed_ms"`
}

// Check runs every gate of the policy on a folder, or on a stored model by
// name (re-hashing it against its stored manifest first). name overrides the
// model name used for a folder's pins and signers ("" = the folder's name).
// A target that names a stored model is that model unless it is written as a
// path ("./x", "../x", "/x"); any other existing folder is a folder.
func Check(ctx context.Context, pol *policy.Policy, target, name string) (*CheckResult, error) {
	return check(ctx, pol, target, name, false)
}

// CheckStored is Check of the stored model name, whatever the working
// folder holds.
func CheckStored(ctx context.Context, pol *policy.Policy, name string) (*CheckResult, error) {
	return check(ctx, pol, name, "", true)
}

func check(ctx context.Context, pol *policy.Policy, target, name string, storedOnly bool) (*CheckResult, error) {
	t0 := time.Now()
	r := &CheckResult{Target: target}
	var firstErr error
	add := func(g Gate, err error) {
		r.Gates = append(r.Gates, g)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	root, err := pol.StoreDir()
	if err != nil {
		return nil, err
	}
	var entry store.LockEntry
	var hashed []manifest.Hashed // what the first hashing saw: the signature gate reuses it
	if !storedOnly && isFolderTarget(target, root) {
		r.Dir = target
		r.Name = name
		if r.Name == "" {
			r.Name = filepath.Base(filepath.Clean(target))
		}
		mo := manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256,
			IgnorePaths: append(append([]string(nil), manifest.DefaultIgnorePaths...), "model.sig")}
		files, err := manifest.Walk(target, manifest.WalkOptions{IgnorePaths: mo.IgnorePaths})
		if err != nil {
			return nil, err
		}
		m, err := manifest.Hash(ctx, files, mo)
		if err != nil {
			return nil, err
		}
		entry, hashed = lockEntry(&plan{name: r.Name}, nil, m), manifest.Pair(files, m.Items)
	} else {
		st, err := store.Open(root)
		if err != nil {
			return nil, err
		}
		v, err := st.Get(target)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a folder nor a stored model: %w", target, err)
		}
		r.Stored, r.Name, r.Dir = true, v.Name, v.Dir
		diff, items, err := st.VerifyHashed(ctx, v)
		hashed = items
		g := Gate{Name: "integrity"}
		switch {
		case err != nil:
			g.Detail = err.Error()
			err = fmt.Errorf("%w: integrity: %v", ErrGate, err)
		case !diff.Empty():
			g.Detail = fmt.Sprintf("the stored files differ from the stored manifest: missing %v, extra %v, changed %v", diff.Missing, diff.Extra, diff.Changed)
			err = fmt.Errorf("%w: integrity: %s", ErrGate, g.Detail)
		default:
			g.OK, g.Detail = true, "every file matches the manifest stored at commit"
		}
		add(g, err)
		meta, err := st.Meta(v)
		if err != nil {
			return nil, err
		}
		entry = meta.LockEntry()
	}
	r.Root = entry.Root
	lockPath, err := pol.LockPath()
	if err != nil {
		return nil, err
	}
	lf, err := store.LoadLock(lockPath)
	if err != nil {
		return nil, err
	}
	add(checkPin(pol, lf, r.Name, entry))
	g, _, err := signatureGate(ctx, pol, r.Name, r.Dir, filepath.Join(r.Dir, "model.sig"), hashed)
	add(g, err)
	g, _, err = scanGate(ctx, pol, r.Dir)
	add(g, err)
	r.OK = firstErr == nil
	r.ElapsedMS = float64(time.Since(t0).Microseconds()) / 1000
	return r, firstErr
}

// checkPin compares with the policy pin and the lock file, without changing either.
func checkPin(pol *policy.Policy, lf *store.LockFile, name string, got store.LockEntry) (Gate, error) {
	g := Gate{Name: "pin"}
	if d := pol.ModelPolicy(name).Digest; d != "" && d != got.Root {
		g.Detail = fmt.Sprintf("the policy pins %s, the model hashes to %s", d, got.Root)
		return g, fmt.Errorf("%w: pin: %s", ErrGate, g.Detail)
	}
	// Compare the files and root only: where the bytes came from is history.
	got.Archives, got.Source = nil, nil
	pinned, diff, err := lf.Check(name, got)
	if err != nil {
		if errors.Is(err, store.ErrPinMismatch) {
			g.Detail = "differs from the lock file: " + diff.String()
			return g, fmt.Errorf("%w: pin: %s", ErrGate, g.Detail)
		}
		return g, err
	}
	if !pinned {
		if pol.ModelPolicy(name).Digest != "" {
			g.OK, g.Detail = true, "matches the policy pin"
			return g, nil
		}
		g.OK, g.Detail = true, fmt.Sprintf("not pinned (no entry %q in %s)", name, lf.Path)
		return g, nil
	}
	g.OK, g.Detail = true, "matches the lock file"
	return g, nil
}

// Summary is a one-line verdict.
func (r *CheckResult) Summary() string {
	var failed []string
	for _, g := range r.Gates {
		if !g.OK {
			failed = append(failed, g.Name)
		}
	}
	if len(failed) == 0 {
		return "OK"
	}
	return "FAILED (" + strings.Join(failed, ", ") + ")"
}

// isFolderTarget decides what Check checks: a folder, or a stored model. A
// target that names a stored model is that model even when a folder of that
// name is in the working folder: a deployment that checks NAME before
// serving the stored NAME must never check something else. Written as a path
// ("./NAME", "../x", "/x"), it is the folder. Only a store that certainly
// lacks the name (or cannot hold it) lets a folder win; any other doubt
// goes to the stored model, whose check then reports it. Nothing in the
// store is opened, created or repaired to decide.
func isFolderTarget(target, storeRoot string) bool {
	st, err := os.Stat(target)
	if err != nil || !st.IsDir() {
		return false
	}
	if target == "." || target == ".." || strings.HasPrefix(target, "./") || strings.HasPrefix(target, "../") || filepath.IsAbs(target) {
		return true
	}
	err = store.Stored(storeRoot, target)
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrBadName)
}
