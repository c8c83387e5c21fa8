package policy

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Roles of the access section.
const (
	RoleAdmins   = "admins"
	RoleAuditors = "auditors"
	RoleServers  = "servers"
)

// Access says who may run which commands (the access section; see
// docs/storage.md). Its zero value (no access section) checks no role: every
// user who can reach the store may run every command, as before roles.
type Access struct {
	// Set says the policy has an access section; only then are roles checked.
	Set bool
	// Admins pull, sign, update, rm, gc and repair; Auditors run audit, log,
	// check, ls and doctor; Servers only run the models run gives them (and
	// ask their path). Each entry is a Principal.
	Admins, Auditors, Servers []Principal
}

// Principal is one entry of a role: a group (the default) or a user, by name
// or numeric id.
type Principal struct {
	User bool   // a user ("user:NAME"); else a group ("NAME" or "group:NAME")
	Name string // a name or a numeric id
}

func (p Principal) String() string {
	if p.User {
		return "user:" + p.Name
	}
	return "group:" + p.Name
}

// ParsePrincipal reads an access entry: "NAME" or "group:NAME" (a group),
// "user:NAME" (a user); NAME is a name or a numeric id.
func ParsePrincipal(s string) (Principal, error) {
	p := Principal{Name: s}
	if n, ok := strings.CutPrefix(s, "user:"); ok {
		p = Principal{User: true, Name: n}
	} else if n, ok := strings.CutPrefix(s, "group:"); ok {
		p.Name = n
	}
	what := "group"
	if p.User {
		what = "user"
	}
	switch {
	case accountID.MatchString(p.Name):
		if id, err := strconv.ParseUint(p.Name, 10, 32); err != nil || id >= 1<<32-1 {
			return p, fmt.Errorf("%s id %s is out of range", what, p.Name)
		}
	case !accountName.MatchString(p.Name):
		return p, fmt.Errorf("invalid %s %q: want a name (letters, digits, '.', '_', '-', at most 32) or a numeric id, optionally after user: or group:", what, p.Name)
	}
	return p, nil
}

// Role returns the principals of a role by its name (RoleAdmins, ...).
func (a Access) Role(name string) []Principal {
	switch name {
	case RoleAdmins:
		return a.Admins
	case RoleAuditors:
		return a.Auditors
	case RoleServers:
		return a.Servers
	}
	return nil
}

var accessKeys = []string{RoleAdmins, RoleAuditors, RoleServers}

func (ps *parser) access(p *Policy, n *yaml.Node) error {
	p.Access.Set = true
	return ps.mapping(n, "access", accessKeys, func(k string, _, vn *yaml.Node) error {
		fk := join("access", k)
		list, nodes, err := ps.strList(vn, fk)
		if err != nil {
			return err
		}
		seen := map[Principal]bool{}
		out := make([]Principal, 0, len(list))
		for i, s := range list {
			pr, err := ParsePrincipal(s)
			if err != nil {
				return ps.errf(nodes[i], fmt.Sprintf("%s[%d]", fk, i), "%v", err)
			}
			if seen[pr] {
				return ps.errf(nodes[i], fmt.Sprintf("%s[%d]", fk, i), "%s is listed twice", pr)
			}
			seen[pr] = true
			out = append(out, pr)
		}
		switch k {
		case RoleAdmins:
			p.Access.Admins = out
		case RoleAuditors:
			p.Access.Auditors = out
		case RoleServers:
			p.Access.Servers = out
		}
		return nil
	})
}

type yamlAccess struct {
	Admins   []string `yaml:"admins" json:"admins"`
	Auditors []string `yaml:"auditors" json:"auditors"`
	Servers  []string `yaml:"servers" json:"servers"`
}

func marshalAccess(a Access) *yamlAccess {
	if !a.Set {
		return nil
	}
	names := func(ps []Principal) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.String())
		}
		return out
	}
	return &yamlAccess{Admins: names(a.Admins), Auditors: names(a.Auditors), Servers: names(a.Servers)}
}
