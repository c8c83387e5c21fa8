// Package access decides who may do what with the store: the roles of the
// policy's access section (admins, auditors, servers) that each command
// requires of its caller, and the effective access the filesystem grants to
// the store's models and the policy (owners, mode bits and POSIX ACLs), which
// doctor reports and repairs. See docs/storage.md.
package access

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/policy"
)

// ErrDenied is the category of every role refusal (*DeniedError wraps it).
var ErrDenied = errors.New("access denied")

// Caller is who runs a command: an effective uid and every group id it holds.
type Caller struct {
	UID  int
	GIDs []int
}

// Current is the calling process: its effective uid, its effective and real
// gids and its supplementary groups.
func Current() Caller {
	c := Caller{UID: os.Geteuid()}
	add := func(g int) {
		if !slices.Contains(c.GIDs, g) {
			c.GIDs = append(c.GIDs, g)
		}
	}
	add(os.Getegid())
	add(os.Getgid())
	if gs, err := os.Getgroups(); err == nil {
		for _, g := range gs {
			add(g)
		}
	}
	return c
}

func (c Caller) String() string {
	name := ""
	if u, err := user.LookupId(strconv.Itoa(c.UID)); err == nil {
		name = " (" + u.Username + ")"
	}
	gs := make([]string, len(c.GIDs))
	for i, g := range c.GIDs {
		gs[i] = strconv.Itoa(g)
	}
	return fmt.Sprintf("uid %d%s with groups [%s]", c.UID, name, strings.Join(gs, " "))
}

// Resolver turns the names of an access entry into ids. Lookup returns the
// id of a user (user true) or group name; a numeric name is its own id.
type Resolver func(p policy.Principal) (int, error)

// SystemResolver looks names up in the account databases (os/user).
func SystemResolver(p policy.Principal) (int, error) {
	if n, err := strconv.ParseUint(p.Name, 10, 32); err == nil {
		return int(n), nil
	}
	var id string
	if p.User {
		u, err := user.Lookup(p.Name)
		if err != nil {
			return -1, err
		}
		id = u.Uid
	} else {
		g, err := user.LookupGroup(p.Name)
		if err != nil {
			return -1, err
		}
		id = g.Gid
	}
	return strconv.Atoi(id)
}

// Holds reports whether the caller matches one of the principals: its uid is
// a listed user's, or one of its gids a listed group's. An entry whose name
// does not resolve matches nobody.
func (c Caller) Holds(ps []policy.Principal, resolve Resolver) bool {
	for _, p := range ps {
		id, err := resolve(p)
		if err != nil {
			continue
		}
		if (p.User && id == c.UID) || (!p.User && slices.Contains(c.GIDs, id)) {
			return true
		}
	}
	return false
}

// Roles returns the roles the caller holds under a: every role for root
// (uid 0) and, when the policy has no access section, for everyone.
func Roles(a policy.Access, c Caller, resolve Resolver) []string {
	all := []string{policy.RoleAdmins, policy.RoleAuditors, policy.RoleServers}
	if !a.Set || c.UID == 0 {
		return all
	}
	var out []string
	for _, r := range all {
		if c.Holds(a.Role(r), resolve) {
			out = append(out, r)
		}
	}
	return out
}

// DeniedError says that a command needs a role its caller does not hold.
type DeniedError struct {
	Command string   // "pull", "store rm", ...
	Need    []string // the roles any one of which would do
	Caller  Caller
	Listed  map[string][]policy.Principal // who holds each needed role
}

func (e *DeniedError) Error() string {
	var need, who []string
	for _, r := range e.Need {
		need = append(need, "the "+r+" role")
		var ps []string
		for _, p := range e.Listed[r] {
			ps = append(ps, p.String())
		}
		who = append(who, fmt.Sprintf("access.%s: [%s]", r, strings.Join(ps, ", ")))
	}
	return fmt.Sprintf("%v: ttsguard %s needs %s; %s holds none (%s)", ErrDenied, e.Command, strings.Join(need, " or "), e.Caller, strings.Join(who, "; "))
}

func (e *DeniedError) Unwrap() error { return ErrDenied }

// Require returns nil when the caller holds one of the roles need, else a
// *DeniedError naming the command, the roles and who holds them.
func Require(a policy.Access, c Caller, resolve Resolver, command string, need ...string) error {
	held := Roles(a, c, resolve)
	for _, r := range need {
		if slices.Contains(held, r) {
			return nil
		}
	}
	e := &DeniedError{Command: command, Need: need, Caller: c, Listed: map[string][]policy.Principal{}}
	for _, r := range need {
		e.Listed[r] = a.Role(r)
	}
	return e
}

// Commands and the roles any one of which they need. Admins may do
// everything; auditors read and check; servers only run models and ask
// their path.
var commandRoles = map[string][]string{
	"pull":          {policy.RoleAdmins},
	"lock update":   {policy.RoleAdmins},
	"update":        {policy.RoleAdmins},
	"rm":            {policy.RoleAdmins},
	"push":          {policy.RoleAdmins},
	"gc":            {policy.RoleAdmins},
	"doctor --fix":  {policy.RoleAdmins},
	"train":         {policy.RoleAdmins},
	"store encrypt": {policy.RoleAdmins},
	"store rekey":   {policy.RoleAdmins},
	"audit":         {policy.RoleAdmins, policy.RoleAuditors},
	"log":           {policy.RoleAdmins, policy.RoleAuditors},
	"check":         {policy.RoleAdmins, policy.RoleAuditors},
	"ls":            {policy.RoleAdmins, policy.RoleAuditors},
	"doctor":        {policy.RoleAdmins, policy.RoleAuditors},
	"inspect":       {policy.RoleAdmins, policy.RoleAuditors},
	"diff":          {policy.RoleAdmins, policy.RoleAuditors},
	"path":          {policy.RoleAdmins, policy.RoleAuditors, policy.RoleServers},
	"run":           {policy.RoleAdmins, policy.RoleServers},
}

// CommandRoles returns the roles any one of which command needs (nil for a
// command that needs none: it does not touch the store).
func CommandRoles(command string) []string { return commandRoles[command] }

// Check is Require with the command's roles from CommandRoles, for the
// calling process.
func Check(a policy.Access, command string) error {
	need := CommandRoles(command)
	if need == nil {
		return fmt.Errorf("access: unknown command %q", command) // a programming error: fail closed
	}
	return Require(a, Current(), SystemResolver, command, need...)
}
