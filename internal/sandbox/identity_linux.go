//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// resolveIdentity decides who the command runs as. Started as root, it is
// the policy's user and group (default nobody, and the store's group or
// nogroup), never root, with no supplementary groups. Started as another
// user, the command keeps that user; a requested user or group other than
// the current one is a Problem (Run refuses, Explain shows it).
func resolveIdentity(s Spec) (Identity, error) {
	id := Identity{Capabilities: "none: bounding, ambient, inheritable, permitted and effective sets cleared"}
	if os.Geteuid() != 0 {
		id.Capabilities = "none: ambient, inheritable, permitted and effective sets cleared (the bounding set " +
			"stays: only root can shrink it; no_new_privs keeps set-user-ID and file capabilities from granting any)"
		id.UID, id.GID = os.Geteuid(), os.Getegid()
		id.User, id.Group = userName(id.UID), groupName(id.GID)
		id.Supplemental = "unchanged (not started as root)"
		for _, want := range []struct{ what, name string }{{"user", s.User}, {"group", s.Group}} {
			if want.name == "" {
				continue
			}
			var same bool
			if want.what == "user" {
				u, err := lookupUser(want.name)
				same = err == nil && u == id.UID
			} else {
				g, err := lookupGroup(want.name)
				same = err == nil && g == id.GID
			}
			if !same {
				id.Problem = fmt.Sprintf("the policy's run.%s is %q: start ttsguard as root to switch to it", want.what, want.name)
			}
		}
		return id, nil
	}
	id.Change, id.Supplemental = true, "none"
	name := s.User
	if name == "" {
		name = "nobody"
	}
	uid, err := lookupUser(name)
	if err != nil {
		return id, fmt.Errorf("%w: serving user %q: %w", ErrSpec, name, err)
	}
	id.User, id.UID = name, uid
	group := s.Group
	switch {
	case group != "":
		id.GroupFrom = "the policy's run.group"
	case s.GroupFrom != "":
		var st syscall.Stat_t
		if err := syscall.Stat(s.GroupFrom, &st); err == nil && st.Gid != 0 {
			group = strconv.Itoa(int(st.Gid))
			id.GroupFrom = "the group of " + s.GroupFrom
		}
	}
	if group == "" {
		group, id.GroupFrom = "nogroup", "default"
		if _, err := user.LookupGroup(group); err != nil {
			group = "nobody"
		}
	}
	gid, err := lookupGroup(group)
	if err != nil {
		return id, fmt.Errorf("%w: serving group %q: %w", ErrSpec, group, err)
	}
	id.GID, id.Group = gid, groupName(gid)
	if id.UID == 0 || id.GID == 0 {
		return id, fmt.Errorf("%w: the serving user and group must not be root (%s:%s is %d:%d)", ErrSpec, name, group, id.UID, id.GID)
	}
	return id, nil
}

// lookupUser returns the uid of a user name or numeric id.
func lookupUser(s string) (int, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return int(n), nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(u.Uid)
}

// lookupGroup returns the gid of a group name or numeric id.
func lookupGroup(s string) (int, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return int(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(g.Gid)
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}
