// Package pull brings a model into the store through every gate of the trust
// policy, and re-runs those gates on a folder or a stored model (check).
//
// Pipeline: source (coqui id, https URL(s), local folder or archive) ->
// download into a private staging folder (internal/fetch: policy-checked
// URLs, TLS, limits, resume) -> safe extraction -> manifest (OMS files mode)
// -> gates: pin (policy and lock file), OMS signature (when present or
// required), scan of every file (checkpoints and coqui configs) -> atomic
// commit into the read-only store (internal/store) -> lock file.
// Nothing becomes visible in the store unless every gate passed.
package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/coqui"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/walk"
)

// ErrGate is wrapped by every "a gate refused the model" error.
var ErrGate = errors.New("gate failed")

// Gate is the evidence of one gate.
type Gate struct {
	Name     string   `json:"name"` // files, pin, signature, scan
	OK       bool     `json:"ok"`
	Detail   string   `json:"detail"`
	Warnings []string `json:"warnings,omitempty"` // said in Detail too
	// Findings: the scan gate's files that are not clean, each with all of
	// its findings above info (Detail says the first of each).
	Findings []FileFindings `json:"findings,omitempty"`
}

// FileFindings is a file the scan gate refused and why.
type FileFindings struct {
	File        string         `json:"file"` // relative to the model folder
	Verdict     string         `json:"verdict"`
	Unscannable string         `json:"unscannable,omitempty"`
	Findings    []scan.Finding `json:"findings,omitempty"` // severity above info, in scan order
}

// TOSFile is coqui's marker that the terms of service were accepted. ttsguard
// writes it (coqui.TOSAgreedContent) after the signer signed the model, so
// signatures are checked without it, but only when it is exactly what
// ttsguard writes (see tosWrittenByUs).
const TOSFile = coqui.TOSAgreedFile

// tosWrittenByUs reports whether model's tos_agreed.txt is the file ttsguard
// writes: a regular file, not a folder or a link, holding exactly
// coqui.TOSAgreedContent(). Anything else under that name (a folder of
// checkpoints, a link, other bytes) is part of the model and must be signed.
func tosWrittenByUs(model string) bool {
	want := coqui.TOSAgreedContent()
	f, err := os.OpenFile(filepath.Join(model, TOSFile), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(want)) {
		return false
	}
	got, err := io.ReadAll(io.LimitReader(f, int64(len(want))+1))
	return err == nil && string(got) == want
}

