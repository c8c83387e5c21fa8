package access

import (
	"fmt"
	"os/user"
	"slices"
	"strconv"

	"github.com/ttsguard/ttsguard/internal/policy"
)

// Subject is someone the filesystem grants or refuses: a user, a group (a
// member holding only that group) or anyone (the other bits).
type Subject struct {
	Kind string `json:"kind"` // "user", "group" or "anyone"
	ID   int    `json:"id"`   // uid or gid; -1 for anyone
	Name string `json:"name"` // the account name when there is one, else the id
}

func (s Subject) String() string {
	if s.Kind == "anyone" {
		return "anyone"
	}
	return s.Kind + ":" + s.Name
}

func (s Subject) who() Who {
	switch s.Kind {
	case "user":
		return Who{UID: s.ID}
	case "group":
		return Who{UID: -1, GIDs: []int{s.ID}}
	}
	return Who{UID: -1}
}

func userSubject(uid int) Subject {
	s := Subject{Kind: "user", ID: uid, Name: strconv.Itoa(uid)}
	if u, err := user.LookupId(s.Name); err == nil {
		s.Name = u.Username
	}
	return s
}

func groupSubject(gid int) Subject {
	s := Subject{Kind: "group", ID: gid, Name: strconv.Itoa(gid)}
	if g, err := user.LookupGroupId(s.Name); err == nil {
		s.Name = g.Name
	}
	return s
}

// Rules say who may read and write the store: root, the roles of the
// policy's access section, and the serving user and group that `ttsguard
// run` gives the command.
type Rules struct {
	Access     policy.Access
	Resolve    Resolver
	ServingUID int // -1: unknown
	ServingGID int // -1: unknown
	Owner      int // the store's owner, who may read and write it; -1: unknown
	// Only, when set, limits the named ACL entries Wanted gives to these
	// roles (the audit log: admins and auditors, not servers).
	Only []string
}

// roles returns the roles that list the subject.
func (r Rules) roles(s Subject) []string {
	var out []string
	for _, role := range []string{policy.RoleAdmins, policy.RoleAuditors, policy.RoleServers} {
		for _, p := range r.Access.Role(role) {
			if id, err := r.Resolve(p); err == nil && id == s.ID && p.User == (s.Kind == "user") && s.Kind != "anyone" {
				out = append(out, role)
				break
			}
		}
	}
	return out
}

// MayRead reports whether the rules let the subject read the models: root,
// the store's owner, every role, the serving user and group; everyone when
// the policy has no access section.
func (r Rules) MayRead(s Subject) bool {
	switch {
	case !r.Access.Set, s.Kind == "user" && (s.ID == 0 || s.ID == r.Owner || s.ID == r.ServingUID), s.Kind == "group" && s.ID == r.ServingGID:
		return true
	}
	return len(r.roles(s)) > 0
}

// MayWrite reports whether the rules let the subject change the models or
// the policy: root, the store's owner and the admins.
func (r Rules) MayWrite(s Subject) bool {
	if s.Kind == "user" && (s.ID == 0 || s.ID == r.Owner) {
		return true
	}
	return r.Access.Set && slices.Contains(r.roles(s), policy.RoleAdmins)
}

// Grant is what one subject may do with a target.
type Grant struct {
	Subject Subject  `json:"subject"`
	Read    bool     `json:"read"`
	Write   bool     `json:"write"`
	Roles   []string `json:"roles,omitempty"` // the roles that list it
}

// Target is the effective access to one model (through every folder on its
// way) or to the policy file.
type Target struct {
	What   string  `json:"what"` // "model NAME" or "policy"
	Path   string  `json:"path"`
	Grants []Grant `json:"grants"` // every subject that can read or write it, or that a role lists
	// Unexpected are the subjects that can read or write it and the rules
	// do not allow to; Missing the role holders that cannot read it.
	Unexpected []string `json:"unexpected,omitempty"`
	Missing    []string `json:"missing,omitempty"`
}

// Readers and Writers list the subjects that can read and write the target.
func (t *Target) Readers() []Subject { return t.list(func(g Grant) bool { return g.Read }) }
func (t *Target) Writers() []Subject { return t.list(func(g Grant) bool { return g.Write }) }

func (t *Target) list(f func(Grant) bool) []Subject {
	var out []Subject
	for _, g := range t.Grants {
		if f(g) {
			out = append(out, g.Subject)
		}
	}
	return out
}

