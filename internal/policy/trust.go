package policy

import (
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

// EnvTrustedPaths lists, separated by ':', the absolute paths whose policy,
// lock and key files are read even though someone other than the caller or
// root owns them or may change them (as git's safe.directory does). A file is
// trusted when its path, or its path with symbolic links resolved, is an
// entry or lies under one; "*" trusts every path. Relative and empty entries
// are ignored.
const EnvTrustedPaths = "TTSGUARD_TRUSTED_PATHS"

// ErrUntrusted is the category of every refusal of a file that another user
// could have changed (*TrustError wraps it).
var ErrUntrusted = errors.New("untrusted file")

// TrustError says why a file that decides what ttsguard trusts (a policy, a
// lock file, a key, certificate or trust root the policy names) was refused.
// The caller names the file; Error says what is wrong with it or the folder
// it is in, and how to accept it on purpose.
type TrustError struct {
	Path   string // the file, absolute
	Folder string // the folder at fault; "" when the file itself is
	Reason string // e.g. `owned by uid 1000 ("alice"), not by you (uid 0) or root`
	Fix    string // e.g. "chmod go-w"
}

func (e *TrustError) Error() string {
	what, risk := "the file is", "change what it says"
	if e.Folder != "" {
		what, risk = fmt.Sprintf("its folder %q is", e.Folder), "replace it"
	}
	return fmt.Sprintf("%s %s, so another user could %s: %s, or to trust it anyway add %q to %s",
		what, e.Reason, risk, e.Fix, filepath.Dir(e.Path), EnvTrustedPaths)
}

// Unwrap returns ErrUntrusted, and ErrInvalid: a refused file is input that
// cannot be used, like a policy that does not parse.
func (e *TrustError) Unwrap() []error { return []error{ErrUntrusted, ErrInvalid} }

// CheckTrusted refuses the file at path when anyone but the caller (the
// effective uid) or root could have written what it says:
//
//   - the file is owned by another user, or is writable by its group or by
//     others; fi describes it (from the descriptor the caller reads it
//     through), or, when nil, os.Stat does;
//   - path is a symbolic link owned by another user;
//   - the folder path names it in, or the folder it resolves to, is owned by
//     another user, or is writable by its group or by others without the
//     sticky bit. In a sticky folder such as /tmp others cannot rename or
//     remove a file they do not own, so there the file's own checks decide.
//
// Files under TTSGUARD_TRUSTED_PATHS are not checked. A check that cannot be
// made refuses: its error is returned. Refusals are *TrustError values.
func CheckTrusted(path string, fi fs.FileInfo) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if trustedPath(abs) {
		return nil
	}
	if fi == nil {
		if fi, err = os.Stat(abs); err != nil {
			return err
		}
	}
	lfi, err := os.Lstat(abs)
	if err != nil {
		return err
	}
	if lfi.Mode()&fs.ModeSymlink != 0 {
		if r := ownerProblem(lfi); r != "" {
			return &TrustError{Path: abs, Reason: "a symbolic link " + r, Fix: "replace the link"}
		}
	}
	if r := ownerProblem(fi); r != "" {
		return &TrustError{Path: abs, Reason: r, Fix: "chown it"}
	}
	if r := writeProblem(fi, false); r != "" {
		return &TrustError{Path: abs, Reason: r, Fix: "chmod go-w it"}
	}
	return checkFolders(abs)
}

// CheckTrustedFolder checks the folder of a file that does not exist (yet),
// as CheckTrusted checks the folders of one that does: whoever could write
// the folder could add the file, or remove it once it exists. A folder that
// does not exist either holds nothing to distrust.
func CheckTrustedFolder(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if trustedPath(abs) {
		return nil
	}
	if _, err := os.Stat(filepath.Dir(abs)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return checkFolders(abs)
}

// checkFolders checks the folder abs is named in and, when symbolic links
// lead elsewhere, the folder it resolves to.
func checkFolders(abs string) error {
	dirs := []string{filepath.Dir(abs)}
	if real, err := resolve(abs); err == nil && filepath.Dir(real) != dirs[0] {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if r := ownerProblem(fi); r != "" {
			return &TrustError{Path: abs, Folder: d, Reason: r, Fix: "move the file to a folder of yours"}
		}
		if r := writeProblem(fi, true); r != "" {
			return &TrustError{Path: abs, Folder: d, Reason: r, Fix: "chmod go-w (or +t) the folder"}
		}
	}
	return nil
}

// resolve returns abs with symbolic links resolved; for a path that does not
// exist, its folder resolved and its name.
func resolve(abs string) (string, error) {
	real, err := filepath.EvalSymlinks(abs)
	if err == nil {
		return real, nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

// ownerProblem says why fi's owner is neither the caller nor root, or "".
// A FileInfo without an owner (not from a Unix stat) is a problem: the check
// cannot be made.
func ownerProblem(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "of unknown owner"
	}
	euid := os.Geteuid()
	if int(st.Uid) == euid || st.Uid == 0 {
		return ""
	}
	return fmt.Sprintf("owned by %s, not by you (uid %d) or root", describeUID(st.Uid), euid)
}

// describeUID is "uid N (name)", or "uid N" when the user is unknown.
func describeUID(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		s += fmt.Sprintf(" (%q)", u.Username)
	}
	return s
}

// writeProblem says that fi may be written by its group or others, or "". A
// sticky folder is not a problem (see CheckTrusted).
func writeProblem(fi fs.FileInfo, folder bool) string {
	m := fi.Mode()
	if m.Perm()&0o022 == 0 || folder && m&fs.ModeSticky != 0 {
		return ""
	}
	who := "its group"
	if m.Perm()&0o002 != 0 {
		who = "everyone"
	}
	return fmt.Sprintf("writable by %s (mode %v)", who, m)
}

// trustedPath reports whether TTSGUARD_TRUSTED_PATHS covers abs, as given or
// with symbolic links resolved.
func trustedPath(abs string) bool {
	list := os.Getenv(EnvTrustedPaths)
	if list == "" {
		return false
	}
	paths := []string{filepath.Clean(abs)}
	if real, err := resolve(abs); err == nil {
		paths = append(paths, real)
	}
	for _, e := range filepath.SplitList(list) {
		if e == "*" {
			return true
		}
		if !filepath.IsAbs(e) {
			continue
		}
		entries := []string{filepath.Clean(e)}
		if real, err := filepath.EvalSymlinks(e); err == nil {
			entries = append(entries, real)
		}
		for _, en := range entries {
			for _, p := range paths {
				if p == en || strings.HasPrefix(p, strings.TrimSuffix(en, "/")+"/") {
					return true
				}
			}
		}
	}
	return false
}
