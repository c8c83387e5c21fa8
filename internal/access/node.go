package access

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Node is what decides who may use one file or folder: owner, group, mode
// and ACL.
type Node struct {
	Path     string
	UID, GID uint32
	Perm     uint32 // the low 9 bits of the mode
	Dir      bool
	Dev, Ino uint64
	ACL      ACL // nil: none (or no ACL support)
	// Default is a folder's default ACL (nil: none).
	Default ACL
}

// StatNode reads a node without following a final symbolic link.
func StatNode(path string) (*Node, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	n := &Node{Path: path, UID: st.Uid, GID: st.Gid, Perm: st.Mode & 0o777, Dir: st.Mode&syscall.S_IFMT == syscall.S_IFDIR,
		Dev: uint64(st.Dev), Ino: st.Ino}
	if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return n, nil
	}
	var err error
	if n.ACL, err = ReadACL(path); err != nil {
		return nil, err
	}
	if n.Dir {
		if n.Default, err = readACL(path, XattrDefault); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// ReadACL reads the access ACL of path (not following a final symbolic
// link); nil when it has none or the filesystem keeps no ACLs.
func ReadACL(path string) (ACL, error) { return readACL(path, XattrAccess) }

// readACL reads and parses an ACL attribute; nil when the file has none or
// the filesystem keeps no ACLs.
func readACL(path, attr string) (ACL, error) {
	buf := make([]byte, 512)
	for {
		n, err := unix.Lgetxattr(path, attr, buf)
		switch {
		case errors.Is(err, unix.ERANGE):
			if len(buf) >= 1<<20 {
				return nil, fmt.Errorf("%s: %s: too large", path, attr)
			}
			buf = make([]byte, 4*len(buf))
			continue
		case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.EOPNOTSUPP):
			return nil, nil
		case err != nil:
			return nil, &os.PathError{Op: "getxattr " + attr, Path: path, Err: err}
		}
		a, err := ParseACL(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, attr, err)
		}
		return a, nil
	}
}

// ErrNoACLs: the filesystem keeps no POSIX ACLs.
var ErrNoACLs = errors.New("the filesystem keeps no POSIX ACLs")

// SetACLs gives the file or folder at path (checked to still be the node n, by
// device and inode, through a descriptor) the access ACL a and the default
// ACL def, each when not nil.
func SetACLs(n *Node, a, def ACL) error {
	flags := os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK | syscall.O_CLOEXEC
	if n.Dir {
		flags |= syscall.O_DIRECTORY
	}
	f, err := os.OpenFile(n.Path, flags, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if uint64(st.Dev) != n.Dev || st.Ino != n.Ino {
		return fmt.Errorf("%s changed since it was checked; run doctor again", n.Path)
	}
	set := func(attr string, acl ACL) error {
		err := unix.Fsetxattr(int(f.Fd()), attr, acl.Marshal(), 0)
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("%s: %w", n.Path, ErrNoACLs)
		}
		if err != nil {
			return &os.PathError{Op: "setxattr " + attr, Path: n.Path, Err: err}
		}
		return nil
	}
	if a != nil {
		if err := set(XattrAccess, a); err != nil {
			return err
		}
	}
	if def != nil {
		return set(XattrDefault, def)
	}
	return nil
}

// can is Can for n.
func (n *Node) can(who Who, want uint16) bool {
	return Can(who, n.UID, n.GID, n.Perm, n.ACL, want)
}
