package access

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// POSIX ACLs as Linux stores them in the system.posix_acl_access and
// system.posix_acl_default extended attributes: a little-endian u32 version
// (2), then 8-byte entries of u16 tag, u16 permission bits (r 4, w 2, x 1)
// and u32 id (a uid for TagUser, a gid for TagGroup, 0xffffffff otherwise),
// sorted by tag, then id.

// Entry tags.
const (
	TagUserObj  = 0x01 // the owner
	TagUser     = 0x02 // a named user
	TagGroupObj = 0x04 // the owning group
	TagGroup    = 0x08 // a named group
	TagMask     = 0x10 // the most a named entry or the owning group gets
	TagOther    = 0x20 // everyone else
)

// XattrAccess and XattrDefault are the extended attributes holding a file's
// ACL and a folder's default ACL (inherited by what is created in it).
const (
	XattrAccess  = "system.posix_acl_access"
	XattrDefault = "system.posix_acl_default"
)

const (
	aclVersion = 2
	noID       = 0xffffffff
	// maxEntries bounds a parsed ACL (the kernel's own limit is 32767 on
	// ext4; far fewer fit an xattr block).
	maxEntries = 1 << 13
)

// ErrBadACL: the bytes of an ACL attribute are not a valid ACL.
var ErrBadACL = errors.New("invalid POSIX ACL")

// Entry is one ACL entry.
type Entry struct {
	Tag  uint16
	Perm uint16 // r 4, w 2, x 1
	ID   uint32 // uid or gid of TagUser and TagGroup entries
}

// ACL is a POSIX ACL. A file without one behaves as the ACL of its mode
// (user_obj, group_obj, other).
type ACL []Entry

// ParseACL decodes an ACL attribute. It checks what the kernel checks: the
// version, whole entries, known tags and permission bits, exactly one
// user_obj, group_obj and other entry, a mask entry when there are named
// entries, and ids given once per tag.
func ParseACL(b []byte) (ACL, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a version and whole entries", ErrBadACL, len(b))
	}
	if v := binary.LittleEndian.Uint32(b); v != aclVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadACL, v, aclVersion)
	}
	n := (len(b) - 4) / 8
	if n > maxEntries {
		return nil, fmt.Errorf("%w: %d entries, more than %d", ErrBadACL, n, maxEntries)
	}
	a := make(ACL, n)
	for i := range a {
		e := b[4+8*i:]
		a[i] = Entry{Tag: binary.LittleEndian.Uint16(e), Perm: binary.LittleEndian.Uint16(e[2:]), ID: binary.LittleEndian.Uint32(e[4:])}
	}
	return a, a.validate()
}

func (a ACL) validate() error {
	count := map[uint16]int{}
	seen := map[[2]uint32]bool{}
	named := false
	for _, e := range a {
		if e.Perm&^7 != 0 {
			return fmt.Errorf("%w: permission bits %#x", ErrBadACL, e.Perm)
		}
		switch e.Tag {
		case TagUserObj, TagGroupObj, TagMask, TagOther:
			if count[e.Tag]++; count[e.Tag] > 1 {
				return fmt.Errorf("%w: %s given twice", ErrBadACL, tagName(e.Tag))
			}
		case TagUser, TagGroup:
			k := [2]uint32{uint32(e.Tag), e.ID}
			if seen[k] || e.ID == noID {
				return fmt.Errorf("%w: %s %d given twice or without an id", ErrBadACL, tagName(e.Tag), e.ID)
			}
			seen[k], named = true, true
		default:
			return fmt.Errorf("%w: unknown tag %#x", ErrBadACL, e.Tag)
		}
	}
	if count[TagUserObj] != 1 || count[TagGroupObj] != 1 || count[TagOther] != 1 {
		return fmt.Errorf("%w: want one user_obj, group_obj and other entry", ErrBadACL)
	}
	if named && count[TagMask] != 1 {
		return fmt.Errorf("%w: named entries without a mask", ErrBadACL)
	}
	return nil
}

// Marshal encodes the ACL in the attribute format, its entries sorted.
func (a ACL) Marshal() []byte {
	s := slices.Clone(a)
	slices.SortFunc(s, func(x, y Entry) int {
		if x.Tag != y.Tag {
			return int(x.Tag) - int(y.Tag)
		}
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	})
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range s {
		id := e.ID
		if e.Tag != TagUser && e.Tag != TagGroup {
			id = noID
		}
		b = binary.LittleEndian.AppendUint16(b, e.Tag)
		b = binary.LittleEndian.AppendUint16(b, e.Perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return b
}

// Named returns the named user and group entries.
func (a ACL) Named() []Entry {
	var out []Entry
	for _, e := range a {
		if e.Tag == TagUser || e.Tag == TagGroup {
			out = append(out, e)
		}
	}
	return out
}

func (a ACL) get(tag uint16) (Entry, bool) {
	for _, e := range a {
		if e.Tag == tag {
			return e, true
		}
	}
	return Entry{}, false
}

// String writes the ACL as getfacl's short form: "u::rwx,g:1001:r-x,m::r-x,o::---".
func (a ACL) String() string {
	var parts []string
	for _, e := range a {
		id := ""
		if e.Tag == TagUser || e.Tag == TagGroup {
			id = fmt.Sprint(e.ID)
		}
		parts = append(parts, fmt.Sprintf("%s:%s:%s", tagName(e.Tag)[:1], id, permString(e.Perm)))
	}
	return strings.Join(parts, ",")
}

func tagName(t uint16) string {
	return map[uint16]string{TagUserObj: "user_obj", TagUser: "user", TagGroupObj: "group_obj", TagGroup: "group", TagMask: "mask", TagOther: "other"}[t]
}

func permString(p uint16) string {
	b := []byte("---")
	for i, c := range "rwx" {
		if p&(4>>i) != 0 {
			b[i] = byte(c)
		}
	}
	return string(b)
}

// Who is a principal whose access is judged: a user (UID, no groups
// counted), a member of one group (UID -1, GIDs), or anyone (UID -1, no
// GIDs: the other entry).
type Who struct {
	UID  int
	GIDs []int
}

// Can reports whether who gets every bit of want (r 4, w 2, x 1) on a file
// of owner uid, group gid and mode perm (the low 9 bits) with ACL a (nil: none),
// by the kernel's rules (posix_acl_permission): root gets everything; the
// owner the owner bits; a named user its entry within the mask; a member of
// the owning group or of named groups the entries that match, within the
// mask; anyone else the other bits.
func Can(who Who, uid, gid uint32, perm uint32, a ACL, want uint16) bool {
	if who.UID == 0 {
		return true
	}
	if who.UID >= 0 && uint32(who.UID) == uid {
		return uint16(perm>>6)&want == want
	}
	mask := uint16(7)
	if m, ok := a.get(TagMask); ok {
		mask = m.Perm
	}
	for _, e := range a {
		if e.Tag == TagUser && who.UID >= 0 && uint32(who.UID) == e.ID {
			return e.Perm&mask&want == want
		}
	}
	matched := false
	if slices.Contains(who.GIDs, int(gid)) {
		matched = true
		g := uint16(perm>>3) & 7
		if e, ok := a.get(TagGroupObj); ok && a != nil {
			g = e.Perm & mask
		}
		if g&want == want {
			return true
		}
	}
	for _, e := range a {
		if e.Tag == TagGroup && slices.Contains(who.GIDs, int(e.ID)) {
			matched = true
			if e.Perm&mask&want == want {
				return true
			}
		}
	}
	if matched {
		return false
	}
	return uint16(perm)&7&want == want
}
