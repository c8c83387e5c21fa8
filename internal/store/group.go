package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// The serving group.
//
// A store created by root is made ready for the group `ttsguard run` gives the
// command it starts (the policy's run.group, by default nogroup, else nobody):
//
//	<root>/                 root:<serving group> 0750  (the sandbox's default group is this folder's group)
//	  models/               root:<serving group> 2750  (setgid: model folders created in it inherit the group)
//	    <escaped name>/     root:<serving group> 2750
//	      <id>/ and below   0555 folders, 0444 files   (readable by everyone who can reach them)
//	  objects/, tmp/, .lock and audit/ keep root's group: the served command reaches
//	                        blobs through their hard links in models/, and tmp/,
//	                        .lock and the audit log (its signing key) stay private.
//
// So the serving user can traverse <root>, models/ and models/<name>/ through
// the group bits and read every version folder, and nothing else. A store
// created by any other user keeps that user's group and no setgid bit: started
// as that user, `ttsguard run` cannot switch to another one. Open only sets the
// group when it creates the store; `ttsguard doctor --fix` brings an existing
// store to this layout.

// defaultServingGroups are the groups tried, in order, when the policy names
// no serving group (as `ttsguard run` does).
var defaultServingGroups = []string{"nogroup", "nobody"}

// ErrNoGroup: a serving group could not be found.
var ErrNoGroup = errors.New("no such group")

// Option configures Open.
type Option func(*openOptions)

type openOptions struct {
	group string
	keys  *crypt.Keys
}

// ServingGroup names the group of the user the TTS server runs as (the
// policy's run.group): a group name or a numeric id; "" means the default
// (nogroup, else nobody). Open uses it only when it creates the store as
// root.
func ServingGroup(name string) Option {
	return func(o *openOptions) { o.group = name }
}

// LookupServingGroup returns the gid of the serving group name (a name or a
// numeric id), or for "" of the first of nogroup and nobody that exists.
// The error wraps ErrNoGroup when there is no such group; root's group (0) is
// never a serving group.
func LookupServingGroup(name string) (int, error) {
	if name == "" {
		for _, n := range defaultServingGroups {
			if gid, err := LookupServingGroup(n); err == nil {
				return gid, nil
			}
		}
		return -1, fmt.Errorf("serving group: %w: none of %q", ErrNoGroup, defaultServingGroups)
	}
	gid := -1
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		gid = int(n)
	} else if g, err := user.LookupGroup(name); err == nil {
		gid, err = strconv.Atoi(g.Gid)
		if err != nil {
			return -1, fmt.Errorf("serving group %q: gid %q is not a number", name, g.Gid)
		}
	} else {
		return -1, fmt.Errorf("serving group %q: %w", name, ErrNoGroup)
	}
	if gid == 0 {
		return -1, fmt.Errorf("serving group %q: root's group cannot be the serving group", name)
	}
	return gid, nil
}

// creationGroup is the group a store created now gets: the serving group
// when ttsguard runs as root, -1 (the creator's own) otherwise. A missing
// default group leaves the store as a non-root user's would be; a group the
// policy names but that does not exist is an error.
func creationGroup(o openOptions) (int, error) {
	if os.Geteuid() != 0 {
		return -1, nil
	}
	gid, err := LookupServingGroup(o.group)
	if err != nil && o.group == "" {
		return -1, nil
	}
	return gid, err
}

// mkdirRoot creates the store folder abs (0750) and any missing folder
// above it. With a serving group (gid >= 0) the store folder gets it and
// the folders created above it are 0755, so that the serving user can reach
// the store.
func mkdirRoot(abs string, gid int) error {
	var created []string
	for p := abs; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || !errors.Is(err, fs.ErrNotExist) || p == filepath.Dir(p) {
			break
		}
		created = append(created, p)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return err
	}
	if gid >= 0 {
		for i, p := range created {
			if i == 0 {
				continue // abs itself
			}
			if err := os.Chmod(p, 0o755); err != nil {
				return err
			}
		}
		if err := os.Lchown(abs, -1, gid); err != nil {
			return err
		}
	}
	return os.Chmod(abs, 0o750)
}

// mkdirGroup creates folder p with exactly mode perm (whatever the umask,
// and clearing a setgid bit inherited from its parent unless perm has one)
// and, when gid >= 0, group gid (a chown only when the kernel gave it
// another). It reports whether it created p; an
// existing p is left as it is.
func mkdirGroup(p string, perm fs.FileMode, gid int) (bool, error) {
	if err := os.Mkdir(p, perm.Perm()); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	if g := groupOf(p); gid >= 0 && g != gid {
		if err := os.Lchown(p, -1, gid); err != nil {
			return true, err
		}
	}
	return true, os.Chmod(p, perm)
}

// groupOf returns the group of p (-1 when it cannot be read).
func groupOf(p string) int {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return -1
	}
	return int(st.Gid)
}