// readSignerFile reads a key or certificate file the policy names, once
// policy.CheckTrusted accepted it as it is open: whoever can change it
// decides which signatures verify.
func readSignerFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := policy.CheckTrusted(p, fi); err != nil {
		return nil, fmt.Errorf("%q: %w", p, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, policy.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > policy.MaxFileSize {
		return nil, fmt.Errorf("%q: larger than %d bytes", p, policy.MaxFileSize)
	}
	return data, nil
}

// VerifierFor builds the OMS verifier of a policy signer.
func VerifierFor(s policy.Signer) (oms.SignatureVerifier, error) {
	switch s.Kind() {
	case "key":
		data, err := readSignerFile(s.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("signer %q: %w", s.Name, err)
		}
		k, err := oms.ParsePublicKey(s.PublicKey, data)
		if err != nil {
			return nil, fmt.Errorf("signer %q: %w", s.Name, err)
		}
		return oms.KeyVerifier{Key: k}, nil
	case "certificate":
		v := oms.CertificateVerifier{AnyExtKeyUsageUnsafe: s.AllowAnyEKU}
		for _, p := range s.CertificateChain {
			data, err := readSignerFile(p)
			if err != nil {
				return nil, fmt.Errorf("signer %q: %w", s.Name, err)
			}
			cs, err := oms.ParseCertificatesPEM(p, data)
			if err != nil {
				return nil, fmt.Errorf("signer %q: %w", s.Name, err)
			}
			v.Anchors = append(v.Anchors, cs...)
		}
		return v, nil
	case "keyless":
		if s.TrustRoot != "" { // "": the embedded root
			if err := policy.CheckTrusted(s.TrustRoot, nil); err != nil {
				return nil, fmt.Errorf("signer %q: trust root %q: %w", s.Name, s.TrustRoot, err)
			}
		}
		v, err := oms.NewSigstoreVerifier(s.TrustRoot, s.Identity, s.Issuer)
		if err != nil {
			return nil, fmt.Errorf("signer %q: %w", s.Name, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("signer %q: no key, certificate chain or identity", s.Name)
}

// signatureGate verifies the OMS signature at sig over model with the
// policy's signers for name. A missing signature passes only when the policy
// does not require one; a present one must verify.
// known are the SHA-256 digests the caller computed from these files (a
// pull's staging, the integrity check): files still the same are not hashed
// again.
func signatureGate(ctx context.Context, pol *policy.Policy, name, model, sig string, known []manifest.Hashed) (Gate, string, error) {
	g := Gate{Name: "signature"}
	required := pol.ModelPolicy(name).RequiresSignature()
	if _, err := os.Stat(sig); err != nil {
		if required {
			g.Detail = "the policy requires a signature and there is none (" + filepath.Base(sig) + ")"
			return g, "", fmt.Errorf("%w: %s: %s", ErrGate, name, g.Detail)
		}
		g.OK, g.Detail = true, "not signed (signature optional for this model)"
		return g, "", nil
	}
	signers := pol.SignersFor(name)
	if len(signers) == 0 {
		if required {
			g.Detail = "a signature is required but the policy names no signer"
			return g, "", fmt.Errorf("%w: %s: %s", ErrGate, name, g.Detail)
		}
		g.OK, g.Detail = true, "signed, but the policy names no signer to check it against (not verified)"
		return g, "", nil
	}
	var fails []string
	for _, s := range signers {
		v, err := VerifierFor(s)
		if err != nil {
			fails = append(fails, err.Error())
			continue
		}
		o := oms.VerifyOptions{ModelOptions: oms.ModelOptions{Signature: sig}, Known: known}
		if tosWrittenByUs(model) {
			o.IgnorePaths = []string{TOSFile}
		}
		r, err := oms.Verify(ctx, model, v, o)
		if err == nil || leftOutOnly(r, err, pol.ModelPolicy(name)) {
			g.OK = true
			g.Detail = fmt.Sprintf("verified: signer %q (%s), root %s", s.Name, s.Kind(), r.Root)
			if err != nil {
				g.Detail += fmt.Sprintf("; %d signed files left out by models[%q].files.exclude (%s)", len(r.Missing), name, listSome(r.Missing))
			}
			return g, s.Name, nil
		}
		fails = append(fails, fmt.Sprintf("signer %q: %v", s.Name, err))
	}
	g.Detail = "no trusted signer verifies it: " + strings.Join(fails, "; ")
	return g, "", fmt.Errorf("%w: %s: signature: %s", ErrGate, name, g.Detail)
}

// leftOutOnly reports whether a failed verification failed only because
// signed files are missing that the model's files.exclude leaves out: the
// bundle's signature and signer verified, every file kept is signed and
// unchanged, and nothing else is missing. A signature over a whole upstream
// folder then vouches for the files kept (docs/policy.md).
func leftOutOnly(r *oms.Result, err error, mp policy.Model) bool {
	if r == nil || !errors.Is(err, oms.ErrVerification) || r.Signer == nil ||
		len(r.Missing) == 0 || len(r.Extra) > 0 || len(r.Changed) > 0 {
		return false
	}
	for _, n := range r.Missing {
		if !excludedBy(mp, n) {
			return false
		}
	}
	return true
}

// ScanFolder is the scan gate of pull for a folder: every file with the
// policy's scan profile; a file that is not clean fails it (ErrGate).
func ScanFolder(ctx context.Context, pol *policy.Policy, dir string) (Gate, error) {
	g, _, err := scanGate(ctx, pol, dir)
	return g, err
}

// scanGate scans every file of model with the policy's scan profile.
//
// Given files, only those are scanned (paths inside model).
func scanGate(ctx context.Context, pol *policy.Policy, model string, files ...string) (Gate, string, error) {
	return scanGateOpen(ctx, pol, model, nil, files...)
}

// scanGateOpen is scanGate reading each file's content through open (nil:
// the file itself; store.OpenPlain for a model encrypted at rest).
func scanGateOpen(ctx context.Context, pol *policy.Policy, model string, open func(string) (*os.File, int64, error), files ...string) (Gate, string, error) {
	g := Gate{Name: "scan"}
	sp, err := scan.NewPolicy(pol.Scan.Profile, pol.Scan.AllowGlobals)
	if err != nil {
		return g, "", err
	}
	s := &walk.Scanner{Policy: sp, Limits: scan.DefaultLimits, Open: open}
	targets := files
	if len(targets) == 0 {
		targets = []string{model}
	}
	rep, err := s.Paths(ctx, targets)
	if err != nil {
		return g, "", err
	}
	var bad []string
	for _, f := range rep.Files {
		if f.Verdict == walk.Clean {
			continue
		}
		rel, _ := filepath.Rel(model, f.Path)
		ff := FileFindings{File: rel, Verdict: f.Verdict, Unscannable: f.Unscannable}
		for _, fd := range f.Findings {
			if fd.Severity > scan.Info {
				ff.Findings = append(ff.Findings, fd)
			}
		}
		why := f.Unscannable
		if len(ff.Findings) > 0 {
			why = ff.Findings[0].String()
			if n := len(ff.Findings) - 1; n > 0 {
				why += fmt.Sprintf(" (and %d more)", n)
			}
		}
		g.Findings = append(g.Findings, ff)
		bad = append(bad, fmt.Sprintf("%s: %s: %s", rel, f.Verdict, why))
	}
	summary := fmt.Sprintf("%d files scanned (profile %s), %d not clean", len(rep.Files), rep.Profile, len(bad))
	if len(bad) > 0 {
		g.Detail = summary + ": " + strings.Join(bad, "; ")
		return g, summary, fmt.Errorf("%w: scan: %s", ErrGate, g.Detail)
	}
	g.OK, g.Detail = true, summary
	return g, summary, nil
}
