package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var (
	// accountName: a POSIX-style user or group name.
	accountName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]{0,31}$`)
	// accountID: a numeric user or group id.
	accountID = regexp.MustCompile(`^[0-9]{1,10}$`)
	// envName: an environment variable name.
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// RunEnvAlways are the environment variables `ttsguard run` always passes
// through (when set); LC_* means every name starting with "LC_".
var RunEnvAlways = []string{"PATH", "LANG", "LC_*"}

// RunEnvSet are the environment variables `ttsguard run` sets itself.
var RunEnvSet = []string{"HOME", "TMPDIR", "TTSGUARD_MODEL", "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "USER", "LOGNAME"}

var runKeys = []string{"user", "group", "allow_read", "env"}

func (ps *parser) run(p *Policy, n *yaml.Node) error {
	return ps.mapping(n, "run", runKeys, func(k string, _, vn *yaml.Node) error {
		var err error
		fk := join("run", k)
		switch k {
		case "user":
			if p.Run.User, err = ps.str(vn, fk); err == nil && p.Run.User != "" {
				err = ps.account(vn, fk, "user", p.Run.User)
			}
		case "group":
			if p.Run.Group, err = ps.str(vn, fk); err == nil && p.Run.Group != "" {
				err = ps.account(vn, fk, "group", p.Run.Group)
			}
		case "allow_read":
			var nodes []*yaml.Node
			if p.Run.AllowRead, nodes, err = ps.strList(vn, fk); err == nil {
				err = ps.allowRead(p.Run.AllowRead, nodes)
			}
		case "env":
			var nodes []*yaml.Node
			if p.Run.Env, nodes, err = ps.strList(vn, fk); err == nil {
				err = ps.envNames(p.Run.Env, nodes)
			}
		}
		return err
	})
}

// account checks a user or group: a name or a numeric id, not root.
func (ps *parser) account(n *yaml.Node, key, what, s string) error {
	if accountID.MatchString(s) {
		id, err := strconv.ParseUint(s, 10, 32)
		if err != nil || id >= 1<<32-1 {
			return ps.errf(n, key, "%s id %s is out of range", what, s)
		}
		if id == 0 {
			return ps.errf(n, key, "the command must not run as root (%s 0)", what)
		}
		return nil
	}
	if !accountName.MatchString(s) {
		return ps.errf(n, key, "invalid %s %q: want a name (letters, digits, '.', '_', '-', at most 32) or a numeric id", what, s)
	}
	if s == "root" {
		return ps.errf(n, key, "the command must not run as root (%s %q)", what, s)
	}
	return nil
}

func (ps *parser) allowRead(paths []string, nodes []*yaml.Node) error {
	seen := map[string]int{}
	for i, s := range paths {
		k := fmt.Sprintf("run.allow_read[%d]", i)
		switch {
		case s == "":
			return ps.errf(nodes[i], k, "empty path")
		case strings.Trim(s, "/") == "" || s == "~" || s == "~/":
			return ps.errf(nodes[i], k, "%q would allow reading every file", s)
		}
		if line, dup := seen[s]; dup {
			return ps.errf(nodes[i], k, "%q is listed twice (first on line %d)", s, line)
		}
		seen[s] = nodes[i].Line
		if err := ps.path(nodes[i], k, s); err != nil {
			return err
		}
	}
	return nil
}

func (ps *parser) envNames(names []string, nodes []*yaml.Node) error {
	seen := map[string]bool{}
	for i, s := range names {
		k := fmt.Sprintf("run.env[%d]", i)
		switch {
		case !envName.MatchString(s):
			return ps.errf(nodes[i], k, "%q is not an environment variable name", s)
		case contains(RunEnvSet, s):
			return ps.errf(nodes[i], k, "ttsguard sets %s itself", s)
		case s == "PATH" || s == "LANG" || strings.HasPrefix(s, "LC_"):
			return ps.errf(nodes[i], k, "%s is always passed", s)
		case seen[s]:
			return ps.errf(nodes[i], k, "%q is listed twice", s)
		}
		seen[s] = true
	}
	return nil
}
