package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/store"
)

// RuleServingGroup: the serving group cannot reach the models (a store
// folder without the serving group or without its group bits, models/
// without the setgid bit, a model file or folder it cannot read).
const RuleServingGroup = "serving-group"

// The folders of a store created by root that the serving group traverses
// (see internal/store/group.go), with the mode --fix gives them. The
// setgid bit is required on models/ (model folders created in it inherit
// the group) and accepted, not required, on the other two.
const (
	modeSharedRoot   = 0o750
	modeSharedFolder = 0o2750
)

// checkServingGroup checks the store at root (from checkStore; "" when
// there is none) against the serving group. In every store, a setgid bit on
// a folder whose group is the serving group is expected, not a finding. In
// a store owned by root (whose `ttsguard run` switches to the serving user),
// the store folder, models/ and models/<name>/ must have the serving group
// with group read and search, models/ the setgid bit; model files and
// folders the serving group cannot read are serving-group findings; and a
// folder above the store that the serving user cannot search is a note.
// It re-judges the mode findings checkStore made of those folders.
func (c *checker) checkServingGroup(root string) {
	e := c.env
	if root == "" || e.servingGID <= 0 || c.hasFinding(root, RuleNotAStore) {
		return
	}
	in, err := statInfo(root, false)
	if err != nil || !in.isDir() {
		return
	}
	g := uint32(e.servingGID)
	served := in.uid == 0
	shared := map[string]uint32{}
	if served {
		shared = sharedFolders(root)
	}
	c.rejudgeModes(root, g, shared, served)
	paths := make([]string, 0, len(shared))
	for p := range shared {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		c.sharedFolder(p, shared[p], g, p == filepath.Join(root, "models"))
	}
	if served {
		c.ancestors(root, g)
	}
}

// sharedFolders returns the store folder, models/ and every model folder in
// it, with the mode each must have.
func sharedFolders(root string) map[string]uint32 {
	out := map[string]uint32{root: modeSharedRoot}
	models := filepath.Join(root, "models")
	if in, err := statInfo(models, false); err != nil || !in.isDir() {
		return out
	}
	out[models] = modeSharedFolder
	ents, _ := os.ReadDir(models) // an error was recorded by checkModels
	for _, d := range ents {
		name := strings.ReplaceAll(d.Name(), "--", "/")
		if esc, err := store.EscapeName(name); err == nil && esc == d.Name() && d.IsDir() {
			out[filepath.Join(models, d.Name())] = modeSharedFolder
		}
	}
	return out
}

// reach is who `ttsguard run` starts: the serving user (when known) with the
// serving group as its only group.
func (c *checker) reach(g uint32) *Principal {
	p := &Principal{UID: -1, GID: int(g)}
	if s := c.env.serving; s != nil {
		p.UID = s.UID
	}
	return p
}

// rejudgeModes goes over the mode findings checkStore made in the store: it
// drops those of the shared folders (sharedFolder judges them with the
// group), accepts a setgid bit on a folder of the serving group, and in a
// store served by root turns a model file or folder the serving group could
// read with the expected mode but cannot now into a serving-group finding.
func (c *checker) rejudgeModes(root string, g uint32, shared map[string]uint32, served bool) {
	models := filepath.Join(root, "models") + string(filepath.Separator)
	who := c.reach(g)
	out := c.findings[:0]
	for _, f := range c.findings {
		if f.Rule != RuleMode || f.act == nil || f.act.setMode < 0 || (f.Path != root && !strings.HasPrefix(f.Path, root+string(filepath.Separator))) {
			out = append(out, f)
			continue
		}
		if _, ok := shared[f.Path]; ok {
			continue
		}
		in, err := statInfo(f.Path, false)
		if err != nil || in.dev != f.act.dev || in.ino != f.act.ino {
			out = append(out, f)
			continue
		}
		want := uint32(f.act.setMode)
		if in.isDir() && in.gid == g && in.perm&0o2000 != 0 && want&0o2000 == 0 {
			want |= 0o2000
			if in.perm == want {
				continue // setgid on a folder of the serving group: expected
			}
			f = c.modeFinding(in, want)
		}
		need := uint32(0o4)
		if in.isDir() {
			need = 0o5
		}
		if served && strings.HasPrefix(f.Path, models) && !who.canReach(in.uid, in.gid, in.perm, need) && who.canReach(in.uid, in.gid, want, need) {
			f.Rule, f.Severity = RuleServingGroup, max(f.Severity, Medium)
			f.Problem += fmt.Sprintf("; the serving group %s cannot read it: ttsguard run cannot load the model", groupLabel(g))
		}
		out = append(out, f)
	}
	c.findings = out
}

