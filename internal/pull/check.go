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
	"github.com/ttsguard/ttsguard/internal/lineage"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// CheckResult is the verdict of check.
type CheckResult struct {
	Target string `json:"target"`
	Name   string `json:"name"`
	Dir    string `json:"path"`
	Stored bool   `json:"stored"`
	Root   string `json:"root_digest"`
	Files  int    `json:"files"` // how many files the root covers
	// Lineage is what the model's verified training provenance records
	// (the provenance gate), nil without one.
	Lineage *lineage.Record `json:"lineage,omitempty"`
	Gates   []Gate          `json:"gates"`
	// OCI is the registry manifest the lock file pins for the model (a
	// model pulled from oci://), reported once its pin gate passed.
	OCI *store.LockOCI `json:"oci,omitempty"`
	// BadBlobs: for a stored model whose files changed, each blob that no
	// longer matches, every stored model and version that shares it, and
	// whether it was repaired.
	BadBlobs []BadBlob `json:"bad_blobs,omitempty"`
	// Verification: for a stored model, how its files were verified.
	Verification *Verification `json:"verification,omitempty"`
	// Requires: for a stored model, the checks of its requirements (deps.go).
	Requires  []*CheckResult `json:"requires,omitempty"`
	OK        bool           `json:"ok"`
	ElapsedMS float64        `json:"elapsed_ms"`
}

// Verification says how a stored model's files were verified: Path "fast"
// (the store's stat record proved them unchanged since they were hashed,
// nothing was read) or "full" (every file hashed), and Reason: what matched,
// or why the fast path was not taken.
type Verification struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	// LastHashed: when the files' content was last hashed and matched (now
	// for a full hash); absent when it did not match.
	LastHashed *time.Time `json:"last_hashed,omitempty"`
	// Recorded: after a full hash, the stat record was written again, so
	// the next check can take the fast path.
	Recorded  bool    `json:"recorded,omitempty"`
	ElapsedMS float64 `json:"elapsed_ms"`
}

// String is "fast: <reason>" or "full: <reason>".
func (v *Verification) String() string { return v.Path + ": " + v.Reason }

// Verify says how a check verifies a stored model's files.
type Verify struct {
	Fast bool   // take the fast path where the store's stat record holds
	Why  string // when !Fast: why every file is hashed (shown in the result)
}

// PolicyVerify is how the policy's run.verify has check and run verify a
// stored model: fast unless it says full.
func PolicyVerify(pol *policy.Policy) Verify {
	if pol.Run.FastVerify() {
		return Verify{Fast: true}
	}
	return Verify{Why: "the policy's run.verify is full"}
}

// Check runs every gate of the policy on a folder, or on a stored model by
// name (verified against its stored manifest first, as the policy's
// run.verify says). name overrides the model name used for a folder's pins
// and signers ("" = the folder's name). A target that names a stored model
// is that model unless it is written as a path ("./x", "../x", "/x"); any
// other existing folder is a folder.
func Check(ctx context.Context, pol *policy.Policy, target, name string) (*CheckResult, error) {
	return check(ctx, pol, target, name, checkOpts{requires: true, verify: PolicyVerify(pol)})
}

// CheckDataset checks a training dataset folder by the policy's rules for
// name, as Check checks a model folder but without the scan (a dataset
// holds audio and transcripts, not checkpoints): the pin (the policy's
// digest, the lock file's entry) and the signature (model.sig, when there
// is one or the policy requires one). Root is its OMS root either way.
func CheckDataset(ctx context.Context, pol *policy.Policy, dir, name string) (*CheckResult, error) {
	return check(ctx, pol, dir, name, checkOpts{folderOnly: true, noScan: true})
}

// CheckStored is Check of the stored model name, whatever the working
// folder holds.
func CheckStored(ctx context.Context, pol *policy.Policy, name string) (*CheckResult, error) {
	return CheckStoredVerify(ctx, pol, name, PolicyVerify(pol))
}

// CheckStoredVerify is CheckStored that verifies the model's files (and its
// requirements') as vf says, whatever the policy's run.verify.
func CheckStoredVerify(ctx context.Context, pol *policy.Policy, name string, vf Verify) (*CheckResult, error) {
	return check(ctx, pol, name, "", checkOpts{storedOnly: true, requires: true, verify: vf})
}

