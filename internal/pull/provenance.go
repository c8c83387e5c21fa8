package pull

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ttsguard/ttsguard/internal/lineage"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/policy"
)

// provenanceGate checks the training provenance of model (its
// provenance.sig, written by ttsguard train) by the policy's
// models.NAME.provenance rules: when the rules need one (required, or
// datasets or base models restricted) it must be there; when it is there it
// must verify by one of the rules' signers (else the model's) with its
// subjects exactly the model's files; and every dataset it names must be an
// approved root, its base model an approved root or name. known are the
// model's files as the caller hashed them (nil: hash them). The record is
// returned once the bundle verified.
func provenanceGate(ctx context.Context, pol *policy.Policy, name, model string, known []manifest.Hashed) (Gate, *lineage.Record, error) {
	g := Gate{Name: "provenance"}
	mp := pol.ModelPolicy(name).Provenance
	fail := func(format string, args ...any) (Gate, *lineage.Record, error) {
		g.OK, g.Detail = false, fmt.Sprintf(format, args...)
		return g, nil, fmt.Errorf("%w: %s: provenance: %s", ErrGate, name, g.Detail)
	}
	if _, err := os.Lstat(filepath.Join(model, lineage.FileName)); errors.Is(err, os.ErrNotExist) {
		if mp.Needed() {
			return fail("the policy requires a training provenance (models[%q].provenance) and there is none (%s)", name, lineage.FileName)
		}
		g.OK, g.Detail = true, "no training provenance (none required for this model)"
		return g, nil, nil
	}
	signers := pol.SignersFor(name)
	if len(mp.Signers) > 0 {
		signers = signers[:0]
		for _, s := range pol.Signers {
			for _, n := range mp.Signers {
				if s.Name == n {
					signers = append(signers, s)
				}
			}
		}
	}
	if len(signers) == 0 {
		if mp.Needed() {
			return fail("a verified training provenance is required but the policy names no signer")
		}
		g.OK, g.Detail = true, "training provenance present, but the policy names no signer to check it against (not verified)"
		return g, nil, nil
	}
	o := lineage.VerifyOptions{}
	if tosWrittenByUs(model) {
		o.IgnorePaths = []string{TOSFile}
	}
	if known != nil {
		o.Known = map[string]string{}
		for _, h := range known {
			o.Known[h.File.Name] = hex.EncodeToString(h.Digest)
		}
	}
	var fails []string
	for _, s := range signers {
		v, err := VerifierFor(s)
		if err != nil {
			fails = append(fails, err.Error())
			continue
		}
		res, err := lineage.Verify(ctx, model, v, o)
		if res == nil || res.Signer == nil {
			fails = append(fails, fmt.Sprintf("signer %q: %v", s.Name, err))
			continue
		}
		// Signed by s: what it says now decides.
		if err != nil && !excludedOnly(res, pol.ModelPolicy(name)) {
			return fail("signed by %q, but: %v", s.Name, err)
		}
		return approve(g, mp, name, s.Name, res)
	}
	return fail("no trusted signer verifies %s: %s", lineage.FileName, strings.Join(fails, "; "))
}

// excludedOnly reports whether a provenance whose statement verified failed
// only because subjects are missing that the model's files.exclude leaves
// out of the stored model.
func excludedOnly(res *lineage.Verified, mp policy.Model) bool {
	if res.Record == nil || len(res.Extra)+len(res.Changed) > 0 || len(res.Missing) == 0 {
		return false
	}
	for _, f := range res.Missing {
		if !mp.Excluded(f) {
			return false
		}
	}
	return true
}

// approve checks a verified record's datasets and base model against the
// rules.
func approve(g Gate, mp policy.ModelProvenance, name, signer string, res *lineage.Verified) (Gate, *lineage.Record, error) {
	r := res.Record
	var bad, what []string
	for _, d := range r.Datasets {
		what = append(what, fmt.Sprintf("dataset %s %s", d.Name, d.Root))
		if !mp.DatasetApproved(d.Root) {
			bad = append(bad, fmt.Sprintf("dataset %q (root %s) is not among models[%q].provenance.datasets", d.Name, d.Root, name))
		}
	}
	if b := r.Base; b != nil {
		what = append(what, fmt.Sprintf("base %s %s", b.Name, b.Root))
		if !mp.BaseApproved(b.Name, b.Root) {
			bad = append(bad, fmt.Sprintf("base model %q (root %s) is not among models[%q].provenance.base_models", b.Name, b.Root, name))
		}
	} else {
		what = append(what, "no base model")
	}
	if len(bad) > 0 {
		g.Detail = fmt.Sprintf("signed by %q, but %s", signer, strings.Join(bad, "; "))
		return g, r, fmt.Errorf("%w: %s: provenance: %s", ErrGate, name, g.Detail)
	}
	g.OK = true
	g.Detail = fmt.Sprintf("verified: signer %q; trained on %s", signer, strings.Join(what, ", "))
	if len(res.Missing) > 0 {
		g.Detail += fmt.Sprintf("; %d of its files left out by models[%q].files.exclude", len(res.Missing), name)
	}
	return g, r, nil
}
