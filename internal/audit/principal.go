package audit

import (
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// DefaultServingUser is the user the TTS server is assumed to run as when the
// policy names none.
const DefaultServingUser = "nobody"

// Principal is the user the TTS server runs as: its uid and every group id
// it may hold (primary, supplementary and the policy's run group). Counting
// supplementary groups errs on the safe side: `ttsguard run` drops them, a
// server started some other way keeps them.
type Principal struct {
	User string `json:"user"`
	UID  int    `json:"uid"`
	GIDs []int  `json:"gids"`
	// GID and Group are the group `ttsguard run` gives the command (the
	// serving group: the policy's run.group, else the store folder's group,
	// else nogroup); 0 and "" when unknown. The store's folders must let it
	// through (docs/doctor.md).
	GID    int    `json:"gid,omitempty"`
	Group  string `json:"group,omitempty"`
	Source string `json:"source"` // where the name came from: "policy run.user", "default", "option"
}

func (p *Principal) String() string {
	return fmt.Sprintf("%s (uid %d)", p.User, p.UID)
}

// canWrite reports whether p may write a file with owner uid, group gid and
// permission bits perm, by the Unix rule: the owner's bits when p owns it,
// else the group's when p is in its group, else the others' bits. Root
// writes everything.
func (p *Principal) canWrite(uid, gid uint32, perm uint32) bool {
	switch {
	case p.UID == 0:
		return true
	case int(uid) == p.UID:
		return perm&0o200 != 0
	case slices.Contains(p.GIDs, int(gid)):
		return perm&0o020 != 0
	}
	return perm&0o002 != 0
}

// LookupPrincipal resolves a user (name or numeric uid) and an optional group
// (name or numeric gid; "" = none besides the user's own) through os/user.
func LookupPrincipal(userName, groupName string) (*Principal, error) {
	p := &Principal{User: userName}
	add := func(s string) {
		if g, err := strconv.Atoi(s); err == nil {
			p.addGID(g)
		}
	}
	u, err := user.Lookup(userName)
	if err != nil {
		if n, nerr := strconv.ParseUint(userName, 10, 32); nerr == nil {
			// A numeric id needs no passwd entry (`ttsguard run` takes it as is).
			p.UID = int(n)
			if u, err = user.LookupId(userName); err != nil {
				u, err = nil, nil
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("serving user %q: %w", userName, err)
	}
	if u != nil {
		uid, err := strconv.Atoi(u.Uid)
		if err != nil {
			return nil, fmt.Errorf("serving user %q: uid %q is not a number", userName, u.Uid)
		}
		p.User, p.UID = u.Username, uid
		add(u.Gid)
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				add(id)
			}
		}
	}
	if groupName != "" {
		// A numeric id needs no group entry (`ttsguard run` takes it as is).
		gid, err := store.LookupServingGroup(groupName)
		if err != nil {
			return nil, err
		}
		p.addGID(gid)
	}
	return p, nil
}

// servingNames returns the serving user and group the policy's run section
// names (run.user and run.group), DefaultServingUser for an empty user, and
// whether the policy named either.
func servingNames(p *policy.Policy) (userName, groupName string, fromPolicy bool) {
	userName, groupName = p.Run.User, p.Run.Group
	fromPolicy = userName != "" || groupName != ""
	if userName == "" {
		userName = DefaultServingUser
	}
	return userName, groupName, fromPolicy
}

// defaultRunGroup is the group `ttsguard run` gives the command when the
// policy names none: the store folder's group, or nogroup (else nobody)
// when that is root's group or there is no store yet.
func defaultRunGroup(storeDir string) (int, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(storeDir, &st); err == nil && st.Gid != 0 {
		return int(st.Gid), true
	}
	if gid, err := store.LookupServingGroup(""); err == nil {
		return gid, true
	}
	return 0, false
}

// servingGroup is the serving group's gid: the policy's run.group (name),
// or defaultRunGroup; -1 when it cannot be resolved.
func servingGroup(name, storeDir string) int {
	if name != "" {
		gid, err := store.LookupServingGroup(name)
		if err != nil {
			return -1
		}
		return gid
	}
	if gid, ok := defaultRunGroup(storeDir); ok {
		return gid
	}
	return -1
}

// setGroup records the serving group (gid > 0) and counts it among p's groups.
func (p *Principal) setGroup(gid int) {
	if gid <= 0 {
		return
	}
	p.GID, p.Group = gid, strconv.Itoa(gid)
	if g, err := user.LookupGroupId(p.Group); err == nil {
		p.Group = g.Name
	}
	p.addGID(gid)
}

// canReach reports whether the command `ttsguard run` starts (p's uid and
// only its serving group: run drops every other group) may use a file
// with owner uid, group gid and permission bits perm in the way need says
// (bits of 0o7: read 4, write 2, execute/search 1), by the Unix rule.
func (p *Principal) canReach(uid, gid uint32, perm, need uint32) bool {
	switch {
	case p.UID == 0:
		return true
	case int(uid) == p.UID:
		return perm>>6&need == need
	case p.GID > 0 && int(gid) == p.GID:
		return perm>>3&need == need
	}
	return perm&need == need
}

// groupLabel is "name (gid N)", or "gid N" for an unknown group.
func groupLabel(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return fmt.Sprintf("%s (gid %s)", g.Name, id)
	}
	return "gid " + id
}

// addGID adds a group id to p's groups.
func (p *Principal) addGID(gid int) {
	if !slices.Contains(p.GIDs, gid) {
		p.GIDs = append(p.GIDs, gid)
		slices.Sort(p.GIDs)
	}
}