// checkOpts: storedOnly, the target is a stored model whatever the working
// folder holds; folderOnly, a folder whatever the store holds; requires,
// check its requirements too; noScan, leave the scan out (a dataset);
// verify, how.
type checkOpts struct {
	storedOnly, folderOnly, requires, noScan bool
	verify                                   Verify
}

func check(ctx context.Context, pol *policy.Policy, target, name string, o checkOpts) (*CheckResult, error) {
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
	var requested []string                          // a stored model's sources, for its requirements
	var hashed []manifest.Hashed                    // what the first hashing saw: the signature gate reuses it
	var scanned []string                            // the files to scan; nil: the whole model folder
	var plain func(string) (*os.File, int64, error) // a stored model's content (decrypted when encrypted at rest)
	if o.folderOnly || (!o.storedOnly && isFolderTarget(target, root)) {
		r.Dir = target
		r.Name = name
		if r.Name == "" {
			r.Name = filepath.Base(filepath.Clean(target))
		}
		mo := manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256,
			IgnorePaths: notModel()}
		files, err := manifest.Walk(target, manifest.WalkOptions{IgnorePaths: mo.IgnorePaths})
		if err != nil {
			return nil, err
		}
		// As pull stores it: without what models.NAME.files.exclude leaves
		// out, so the root matches the pin and the scan sees what is kept.
		files, scanned = keptFiles(files, pol.ModelPolicy(r.Name))
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: models[%q].files.exclude leaves none of its files", target, r.Name)
		}
		m, err := manifest.Hash(ctx, files, mo)
		if err != nil {
			return nil, err
		}
		entry, hashed = lockEntry(&plan{name: r.Name}, nil, m), manifest.Pair(files, m.Items)
		r.Files = len(m.Items)
	} else {
		open := store.Open
		if pol.Access.Set {
			open = store.OpenRead // a root store checked by a role holder
		}
		opts, err := store.Options(pol)
		if err != nil {
			return nil, err
		}
		st, err := open(root, opts...)
		if err != nil {
			return nil, err
		}
		v, err := st.Get(target)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a folder nor a stored model: %w", target, err)
		}
		r.Stored, r.Name, r.Dir, r.Files = true, v.Name, v.Dir, v.Files
		plain = st.OpenPlain
		vr, err := st.VerifyVersion(ctx, v, o.verify.Fast)
		var diff manifest.Diff
		if vr != nil {
			diff, hashed = vr.Diff, vr.Hashed
			r.Verification = verification(vr, o.verify)
		}
		g := Gate{Name: "integrity"}
		switch {
		case err != nil:
			g.Detail = err.Error()
			err = fmt.Errorf("%w: integrity: %v", ErrGate, err)
		case !diff.Empty():
			g.Detail = fmt.Sprintf("the stored files differ from the stored manifest: missing %v, extra %v, changed %v", diff.Missing, diff.Extra, diff.Changed)
			if len(diff.Changed) > 0 {
				var more string
				r.BadBlobs, more = badBlobs(ctx, st, v, diff.Changed)
				g.Detail += more
			}
			err = fmt.Errorf("%w: integrity: %s", ErrGate, g.Detail)
		default:
			g.OK, g.Detail = true, "every file matches the manifest stored at commit (hashed in full)"
			if r.Verification.Path == "fast" {
				g.Detail = "every file matches the manifest stored at commit (fast path: the store's stat record proves them unchanged)"
			}
		}
		add(g, err)
		meta, err := st.Meta(v)
		if err != nil {
			return nil, err
		}
		entry = meta.LockEntry()
		requested = strings.Fields(meta.Provenance.Requested)
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
	if pin := lf.Entries[r.Name].OCI; pin != nil && r.Gates[len(r.Gates)-1].OK {
		r.OCI = pin
	}
	g, _, err := signatureGate(ctx, pol, r.Name, r.Dir, filepath.Join(r.Dir, "model.sig"), hashed)
	add(g, err)
	if !o.noScan { // a model, not a dataset
		pg, rec, err := provenanceGate(ctx, pol, r.Name, r.Dir, hashed)
		r.Lineage = rec
		add(pg, err)
		g, _, err = scanGateOpen(ctx, pol, r.Dir, plain, scanned...)
		add(g, err)
	}
	if o.requires && r.Stored {
		rg, results, err := checkRequires(ctx, pol, r.Name, requested, o.verify) // deps.go
		if rg != nil {
			r.Requires = results
			add(*rg, err)
		}
	}
	r.OK = firstErr == nil
	r.ElapsedMS = float64(time.Since(t0).Microseconds()) / 1000
	return r, firstErr
}

