// Package audit checks that what ttsguard relies on is still as it left it.
//
// Doctor audits permissions: the store (owners, modes, symbolic links, files
// no version's metadata lists, garbage and leftovers), the trust policy, the
// lock file, the key and certificate files the policy names, and private
// keys lying readable next to them. It judges by reading owners and mode
// bits, never by trying to open files, so that it gives the same answer run
// as root as run as the store's owner. See docs/doctor.md.
package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ttsguard/ttsguard/internal/policy"
)

// Errors Doctor returns next to its report.
var (
	// ErrPolicy: the policy could not be found, read or parsed (bad input).
	ErrPolicy = errors.New("unreadable policy")
	// ErrFindings: the report holds findings that remain (after fixing, with Options.Fix).
	ErrFindings = errors.New("doctor found problems")
	// ErrIncomplete: some paths could not be checked (I/O errors, listed in Report.Errors);
	// the report is never clean then.
	ErrIncomplete = errors.New("doctor could not check everything")
)

// Options say what Doctor checks and whether it repairs.
type Options struct {
	// PolicyFile is the policy to check (the --policy flag); "" finds it the
	// way policy.Find does. A world-writable policy, which policy.Load
	// refuses, is still read (to find the paths it names) and reported.
	PolicyFile string
	// Fix repairs what it can (see Finding.Fixable), then checks again.
	Fix bool
	// Serving is the user the TTS server runs as; nil = the policy's
	// run.user and run.group when it has them, else DefaultServingUser.
	Serving *Principal
}

// env is what one Doctor run checks.
type env struct {
	pol        *policy.Policy
	policyPath string // "" for the built-in default
	untrusted  bool   // the policy file is world-writable: --fix repairs only the policy and lock files
	lockPath   string
	storeDir   string
	serving    *Principal // nil when it could not be resolved
	servingErr error
	servingPol bool // the serving user was named by the policy
	// servingGID is the group `ttsguard run` gives the command (the
	// policy's run.group, else the store folder's group, else nogroup);
	// -1 when it could not be resolved.
	servingGID int
	euid       int
	notes      []string
	// groupFixes are the repairs of the serving-group findings of the last
	// audit pass, by path (a chgrp, which action does not do).
	groupFixes map[string]*groupFix
	// aclFixes are the ACL repairs of the last audit pass, by path.
	aclFixes map[string]*aclFix
}

// Doctor checks the store, the policy, the lock file and the key files, and
// with o.Fix repairs the modes (and, run as root, the store owners) it can,
// then checks again. It never deletes anything.
//
// It returns the report and nil when nothing remains; the report and an
// error wrapping ErrFindings when findings remain; the report and an error
// wrapping ErrIncomplete when a path could not be checked; and a nil report
// with an error wrapping ErrPolicy when the policy cannot be read.
func Doctor(ctx context.Context, o Options) (*Report, error) {
	e, err := setup(o)
	if err != nil {
		return nil, err
	}
	rep, err := e.audit(ctx)
	if err != nil {
		return nil, err
	}
	if o.Fix {
		gfixed, gerrs, gskipped := e.fixGroups(rep.Findings)
		fixed, fixErrs, skipped := e.fix(rep.Findings)
		afixed, aerrs, askipped := e.fixACLs(rep.Findings)
		fixed, fixErrs, skipped = append(append(gfixed, fixed...), afixed...), append(append(gerrs, fixErrs...), aerrs...), skipped+gskipped+askipped
		if len(fixed)+len(fixErrs) > 0 {
			if rep, err = e.audit(ctx); err != nil {
				return nil, err
			}
		}
		rep.Fixed, rep.FixErrors = fixed, fixErrs
		if skipped > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("--fix left %d fixable findings alone: the policy file was world-writable, so the paths it names may not be yours; review it, then run doctor --fix again", skipped))
		}
	}
	switch {
	case len(rep.Errors) > 0:
		return rep, fmt.Errorf("%w: %s could not be checked", ErrIncomplete, plural(len(rep.Errors), "path"))
	case len(rep.Findings) > 0:
		return rep, fmt.Errorf("%w: %s left", ErrFindings, plural(len(rep.Findings), "finding"))
	}
	return rep, nil
}

