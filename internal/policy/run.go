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
var RunEnvSet = []string{"HOME", "TMPDIR", "TTSGUARD_MODEL", "TTSGUARD_VOCODER", "TTSGUARD_OUTPUT", "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "USER", "LOGNAME"}

var runKeys = []string{"user", "group", "allow_read", "env", "limits", "gpu", "verify"}

// Values of run.verify: how `check`, `run` and `audit --quick` verify a
// stored model's files.
const (
	// VerifyFast skips re-hashing files that the store's stat record proves
	// unchanged since they were hashed (the default).
	VerifyFast = "fast"
	// VerifyFull re-hashes every file every time.
	VerifyFull = "full"
)

// Unlimited is a RunLimits value that lifts a limit ("unlimited" in YAML).
const Unlimited = -1

// RunLimits are the resource limits of `ttsguard run`'s command: 0 means
// the default (docs/policy.md), Unlimited no limit, else bytes or a count.
type RunLimits struct {
	Memory    int64 // address space of each process, bytes
	Processes int64 // processes and threads of the serving user
	FileSize  int64 // largest file the command may write, bytes
	OpenFiles int64 // open descriptors of each process
	Scratch   int64 // size of the private scratch folder, bytes
}

var limitKeys = []string{"memory", "processes", "file_size", "open_files", "scratch"}

// sizeUnits are the suffixes a size may carry (IEC, powers of 1024).
var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}

// parseLimit reads "unlimited", a count, or (when size) a number of bytes
// with an optional KiB, MiB, GiB or TiB suffix; 0 is refused (write
// "unlimited" to lift a limit).
func parseLimit(s string, size bool) (int64, error) {
	if s == "unlimited" {
		return Unlimited, nil
	}
	num, shift := s, uint(0)
	if size {
		for _, u := range sizeUnits {
			if n, ok := strings.CutSuffix(s, u.suffix); ok {
				num, shift = strings.TrimSpace(n), u.shift
				break
			}
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err != nil || n < 0:
		if size {
			return 0, fmt.Errorf("%q: want a positive number of bytes (with KiB, MiB, GiB or TiB) or unlimited", s)
		}
		return 0, fmt.Errorf("%q: want a positive number or unlimited", s)
	case n == 0:
		return 0, fmt.Errorf("0 would forbid everything; write unlimited to lift the limit")
	case n > (1<<62)>>shift:
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}

func (ps *parser) limits(p *Policy, n *yaml.Node) error {
	return ps.mapping(n, "run.limits", limitKeys, func(k string, _, vn *yaml.Node) error {
		fk := join("run.limits", k)
		if vn.Kind != yaml.ScalarNode {
			return ps.wantType(vn, fk, "a number, a size or unlimited")
		}
		l := &p.Run.Limits
		target := map[string]*int64{"memory": &l.Memory, "processes": &l.Processes, "file_size": &l.FileSize,
			"open_files": &l.OpenFiles, "scratch": &l.Scratch}[k]
		v, err := parseLimit(vn.Value, k == "memory" || k == "file_size" || k == "scratch")
		if err != nil {
			return ps.errf(vn, fk, "%v", err)
		}
		*target = v
		return nil
	})
}

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
		case "limits":
			err = ps.limits(p, vn)
		case "gpu":
			p.Run.GPU, err = ps.boolean(vn, fk)
		case "verify":
			if p.Run.Verify, err = ps.str(vn, fk); err == nil && p.Run.Verify != VerifyFast && p.Run.Verify != VerifyFull {
				err = ps.errf(vn, fk, "%q: want fast or full", p.Run.Verify)
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
