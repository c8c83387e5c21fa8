package audit

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ttsguard/ttsguard/internal/access"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// Rules of the access checks.
const (
	// RuleAccess: someone the policy's access section does not allow can
	// read or write a model or the policy, or a role holder cannot read a
	// model.
	RuleAccess = "access"
	// RuleACL: a store folder's POSIX ACL is not the one the roles want.
	RuleACL = "acl"
)

// AccessReport is doctor's effective access report: who can read and who
// can write each model and the policy.
type AccessReport struct {
	// Roles says the policy has an access section (without one, nobody is
	// flagged for reading).
	Roles   bool            `json:"roles"`
	Targets []access.Target `json:"targets"`
}

// rules are the access rules of this run.
func (c *checker) rules() access.Rules {
	e := c.env
	r := access.Rules{Access: e.pol.Access, Resolve: access.SystemResolver, ServingUID: -1, ServingGID: e.servingGID, Owner: int(c.storeUID)}
	if e.serving != nil {
		r.ServingUID = e.serving.UID
	}
	return r
}

// checkAccess builds the access report of the store at root ("" when there
// is none) and the policy, adds an access finding for everyone the rules
// do not allow and every role holder that cannot read a model, and an acl
// finding for every store folder whose ACL is not the one the roles want.
func (c *checker) checkAccess(root string) *AccessReport {
	e := c.env
	r := c.rules()
	rep := &AccessReport{Roles: e.pol.Access.Set}
	fixable := map[string]bool{} // folders with a fixable finding of any rule
	for _, f := range c.findings {
		if f.Fixable {
			fixable[f.Path] = true
		}
	}
	if e.policyPath != "" {
		if chain := c.nodes(filepath.Dir(e.policyPath), e.policyPath); chain != nil {
			t := r.Effective("policy", chain)
			// Anyone may read the policy (it holds no secret); writers count.
			t.Unexpected = slices2(t.Unexpected, func(s string) bool { return strings.HasSuffix(s, "can write it") })
			rep.Targets = append(rep.Targets, t)
			c.accessFindings(t, chain, fixable)
		}
	}
	if root == "" || c.hasFinding(root, RuleNotAStore) {
		return rep
	}
	models := filepath.Join(root, "models")
	base := c.nodes(root, models)
	if base == nil {
		return rep
	}
	c.aclFinding(r, base[0], nil)
	c.aclFinding(r, base[1], r.WantedDefault(base[1]))
	c.checkLogACLs(r, root)
	ents := c.readDir(models)
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, d := range ents {
		name := strings.ReplaceAll(d.Name(), "--", "/")
		if esc, err := store.EscapeName(name); err != nil || esc != d.Name() || !d.IsDir() {
			continue
		}
		md := c.nodes(filepath.Join(models, d.Name()))
		if md == nil {
			continue
		}
		c.aclFinding(r, md[0], nil)
		chain := append(append([]*access.Node{}, base...), md[0])
		t := r.Effective("model "+name, chain)
		rep.Targets = append(rep.Targets, t)
		c.accessFindings(t, chain, fixable)
	}
	return rep
}

// nodes stats each path; nil (the error recorded) when one cannot be.
func (c *checker) nodes(paths ...string) []*access.Node {
	var out []*access.Node
	for _, p := range paths {
		n, err := access.StatNode(p)
		if err != nil {
			if !slices.ContainsFunc(c.errs, func(s string) bool { return strings.HasPrefix(s, p+":") }) {
				c.ioErr(p, err) // else checkStore said it
			}
			return nil
		}
		out = append(out, n)
	}
	return out
}

// accessFindings turns a target's unexpected and missing subjects into
// findings (only when the policy has an access section). They are fixable when a folder on the way has a fixable finding
// (a mode, group or ACL repair): doctor --fix then checks again.
func (c *checker) accessFindings(t access.Target, chain []*access.Node, fixable map[string]bool) {
	if !c.env.pol.Access.Set {
		return // modes, groups and ACLs are judged by the other checks
	}
	canFix := false
	for _, n := range chain {
		canFix = canFix || fixable[n.Path] || c.hasFinding(n.Path, RuleACL)
	}
	fix := "remove the access the policy does not give (chmod, chgrp, setfacl -x), or list the subject in the policy's access section"
	if canFix {
		fix = "doctor --fix repairs the modes, groups and ACLs of the folders on its way (see their findings)"
	}
	for _, u := range t.Unexpected {
		sev := Medium
		if strings.HasSuffix(u, "can write it") {
			sev = High
		}
		c.add(Finding{Path: t.Path, Rule: RuleAccess, Severity: sev, Fixable: canFix,
			Problem: fmt.Sprintf("%s: %s, and the policy's access section does not allow it", t.What, u), Fix: fix})
	}
	for _, m := range t.Missing {
		c.add(Finding{Path: t.Path, Rule: RuleAccess, Severity: Low, Fixable: canFix,
			Problem: fmt.Sprintf("%s: %s, though its role needs to", t.What, m),
			Fix:     "doctor --fix gives the role principals read and search through ACL entries (as root or the store's owner)"})
	}
}