// verification is the evidence of how a stored model was verified.
func verification(vr *store.Verification, vf Verify) *Verification {
	out := &Verification{Path: "full", Reason: vr.Reason, Recorded: vr.Recorded, ElapsedMS: float64(vr.Elapsed.Microseconds()) / 1000}
	if vr.Fast {
		out.Path = "fast"
	} else if !vf.Fast && vf.Why != "" {
		out.Reason = vf.Why
	}
	if !vr.LastHashed.IsZero() {
		t := vr.LastHashed
		out.LastHashed = &t
	}
	return out
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
	g.Detail += ociNote(g, lf.Entries[name].OCI) + revisionNote(g, lf.Entries[name].Revision)
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

// BadBlob is a stored blob that a check found changed.
type BadBlob struct {
	SHA256   string           `json:"sha256"`
	Files    []string         `json:"files"`     // the checked model's files with this content
	SharedBy []store.BlobUser `json:"shared_by"` // every stored file that names the blob, in every model and version
	Repaired bool             `json:"repaired"`  // relinked to a clean copy found in the store
	From     string           `json:"from,omitempty"`
	Problem  string           `json:"problem,omitempty"` // why it was not repaired
}

// badBlobs names, for the changed files of the stored version v, every
// stored model and version that shares their blobs (a blob is shared by all
// the versions that hold its content, so all of them are damaged), and
// repairs each blob from a clean copy when the store holds one
// (store.RepairBlob). It returns the evidence and a text for the gate.
func badBlobs(ctx context.Context, st *store.Store, v *store.Version, changed []string) ([]BadBlob, string) {
	meta, err := st.Meta(v)
	if err != nil {
		return nil, fmt.Sprintf("; the blobs that share them cannot be named: %v", err)
	}
	sums := map[string]string{}
	for _, f := range meta.Files {
		sums[f.Path] = f.SHA256
	}
	for _, f := range meta.SideFiles() {
		sums[f.Path] = f.SHA256
	}
	var out []BadBlob
	idx := map[string]int{}
	for _, p := range changed {
		sum, ok := sums[p]
		if !ok {
			continue
		}
		if i, ok := idx[sum]; ok {
			out[i].Files = append(out[i].Files, p)
			continue
		}
		idx[sum] = len(out)
		out = append(out, BadBlob{SHA256: sum, Files: []string{p}})
	}
	var b strings.Builder
	for i := range out {
		bb := &out[i]
		rep, err := st.RepairBlob(ctx, bb.SHA256)
		if rep != nil {
			bb.SharedBy = rep.Users
		} else if users, uerr := st.BlobUsers(bb.SHA256); uerr == nil || len(users) > 0 {
			bb.SharedBy = users
		}
		names := make([]string, len(bb.SharedBy))
		for j, u := range bb.SharedBy {
			names[j] = u.String()
		}
		fmt.Fprintf(&b, "; the content of %s (blob sha256:%s) is shared by %d stored files: %s",
			strings.Join(bb.Files, ", "), bb.SHA256, len(names), strings.Join(names, ", "))
		switch {
		case err == nil:
			bb.Repaired, bb.From = true, rep.From
			fmt.Fprintf(&b, "; repaired from the clean copy %s for all of them: check again", rep.From)
		case errors.Is(err, store.ErrNoCleanCopy):
			bb.Problem = err.Error()
			b.WriteString("; the store holds no clean copy: pull any of these models again from its source (the pull replaces the blob and repairs every model that shares it)")
		default:
			bb.Problem = err.Error()
			fmt.Fprintf(&b, "; repair failed: %v", err)
		}
	}
	return out, b.String()
}

// keptFiles drops from a folder's files those the model's files.exclude
// leaves out (as filesGate does at pull) and returns the kept files and,
// when any was left out, their paths for the scan gate (else nil: the scan
// takes the whole folder).
func keptFiles(files []manifest.File, mp policy.Model) ([]manifest.File, []string) {
	kept := files[:0:0]
	for _, f := range files {
		if !excludedBy(mp, f.Name) {
			kept = append(kept, f)
		}
	}
	if len(kept) == len(files) {
		return files, nil
	}
	paths := make([]string, 0, len(kept))
	for _, f := range kept {
		paths = append(paths, f.Path)
	}
	return kept, paths
}