// sharedFolder checks a folder the serving group must search: its group,
// its group bits, the setgid bit (required: models/; else accepted), and
// the rest of its mode.
func (c *checker) sharedFolder(p string, want, g uint32, required bool) {
	in, err := statInfo(p, false)
	if err != nil || !in.isDir() {
		return // missing, or reported by checkStore as a link or special file
	}
	var why []string
	switch {
	case in.gid != g:
		why = append(why, fmt.Sprintf("its group is %s, not the serving group %s: the serving user cannot search it, nor reach the models below it (ttsguard run fails)", groupLabel(in.gid), groupLabel(g)))
	case in.perm&0o050 != 0o050:
		why = append(why, fmt.Sprintf("mode %04o gives its group, the serving group %s, no read and search: the serving user cannot reach the models below it (ttsguard run fails)", in.perm, groupLabel(g)))
	case required && in.perm&0o2000 == 0:
		why = append(why, fmt.Sprintf("mode %04o has no setgid bit: a model folder created in it gets its creator's group, not the serving group %s, and the serving user cannot read a model pulled later", in.perm, groupLabel(g)))
	}
	if len(why) == 0 {
		if !required && in.perm&0o2000 != 0 {
			want |= 0o2000 // accepted on the store folder and model folders
		} else if !required {
			want &^= 0o2000
		}
		if in.perm != want {
			c.add(c.modeFinding(in, want))
		}
		return
	}
	sev := Medium
	if extra := in.perm &^ want; extra != 0 {
		// Only what the extra bits do: the missing ones are said above.
		problem, s := c.describeMode(in, want&in.perm)
		_, reasons, _ := strings.Cut(problem, ": ")
		why = append(why, fmt.Sprintf("mode %04o, want %04o: %s", in.perm, want, reasons))
		sev = max(sev, s)
	}
	cmd := fmt.Sprintf("chmod %04o %s", want, shellQuote(p))
	if in.gid != g {
		cmd = fmt.Sprintf("chgrp %d %s && %s", g, shellQuote(p), cmd)
	}
	f := Finding{Path: p, Rule: RuleServingGroup, Severity: sev, Problem: strings.Join(why, "; "), Fix: cmd}
	if c.env.euid == 0 || (in.gid == g && int(in.uid) == c.env.euid) {
		f.Fixable = true
		c.env.groupFixes[p] = &groupFix{path: p, dev: in.dev, ino: in.ino, gid: int(g), mode: want}
	} else {
		f.Fix = "as root: " + cmd
	}
	c.add(f)
}

// ancestors notes every folder above the store that the serving user (with
// only the serving group) cannot search: the store is then out of its reach,
// whatever the store's own modes. Those folders are not the store's, so this
// is a note, not a finding, and --fix leaves them alone.
func (c *checker) ancestors(root string, g uint32) {
	who := c.reach(g)
	for d := filepath.Dir(root); ; d = filepath.Dir(d) {
		if in, err := statInfo(d, true); err == nil && !who.canReach(in.uid, in.gid, in.perm, 0o1) {
			c.note("the serving user cannot search %s, a folder above the store (owner %s, group %s, mode %04o), so ttsguard run cannot reach the models: keep the store below folders it can search (the policy's store, $TTSGUARD_HOME), or allow it: chmod o+x %s",
				d, userName(in.uid), groupLabel(in.gid), in.perm, shellQuote(d))
		}
		if d == filepath.Dir(d) {
			return
		}
	}
}

func (c *checker) hasFinding(p, rule string) bool {
	for _, f := range c.findings {
		if f.Path == p && f.Rule == rule {
			return true
		}
	}
	return false
}

// modeFinding is a mode finding of a store entry: its mode must be want.
func (c *checker) modeFinding(in *info, want uint32) Finding {
	problem, sev := c.describeMode(in, want)
	return Finding{Path: in.path, Rule: RuleMode, Severity: sev, Problem: problem,
		Fix: fmt.Sprintf("chmod %04o %s", want, shellQuote(in.path)), Fixable: true,
		act: &action{path: in.path, dev: in.dev, ino: in.ino, dir: in.isDir(), chown: -1, setMode: int64(want)}}
}

// groupFix is what --fix does for a serving-group finding of a store
// folder: a chgrp to the serving group and a chmod, through a descriptor to
// the very folder (device and inode) that was checked.
type groupFix struct {
	path     string
	dev, ino uint64
	gid      int
	mode     uint32
}

// fixGroups applies the repairs of the serving-group findings of store
// folders. With an untrusted policy (which named the group) it applies none
// and counts them as skipped.
func (e *env) fixGroups(findings []Finding) (fixed []Finding, errs []string, skipped int) {
	return applyFixes(e, findings, RuleServingGroup, e.groupFixes, (*groupFix).apply)
}

// applyFixes applies the repairs (by path) of the fixable findings of one
// rule. With an untrusted policy it applies none and counts them as skipped.
func applyFixes[T any](e *env, findings []Finding, rule string, repairs map[string]T, apply func(T) error) (fixed []Finding, errs []string, skipped int) {
	for _, f := range findings {
		r, ok := repairs[f.Path]
		if f.Rule != rule || !f.Fixable || !ok {
			continue
		}
		if e.untrusted {
			skipped++
			continue
		}
		if err := apply(r); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %s: %v", f.Path, f.Fix, err))
			continue
		}
		fixed = append(fixed, f)
	}
	return fixed, errs, skipped
}

// apply changes the folder's group, then its mode. Before the group
// changes, the folder loses its group and other bits, so that the new group
// never holds more than the final mode gives it.
func (g *groupFix) apply() error {
	f, err := os.OpenFile(g.path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	if uint64(st.Dev) != g.dev || st.Ino != g.ino {
		return fmt.Errorf("changed since it was checked; run doctor again")
	}
	if int(st.Gid) != g.gid {
		if cur := st.Mode & 0o7777; cur&0o077 != 0 {
			if err := syscall.Fchmod(fd, cur&^0o077); err != nil {
				return fmt.Errorf("chmod: %w", err)
			}
		}
		if err := syscall.Fchown(fd, -1, g.gid); err != nil {
			return fmt.Errorf("chgrp: %w", err)
		}
	}
	if err := syscall.Fchmod(fd, g.mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}
