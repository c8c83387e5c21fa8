package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// checker collects the findings of one audit pass.
type checker struct {
	ctx      context.Context
	env      *env
	storeUID uint32
	findings []Finding
	notes    []string
	errs     []string
	checked  Checked
}

func (c *checker) add(f Finding) { c.findings = append(c.findings, f) }

func (c *checker) note(format string, a ...any) { c.notes = append(c.notes, fmt.Sprintf(format, a...)) }

// tg is the ttsguard command line that runs args with this run's policy.
func (c *checker) tg(args ...string) string {
	cmd := []string{"ttsguard", args[0]}
	if p := c.env.policyPath; p != "" {
		cmd = append(cmd, "--policy", shellQuote(p))
	}
	for _, a := range args[1:] {
		cmd = append(cmd, shellQuote(a))
	}
	return strings.Join(cmd, " ")
}

func (c *checker) ioErr(p string, err error) {
	c.errs = append(c.errs, fmt.Sprintf("%s: %v", p, err))
}

// info is what doctor reads of a path: its type, mode bits and owner.
type info struct {
	path     string
	typ      fs.FileMode // type bits only
	perm     uint32      // st_mode & 07777: permissions, setuid, setgid, sticky
	uid, gid uint32
	dev, ino uint64
	nlink    uint64
	size     int64
}

func (in *info) isDir() bool     { return in.typ.IsDir() }
func (in *info) isRegular() bool { return in.typ.IsRegular() }
func (in *info) isLink() bool    { return in.typ&fs.ModeSymlink != 0 }

func statInfo(p string, follow bool) (*info, error) {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	fi, err := stat(p)
	if err != nil {
		return nil, err
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, fmt.Errorf("%q: no owner information on this system", p)
	}
	return &info{path: p, typ: fi.Mode().Type(), perm: uint32(sys.Mode) & 0o7777, uid: sys.Uid, gid: sys.Gid,
		dev: uint64(sys.Dev), ino: uint64(sys.Ino), nlink: uint64(sys.Nlink), size: fi.Size()}, nil
}

// readDir lists a folder; an error is recorded and yields nothing.
func (c *checker) readDir(p string) []fs.DirEntry {
	ents, err := os.ReadDir(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.ioErr(p, err)
	}
	return ents
}

// entry reads a store entry and reports it when it is a symbolic link or a
// special file; ok is false then (and when it vanished or failed).
func (c *checker) entry(p string) (in *info, ok bool) {
	in, err := statInfo(p, false)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.ioErr(p, err)
		}
		return nil, false
	}
	switch {
	case in.isLink():
		c.checked.Symlinks++
		target, _ := os.Readlink(p)
		c.add(Finding{Path: p, Rule: RuleSymlink, Severity: High,
			Problem: fmt.Sprintf("symbolic link to %q: the store holds no links besides models/<name>/current", target),
			Fix:     "check where it points, then remove it: " + removeCmd(p)})
		return in, false
	case in.isDir():
		c.checked.Folders++
	case in.isRegular():
		c.checked.Files++
	default:
		c.add(Finding{Path: p, Rule: RuleSpecial, Severity: High,
			Problem: fmt.Sprintf("%s in the store", typeName(in.typ)),
			Fix:     "remove it: " + removeCmd(p)})
		return in, false
	}
	return in, true
}

func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t.IsDir():
		return "a folder"
	case t.IsRegular():
		return "a file"
	}
	return "a special file"
}

// removeCmd is the command that removes p, opening a read-only parent
// folder for the time it takes.
func removeCmd(p string) string {
	dir := filepath.Dir(p)
	rm := "rm "
	if in, err := statInfo(p, false); err == nil && in.isDir() {
		rm = "rm -r "
	}
	if in, err := statInfo(dir, false); err == nil && in.perm&0o200 == 0 {
		return fmt.Sprintf("chmod u+w %s && %s%s && chmod %04o %s", shellQuote(dir), rm, shellQuote(p), in.perm, shellQuote(dir))
	}
	return rm + shellQuote(p)
}

// unexpected reports an entry the store layout does not have.
func (c *checker) unexpected(p, why string) {
	c.add(Finding{Path: p, Rule: RuleUnexpected, Severity: Medium, Problem: why,
		Fix: "check what it is, then move it out of the store: mv " + shellQuote(p) + " <elsewhere>"})
}

// storeItem checks a store entry's owner (the store root's owner) and its
// mode (exactly want).
func (c *checker) storeItem(in *info, want uint32) {
	if in.uid != c.storeUID {
		f := Finding{Path: in.path, Rule: RuleOwner, Severity: High,
			Problem: fmt.Sprintf("owned by %s, the store by %s", userName(in.uid), userName(c.storeUID))}
		if s := c.env.serving; s != nil && int(in.uid) == s.UID {
			f.Problem += "; the serving user can change it"
		}
		cmd := fmt.Sprintf("chown %d %s", c.storeUID, shellQuote(in.path))
		if in.isLink() {
			cmd = fmt.Sprintf("chown -h %d %s", c.storeUID, shellQuote(in.path))
		}
		if c.env.euid == 0 && !in.isLink() {
			f.Fix, f.Fixable = cmd, true
			f.act = &action{path: in.path, dev: in.dev, ino: in.ino, dir: in.isDir(), chown: int(c.storeUID), setMode: -1}
		} else {
			f.Fix = "as root: " + cmd
		}
		c.add(f)
	}
	if in.perm == want || in.isLink() {
		return
	}
	problem, sev := c.describeMode(in, want)
	c.add(Finding{Path: in.path, Rule: RuleMode, Severity: sev, Problem: problem,
		Fix: fmt.Sprintf("chmod %04o %s", want, shellQuote(in.path)), Fixable: true,
		act: &action{path: in.path, dev: in.dev, ino: in.ino, dir: in.isDir(), chown: -1, setMode: int64(want)}})
}

// describeMode says how mode in.perm differs from want, and how bad that is.
func (c *checker) describeMode(in *info, want uint32) (string, Severity) {
	got := in.perm
	extra, missing := got&^want, want&^got
	sev := Low
	var why []string
	raise := func(s Severity, msg string) {
		sev = max(sev, s)
		why = append(why, msg)
	}
	if extra&0o4000 != 0 {
		raise(High, "setuid")
	}
	if extra&0o2000 != 0 {
		raise(High, "setgid")
	}
	if extra&0o1000 != 0 {
		raise(Low, "sticky")
	}
	switch extra & 0o022 {
	case 0o022:
		raise(High, "writable by group and others")
	case 0o020:
		raise(High, "writable by group")
	case 0o002:
		raise(High, "writable by others")
	}
	if extra&0o200 != 0 {
		raise(Medium, "writable by its owner (the store keeps it read-only)")
	}
	if extra&0o555 != 0 {
		raise(Low, "readable or searchable by more than needed")
	}
	if missing != 0 {
		raise(Low, "less than expected: the serving user may be unable to read it")
	}
	if s := c.env.serving; s != nil && s.canWrite(in.uid, in.gid, got) && !s.canWrite(in.uid, in.gid, want) {
		raise(High, "the serving user "+s.User+" can write it")
	}
	return fmt.Sprintf("mode %04o, want %04o: %s", got, want, strings.Join(why, ", ")), sev
}

// userName is "name (uid N)", or "uid N" for an unknown user.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return fmt.Sprintf("%s (uid %s)", u.Username, id)
	}
	return "uid " + id
}