// aclFinding adds an acl finding when the folder's ACL (or, with def, its
// default ACL) is not the one the rules want; fixable as root or as the
// folder's owner.
func (c *checker) aclFinding(r access.Rules, n *access.Node, def access.ACL) {
	want := r.Wanted(n)
	accessOK := want == nil || access.Equivalent(want, n.ACL)
	defOK := def == nil || access.Same(def, n.Default)
	if accessOK && defOK {
		return
	}
	var why []string
	if !accessOK {
		why = append(why, fmt.Sprintf("ACL %s, want %s", aclText(n.ACL), want))
	}
	if !defOK {
		why = append(why, fmt.Sprintf("default ACL %s, want %s (model folders created later get it)", aclText(n.Default), def))
	}
	cmd := fmt.Sprintf("setfacl --set %s %s", want, shellQuote(n.Path))
	if want == nil {
		cmd = ""
	}
	if def != nil && !defOK {
		cmd = strings.TrimPrefix(cmd+" && ", " && ") + fmt.Sprintf("setfacl -d --set %s %s", def, shellQuote(n.Path))
	}
	f := Finding{Path: n.Path, Rule: RuleACL, Severity: Medium, Problem: strings.Join(why, "; ") + ": the ACL does not follow the policy's access roles", Fix: cmd}
	if c.env.euid == 0 || int(n.UID) == c.env.euid {
		f.Fixable = true
		if !accessOK || def != nil {
			c.env.aclFixes[n.Path] = &aclFix{node: n, acl: want, def: def}
		}
	} else {
		f.Fix = "as root: " + cmd
	}
	c.add(f)
}

func aclText(a access.ACL) string {
	if a == nil {
		return "(none)"
	}
	return a.String()
}

type aclFix struct {
	node     *access.Node
	acl, def access.ACL
}

// fixACLs applies the ACL repairs; with an untrusted policy none.
func (e *env) fixACLs(findings []Finding) (fixed []Finding, errs []string, skipped int) {
	return applyFixes(e, findings, RuleACL, e.aclFixes, func(a *aclFix) error {
		acl := a.acl
		if acl == nil {
			acl = a.node.ACL
		}
		return access.SetACLs(a.node, acl, a.def)
	})
}

func slices2(in []string, keep func(string) bool) []string {
	var out []string
	for _, s := range in {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// checkLogACLs: with an access section, the audit log folder and the
// log's records, checkpoint and verifier key get named ACL entries letting
// admins and auditors read them (`ttsguard log show` and `log verify`), the
// folder a default ACL so that a checkpoint written later inherits them;
// the signing key keeps none.
func (c *checker) checkLogACLs(r access.Rules, root string) {
	if !c.env.pol.Access.Set {
		return
	}
	dir := filepath.Join(root, LogDir)
	n, err := access.StatNode(dir)
	if err != nil || !n.Dir {
		return // missing, or reported by checkStore
	}
	readers := r
	readers.Only = []string{policy.RoleAdmins, policy.RoleAuditors}
	c.aclFinding(readers, n, readers.WantedDefault(n))
	for _, name := range []string{logRecords, logCheckpoint, logVerifier} {
		if f, err := access.StatNode(filepath.Join(dir, name)); err == nil && !f.Dir {
			c.aclFinding(readers, f, nil)
		}
	}
}

// withACLMask is the mode a store file or folder should show when the
// access roles reach it through named ACL entries: the kernel shows the
// ACL's mask as the group bits, so want's group bits become the mask's, as
// long as the owning group's own entry gives no more than want does and the
// mask gives no write.
func (c *checker) withACLMask(in *info, want uint32) uint32 {
	if !c.env.pol.Access.Set {
		return want
	}
	a, err := access.ReadACL(in.path)
	if err != nil || a == nil {
		return want
	}
	var g, m uint16
	hasMask := false
	for _, e := range a {
		switch e.Tag {
		case access.TagGroupObj:
			g = e.Perm
		case access.TagMask:
			m, hasMask = e.Perm, true
		}
	}
	if !hasMask || m&2 != 0 || uint32(g)<<3&^want&0o070 != 0 {
		return want
	}
	return want&^0o070 | uint32(m)<<3
}
