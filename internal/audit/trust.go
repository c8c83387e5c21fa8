package audit

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/policy"
)

// maxPEMSize caps the files read while looking for private keys.
const maxPEMSize = policy.MaxFileSize

var (
	pemPrivate   = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)
	pemEncrypted = regexp.MustCompile(`-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED`)
)

// checkTrusted checks the policy file, the lock file, the files the policy
// names, the folders holding them, and private keys lying in those folders.
// It returns the lock file's path ("" when there is none).
func (c *checker) checkTrusted() (lock string) {
	e := c.env
	var folders []string
	addFolder := func(p string) {
		if d := filepath.Dir(p); !slices.Contains(folders, d) {
			folders = append(folders, d)
		}
	}
	if e.policyPath != "" {
		c.trustedFile(e.policyPath, "the policy")
		addFolder(e.policyPath)
	}
	if _, err := os.Stat(e.lockPath); err == nil {
		lock = e.lockPath
		c.trustedFile(lock, "the lock file")
		addFolder(lock)
	} else if errors.Is(err, fs.ErrNotExist) {
		c.note("no lock file at %s", e.lockPath)
	} else {
		c.ioErr(e.lockPath, err)
	}
	var named []string
	add := func(p string) {
		if p != "" && !slices.Contains(named, p) {
			named = append(named, p)
		}
	}
	add(e.pol.CABundle)
	for _, s := range e.pol.Signers {
		add(s.PublicKey)
		add(s.TrustRoot)
		for _, p := range s.CertificateChain {
			add(p)
		}
	}
	for _, p := range named {
		c.checked.KeyFiles++
		c.trustedFile(p, "a trusted key or certificate")
		addFolder(p)
	}
	for _, d := range folders {
		if d != e.storeDir { // the store is checked as the store
			c.trustedFolder(d)
		}
	}
	for _, d := range folders {
		c.privateKeys(d)
	}
	return lock
}

// trustedFile checks a file that decides what is trusted: a regular file,
// owned by the invoking user or root, not the serving user's, and writable
// by nobody else; no setuid, setgid or sticky bit.
func (c *checker) trustedFile(p, what string) {
	in, err := statInfo(p, true)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			c.add(Finding{Path: p, Rule: RuleMissing, Severity: Medium,
				Problem: what + " is missing", Fix: "restore it, or remove it from the policy"})
		} else {
			c.ioErr(p, err)
		}
		return
	}
	if !in.isRegular() {
		c.add(Finding{Path: p, Rule: RuleSpecial, Severity: High,
			Problem: fmt.Sprintf("%s is %s, not a regular file", what, typeName(in.typ)), Fix: "replace it with a regular file"})
		return
	}
	euid := c.env.euid
	if int(in.uid) != euid && in.uid != 0 {
		c.add(Finding{Path: p, Rule: RuleOwner, Severity: High,
			Problem: fmt.Sprintf("%s is owned by %s, not by you (%s) or root: its owner decides what is trusted", what, userName(in.uid), userName(uint32(euid))),
			Fix:     fmt.Sprintf("check its content, then: chown %d %s", euid, shellQuote(p))})
	}
	if s := c.env.serving; s != nil && s.UID != 0 && int(in.uid) == s.UID {
		c.add(Finding{Path: p, Rule: RuleServing, Severity: High,
			Problem: fmt.Sprintf("%s is owned by the serving user %s, which can change it", what, s),
			Fix:     fmt.Sprintf("check its content, then: chown root %s (or serve as another user)", shellQuote(p))})
	}
	if want := in.perm &^ (0o022 | 0o7000); want != in.perm {
		problem, sev := c.describeMode(in, want)
		c.add(Finding{Path: p, Rule: RuleMode, Severity: sev, Problem: what + ": " + problem,
			Fix: fmt.Sprintf("chmod %04o %s", want, shellQuote(p)), Fixable: true,
			act: &action{path: p, dev: in.dev, ino: in.ino, follow: true, chown: -1, setMode: -1, clear: 0o022 | 0o7000}})
	}
}

// trustedFolder checks a folder holding trusted files: whoever can write it
// can replace them.
func (c *checker) trustedFolder(d string) {
	in, err := statInfo(d, true)
	if err != nil {
		c.ioErr(d, err)
		return
	}
	if in.perm&0o022 != 0 && in.perm&0o1000 == 0 {
		who := map[uint32]string{0o022: "group and others", 0o020: "group", 0o002: "others"}[in.perm&0o022]
		c.add(Finding{Path: d, Rule: RuleFolder, Severity: High,
			Problem: fmt.Sprintf("folder of the policy, lock or key files is writable by %s (mode %04o): they can replace those files", who, in.perm),
			Fix:     fmt.Sprintf("chmod go-w %s, or move the files to a folder only you can write", shellQuote(d))})
	}
	if s := c.env.serving; s != nil && s.UID != 0 && int(in.uid) == s.UID {
		c.add(Finding{Path: d, Rule: RuleServing, Severity: High,
			Problem: fmt.Sprintf("folder of the policy, lock or key files is owned by the serving user %s", s),
			Fix:     fmt.Sprintf("chown root %s (or serve as another user)", shellQuote(d))})
	}
}

// privateKeys reports PEM private keys in folder d (not below it) that group
// or others may read.
func (c *checker) privateKeys(d string) {
	for _, e := range c.readDir(d) {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(d, e.Name())
		in, err := statInfo(p, false)
		if err != nil || !in.isRegular() || in.perm&0o044 == 0 || in.size > maxPEMSize {
			continue
		}
		data, err := readSmall(p)
		if err != nil {
			c.ioErr(p, err)
			continue
		}
		c.checked.PEMScanned++
		if !pemPrivate.Match(data) {
			continue
		}
		sev, kind := High, "private key"
		if pemEncrypted.Match(data) {
			sev, kind = Medium, "encrypted private key"
		}
		want := in.perm &^ (0o077 | 0o7000)
		who := map[uint32]string{0o044: "group and others", 0o040: "group", 0o004: "others"}[in.perm&0o044]
		c.add(Finding{Path: p, Rule: RulePrivateKey, Severity: sev,
			Problem: fmt.Sprintf("PEM %s readable by %s (mode %04o)", kind, who, in.perm),
			Fix:     fmt.Sprintf("chmod %04o %s", want, shellQuote(p)), Fixable: true,
			act: &action{path: p, dev: in.dev, ino: in.ino, chown: -1, setMode: -1, clear: 0o077 | 0o7000}})
	}
}

// readSmall reads a regular file of at most maxPEMSize bytes without
// following a symbolic link or blocking on a FIFO swapped in.
func readSmall(p string) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%q: not a regular file", p)
	}
	return io.ReadAll(io.LimitReader(f, maxPEMSize))
}
