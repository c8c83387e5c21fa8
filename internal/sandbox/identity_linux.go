//go:build linux && (amd64 || arm64)

package sandbox

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// resolveIdentity decides who the command runs as. Started as root, it is
// the policy's user, or by default a fresh user id for this run (see
// DynamicUIDs), with the policy's group (default the store's group or
// nogroup), never root, with no supplementary groups. Started as another
// user, the command keeps that user; a requested user or group other than
// the current one is a Problem (Run refuses, Explain shows it), and so is
// being the owner of the store (the command could rewrite it).
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
		// A view's folder of links is the caller's by design: what counts
		// is the stored folder it stands for.
		for _, owned := range []string{s.GroupFrom, s.View.origin(s.Model)} {
			var st syscall.Stat_t
			if owned != "" && syscall.Stat(owned, &st) == nil && int(st.Uid) == id.UID {
				id.Problem = fmt.Sprintf("ttsguard runs as %s (uid %d), the owner of %s: the command would run as the same user and "+
					"could change the store, its models and the audit log key; start ttsguard as root (it switches to a fresh "+
					"serving user for each run)", id.User, id.UID, owned)
				break
			}
		}
		return id, nil
	}
	id.Change, id.Supplemental = true, "none"
	name := s.User
	if name == "" {
		id.Dynamic, id.User = true, "dynamic"
	} else {
		uid, err := lookupUser(name)
		if err != nil {
			return id, fmt.Errorf("%w: serving user %q: %w", ErrSpec, name, err)
		}
		id.User, id.UID = name, uid
	}
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
	if (id.UID == 0 && !id.Dynamic) || id.GID == 0 {
		return id, fmt.Errorf("%w: the serving user and group must not be root (%s:%s is %d:%d)", ErrSpec, id.User, group, id.UID, id.GID)
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

// DynamicUIDs is the range of user ids a run as root takes its serving user
// from when the policy names none: ids in no account database (checked),
// far above those of people, daemons, systemd's dynamic users
// (61184-65519) and the usual subordinate ranges of containers.
var DynamicUIDs = [2]int{0x7ff00000, 0x7ff0ffff}

// dynamicLockDir holds one lock file per user id in use by a run.
const dynamicLockDir = "/run/ttsguard/uids"

// dynamicUID picks a user id from DynamicUIDs that no account, no process
// and no other run holds, and locks it for this run: release removes the
// lock file and releases the lock (which ttsguard's death releases too).
// A lock taken on a file that another run removed meanwhile does not count
// (the path must still name the locked file).
func dynamicUID() (uid int, release func(), err error) {
	if err := os.MkdirAll(dynamicLockDir, 0o700); err != nil {
		return 0, nil, fmt.Errorf("dynamic user: %w", err)
	}
	n := DynamicUIDs[1] - DynamicUIDs[0] + 1
	start := int(uint32(os.Getpid())*2654435761) % n
	inUse := processUIDs()
	for i := 0; i < n; i++ {
		uid := DynamicUIDs[0] + (start+i)%n
		if inUse[uid] {
			continue
		}
		if _, err := user.LookupId(strconv.Itoa(uid)); err == nil {
			continue
		}
		f, err := os.OpenFile(fmt.Sprintf("%s/%d.lock", dynamicLockDir, uid), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return 0, nil, fmt.Errorf("dynamic user: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		held, err1 := f.Stat()
		named, err2 := os.Stat(f.Name())
		if err1 != nil || err2 != nil || !os.SameFile(held, named) {
			f.Close()
			continue
		}
		return uid, func() { os.Remove(f.Name()); f.Close() }, nil
	}
	return 0, nil, fmt.Errorf("dynamic user: every id from %d to %d is in use", DynamicUIDs[0], DynamicUIDs[1])
}

// processUIDs returns the real, effective, saved and file-system user ids
// of every process.
func processUIDs() map[int]bool {
	out := map[int]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
				for _, f := range strings.Fields(rest) {
					if id, err := strconv.Atoi(f); err == nil {
						out[id] = true
					}
				}
				break
			}
		}
	}
	return out
}