// setup loads the policy and resolves the paths and the serving user.
func setup(o Options) (*env, error) {
	e := &env{euid: os.Geteuid(), servingGID: -1}
	pol, err := policy.Find(o.PolicyFile)
	if err != nil {
		// policy.Load refuses a file that another user could have written
		// (world-writable, or in a folder others can write): read it
		// anyway, to report it.
		var pe *policy.Error
		worldWritable := false
		if errors.As(err, &pe) && pe.Line == 0 && pe.Key == "" {
			if fi, serr := os.Stat(pe.File); serr == nil && fi.Mode().IsRegular() {
				worldWritable = fi.Mode().Perm()&0o002 != 0
				pol, err = loadUntrusted(pe.File)
				e.untrusted = err == nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
		}
		if worldWritable {
			e.notes = append(e.notes, fmt.Sprintf("the policy file %s was writable by everyone when doctor read it: the paths checked were read from a file anyone could have changed", pol.Path))
		} else {
			e.notes = append(e.notes, fmt.Sprintf("the policy file %s is refused by every other command (%s): the paths checked were read from a file another user could have changed", pol.Path, pe.Msg))
		}
	}
	e.pol, e.policyPath = pol, pol.Path
	if e.lockPath, err = pol.LockPath(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	if e.storeDir, err = pol.StoreDir(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	u, g, fromPolicy := servingNames(pol)
	e.servingGID = servingGroup(g, e.storeDir)
	if o.Serving != nil {
		s := *o.Serving
		e.serving = &s
		if e.serving.Source == "" {
			e.serving.Source = "option"
		}
		if s.GID > 0 {
			e.servingGID = s.GID
		}
		e.serving.setGroup(e.servingGID)
		return e, nil
	}
	e.servingPol = fromPolicy
	e.serving, e.servingErr = LookupPrincipal(u, g)
	if e.serving != nil {
		e.serving.Source = "default"
		if fromPolicy {
			e.serving.Source = "policy run"
		}
		e.serving.setGroup(e.servingGID)
	}
	return e, nil
}

// loadUntrusted reads and parses a policy file the way policy.Load does,
// without refusing it for being world-writable, and resolves its relative
// paths against its folder. The result only tells doctor where to look.
func loadUntrusted(path string) (*policy.Policy, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, policy.MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", path, err)
	}
	if len(data) > policy.MaxFileSize {
		return nil, fmt.Errorf("policy %q: larger than %d bytes", path, policy.MaxFileSize)
	}
	p, err := policy.Parse(path, data)
	if err != nil {
		return nil, err
	}
	p.Path = abs
	base := filepath.Dir(abs)
	resolve := func(s *string) {
		if *s == "" {
			return
		}
		if *s == "~" || strings.HasPrefix(*s, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				*s = filepath.Join(home, (*s)[1:])
			}
		}
		if !filepath.IsAbs(*s) {
			*s = filepath.Join(base, *s)
		}
		*s = filepath.Clean(*s)
	}
	resolve(&p.Store)
	resolve(&p.CABundle)
	for i := range p.Signers {
		s := &p.Signers[i]
		resolve(&s.PublicKey)
		resolve(&s.TrustRoot)
		for j := range s.CertificateChain {
			resolve(&s.CertificateChain[j])
		}
	}
	return p, nil
}

// audit runs one pass of every check.
func (e *env) audit(ctx context.Context) (*Report, error) {
	c := &checker{ctx: ctx, env: e}
	e.groupFixes = map[string]*groupFix{}
	e.aclFixes = map[string]*aclFix{}
	rep := &Report{Policy: e.policyPath, ServingUser: e.serving, Notes: append([]string(nil), e.notes...)}
	c.servingUser()
	rep.Lock = c.checkTrusted()
	rep.Store = c.checkStore(e.storeDir)
	c.checkServingGroup(rep.Store)
	rep.Access = c.checkAccess(rep.Store)
	c.checkIdentity()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sortFindings(c.findings)
	rep.Findings = c.findings
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	rep.Checked = c.checked
	rep.Notes = append(rep.Notes, c.notes...)
	rep.Errors = c.errs
	return rep, nil
}

// servingUser reports a serving user that is root, or that the policy names
// but that does not exist.
func (c *checker) servingUser() {
	e := c.env
	where := e.policyPath
	if where == "" {
		where = "(serving user)"
	}
	switch {
	case e.serving == nil && e.servingPol:
		c.add(Finding{Path: where, Rule: RuleNoServingUser, Severity: Medium,
			Problem: fmt.Sprintf("%v: what the serving user can write was not checked", e.servingErr),
			Fix:     "create the user, or name an existing unprivileged user in the policy's run section"})
	case e.serving == nil:
		c.note("%v: what the serving user can write was not checked", e.servingErr)
	case e.serving.UID == 0:
		c.add(Finding{Path: where, Rule: RuleServing, Severity: High,
			Problem: fmt.Sprintf("the serving user %s is root: it can write every file checked here", e.serving),
			Fix:     "serve as an unprivileged user (the policy's run.user)"})
	}
}