// subjects are every subject the chain names (owners, owning groups, named
// ACL entries), those the rules name (roles, serving user and group), root
// and anyone.
func (r Rules) subjects(chain []*Node) []Subject {
	var out []Subject
	seen := map[[2]int]bool{}
	add := func(s Subject) {
		k := [2]int{map[string]int{"user": 0, "group": 1, "anyone": 2}[s.Kind], s.ID}
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	add(userSubject(0))
	for _, n := range chain {
		add(userSubject(int(n.UID)))
		add(groupSubject(int(n.GID)))
		for _, e := range n.ACL.Named() {
			if e.Tag == TagUser {
				add(userSubject(int(e.ID)))
			} else {
				add(groupSubject(int(e.ID)))
			}
		}
	}
	for _, role := range []string{policy.RoleAdmins, policy.RoleAuditors, policy.RoleServers} {
		for _, p := range r.Access.Role(role) {
			if id, err := r.Resolve(p); err == nil {
				if p.User {
					add(userSubject(id))
				} else {
					add(groupSubject(id))
				}
			}
		}
	}
	if r.ServingUID > 0 {
		add(userSubject(r.ServingUID))
	}
	if r.ServingGID > 0 {
		add(groupSubject(r.ServingGID))
	}
	add(Subject{Kind: "anyone", ID: -1, Name: "anyone"})
	return out
}

// Effective judges a chain of nodes: the folders on the way (each must be
// searchable) and, last, the target. A subject reads the target when it can
// search every folder before it and read (and, for a folder, search) the
// target; it writes it when it can search its way to any node of the chain
// and change that node (write and search a folder, write a file, or own it:
// an owner can change the mode). what names the target.
func (r Rules) Effective(what string, chain []*Node) Target {
	t := Target{What: what, Path: chain[len(chain)-1].Path}
	for _, s := range r.subjects(chain) {
		g := Grant{Subject: s, Roles: r.roles(s)}
		w := s.who()
		reach := true
		for i, n := range chain {
			last := i == len(chain)-1
			if reach {
				write := uint16(2)
				if n.Dir {
					write = 3
				}
				if n.can(w, write) || (s.Kind == "user" && uint32(s.ID) == n.UID) {
					g.Write = true
				}
				if last {
					read := uint16(4)
					if n.Dir {
						read = 5
					}
					g.Read = n.can(w, read)
				}
			}
			reach = reach && n.can(w, 1)
		}
		if !g.Read && !g.Write && len(g.Roles) == 0 {
			continue
		}
		t.Grants = append(t.Grants, g)
		switch {
		case g.Write && !r.MayWrite(s):
			t.Unexpected = append(t.Unexpected, fmt.Sprintf("%s can write it", s))
		case g.Read && !r.MayRead(s):
			t.Unexpected = append(t.Unexpected, fmt.Sprintf("%s can read it", s))
		}
		if !g.Read && len(g.Roles) > 0 {
			t.Missing = append(t.Missing, fmt.Sprintf("%s (%s) cannot read it", s, g.Roles[0]))
		}
	}
	return t
}

// Wanted returns the ACL a store folder on the way to the models should
// have under the rules: its mode's owner, group and other bits, a named
// entry giving read and search to every role principal that resolves, and
// a mask that lets them through. It returns nil when nothing needs naming
// (no access section, or no principal resolves) and the folder has no ACL.
func (r Rules) Wanted(n *Node) ACL {
	a := ACL{{Tag: TagUserObj, Perm: uint16(n.Perm>>6) & 7}, {Tag: TagOther, Perm: uint16(n.Perm) & 7}}
	group := uint16(n.Perm>>3) & 7
	if e, ok := n.ACL.get(TagGroupObj); ok {
		group = e.Perm // with an ACL the mode's group bits are the mask
	}
	a = append(a, Entry{Tag: TagGroupObj, Perm: group})
	mask := group
	perm := uint16(5) // read and search
	if !n.Dir {
		perm = 4
	}
	seen := map[[2]uint32]bool{}
	for _, role := range []string{policy.RoleAdmins, policy.RoleAuditors, policy.RoleServers} {
		if r.Only != nil && !slices.Contains(r.Only, role) {
			continue
		}
		for _, p := range r.Access.Role(role) {
			id, err := r.Resolve(p)
			if err != nil || id == 0 {
				continue
			}
			tag := uint16(TagGroup)
			if p.User {
				tag = TagUser
			}
			if k := [2]uint32{uint32(tag), uint32(id)}; !seen[k] {
				seen[k] = true
				a = append(a, Entry{Tag: tag, Perm: perm, ID: uint32(id)})
				mask |= perm
			}
		}
	}
	if len(seen) == 0 {
		if n.ACL == nil {
			return nil
		}
		return sorted(a) // drop the named entries that are there
	}
	return sorted(append(a, Entry{Tag: TagMask, Perm: mask}))
}

// sorted returns a in the kernel's order (tag, then id).
func sorted(a ACL) ACL {
	out, err := ParseACL(a.Marshal())
	if err != nil {
		return a
	}
	return out
}

// WantedDefault is the default ACL of models/ under the rules, so that a
// model folder created in it gets the role entries too: read, write and
// search for the owner, read and search for the role principals and (as
// far as the folder gives it) the group, nothing for others; nil when
// Wanted names nobody.
func (r Rules) WantedDefault(n *Node) ACL {
	a := r.Wanted(n)
	if a.Named() == nil {
		return nil
	}
	g, _ := a.get(TagGroupObj)
	out := ACL{{Tag: TagUserObj, Perm: 7}, {Tag: TagGroupObj, Perm: g.Perm & 5}, {Tag: TagOther, Perm: 0}, {Tag: TagMask, Perm: 5}}
	return sorted(append(out, a.Named()...))
}

// Equivalent reports whether two ACLs grant the same: the same entries once
// each named entry and the owning group's are limited by the mask (an
// entry inherited from a default ACL may hold more than the mask lets
// through).
func Equivalent(a, b ACL) bool { return Same(effective(a), effective(b)) }

func effective(a ACL) ACL {
	m, ok := a.get(TagMask)
	if !ok {
		return a
	}
	out := slices.Clone(a)
	for i, e := range out {
		if e.Tag == TagUser || e.Tag == TagGroup || e.Tag == TagGroupObj {
			out[i].Perm &= m.Perm
		}
	}
	return out
}

// Same reports whether two ACLs hold the same entries.
func Same(a, b ACL) bool {
	return string(a.Marshal()) == string(b.Marshal()) || (len(a) == 0 && len(b) == 0)
}
