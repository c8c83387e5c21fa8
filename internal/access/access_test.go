package access

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/policy"
)

// fakeResolver resolves the names of the test policies without the account
// databases.
func fakeResolver(p policy.Principal) (int, error) {
	ids := map[string]int{"user:alice": 1001, "user:bob": 1002, "group:ttsadmin": 2001, "group:ttsaudit": 2002, "group:ttsserve": 2003}
	if id, ok := ids[p.String()]; ok {
		return id, nil
	}
	return SystemResolver(p) // numeric ids
}

func parseAccess(t *testing.T, yaml string) policy.Access {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte("version: 1\n"+yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p.Access
}

func TestRequire(t *testing.T) {
	a := parseAccess(t, "access:\n  admins: [ttsadmin]\n  auditors: [group:ttsaudit, user:bob]\n  servers: [user:alice, '2003']\n")
	cases := []struct {
		name   string
		caller Caller
		cmd    string
		ok     bool
		need   string // in the error
	}{
		{"root pulls", Caller{UID: 0}, "pull", true, ""},
		{"admin group pulls", Caller{UID: 1500, GIDs: []int{1500, 2001}}, "pull", true, ""},
		{"admin reads the log", Caller{UID: 1500, GIDs: []int{2001}}, "log", true, ""},
		{"admin runs", Caller{UID: 1500, GIDs: []int{2001}}, "run", true, ""},
		{"auditor pulls", Caller{UID: 1500, GIDs: []int{2002}}, "pull", false, "needs the admins role"},
		{"auditor audits", Caller{UID: 1500, GIDs: []int{2002}}, "audit", true, ""},
		{"auditor by user", Caller{UID: 1002, GIDs: []int{1002}}, "check", true, ""},
		{"auditor runs", Caller{UID: 1002, GIDs: []int{1002}}, "run", false, "needs the admins role or the servers role"},
		{"auditor fixes", Caller{UID: 1002}, "doctor --fix", false, "needs the admins role"},
		{"auditor doctor", Caller{UID: 1002}, "doctor", true, ""},
		{"server runs", Caller{UID: 1001}, "run", true, ""},
		{"server group runs", Caller{UID: 1600, GIDs: []int{2003}}, "run", true, ""},
		{"server path", Caller{UID: 1001}, "path", true, ""},
		{"server lists", Caller{UID: 1001}, "ls", false, "needs the admins role or the auditors role"},
		{"server rm", Caller{UID: 1001}, "rm", false, "access.admins: [group:ttsadmin]"},
		{"outsider path", Caller{UID: 1700, GIDs: []int{1700}}, "path", false, "needs the admins role or the auditors role or the servers role"},
		{"user entry is not a gid", Caller{UID: 1700, GIDs: []int{1001}}, "run", false, "servers"},
		{"group entry is not a uid", Caller{UID: 2001, GIDs: []int{1700}}, "pull", false, "admins"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Require(a, c.caller, fakeResolver, c.cmd, CommandRoles(c.cmd)...)
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var de *DeniedError
			if !errors.As(err, &de) || !errors.Is(err, ErrDenied) {
				t.Fatalf("err %v, want a *DeniedError", err)
			}
			if !strings.Contains(err.Error(), c.need) || !strings.Contains(err.Error(), "ttsguard "+c.cmd) {
				t.Fatalf("error %q does not say %q", err, c.need)
			}
		})
	}
}

func TestNoAccessSectionAllowsAll(t *testing.T) {
	a := parseAccess(t, "")
	if a.Set {
		t.Fatal("no access section, yet Set")
	}
	for cmd := range commandRoles {
		if err := Require(a, Caller{UID: 4321, GIDs: []int{4321}}, fakeResolver, cmd, CommandRoles(cmd)...); err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
	}
	// An empty access section lets only root in.
	a = parseAccess(t, "access: {}\n")
	if err := Require(a, Caller{UID: 4321}, fakeResolver, "ls", CommandRoles("ls")...); err == nil {
		t.Error("empty access section: ls allowed to uid 4321")
	}
	if err := Check(a, "no such command"); err == nil {
		t.Error("unknown command allowed")
	}
}

func TestParseAccessErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"access:\n  admins: [root, root]\n", "listed twice"},
		{"access:\n  admins: ['bad name']\n", "access.admins[0]"},
		{"access:\n  owners: [x]\n", `unknown key "owners"`},
		{"access:\n  servers: [user:4294967295]\n", "out of range"},
		{"access: [x]\n", "want a mapping"},
	} {
		_, err := policy.Parse("p.yaml", []byte("version: 1\n"+c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.yaml, err, c.want)
		}
	}
	// Round trip through the effective policy.
	p, err := policy.Parse("p.yaml", []byte("version: 1\naccess:\n  admins: [ttsadmin]\n  servers: [user:alice]\n"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := policy.Parse("q.yaml", []byte(p.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, p)
	}
	if !q.Access.Set || len(q.Access.Admins) != 1 || q.Access.Servers[0] != (policy.Principal{User: true, Name: "alice"}) {
		t.Fatalf("round trip: %+v", q.Access)
	}
}

func TestACLRoundTrip(t *testing.T) {
	a := ACL{{Tag: TagOther, Perm: 0}, {Tag: TagGroup, Perm: 5, ID: 2002}, {Tag: TagUserObj, Perm: 7}, {Tag: TagMask, Perm: 5},
		{Tag: TagGroupObj, Perm: 5}, {Tag: TagUser, Perm: 4, ID: 1001}}
	b := a.Marshal()
	if len(b) != 4+8*len(a) || b[0] != 2 {
		t.Fatalf("encoding % x", b)
	}
	back, err := ParseACL(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := back.String(), "u::rwx,u:1001:r--,g::r-x,g:2002:r-x,m::r-x,o::---"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if !bytes.Equal(back.Marshal(), b) {
		t.Fatal("not stable")
	}
	bad := [][]byte{nil, {2, 0, 0}, {1, 0, 0, 0}, append(bytes.Clone(b), 1)}
	for _, x := range bad {
		if _, err := ParseACL(x); !errors.Is(err, ErrBadACL) {
			t.Errorf("% x: %v", x, err)
		}
	}
	for _, x := range []ACL{
		{{Tag: TagUserObj, Perm: 7}, {Tag: TagGroupObj}, {Tag: TagOther}, {Tag: TagUser, Perm: 7, ID: 5}},                      // named, no mask
		{{Tag: TagUserObj, Perm: 7}, {Tag: TagGroupObj}, {Tag: TagOther}, {Tag: TagOther}},                                     // other twice
		{{Tag: TagUserObj, Perm: 7}, {Tag: TagGroupObj}, {Tag: TagOther}, {Tag: 0x40}},                                         // unknown tag
		{{Tag: TagUserObj, Perm: 8}, {Tag: TagGroupObj}, {Tag: TagOther}},                                                      // bad perm
		{{Tag: TagUserObj}, {Tag: TagGroupObj}},                                                                                // no other
		{{Tag: TagUserObj}, {Tag: TagGroupObj}, {Tag: TagOther}, {Tag: TagMask}, {Tag: TagUser, ID: 5}, {Tag: TagUser, ID: 5}}, // id twice
	} {
		if _, err := ParseACL(x.Marshal()); !errors.Is(err, ErrBadACL) {
			t.Errorf("%s: %v", x, err)
		}
	}
}

func TestCan(t *testing.T) {
	acl := ACL{{Tag: TagUserObj, Perm: 7}, {Tag: TagUser, Perm: 7, ID: 1001}, {Tag: TagGroupObj, Perm: 0}, {Tag: TagGroup, Perm: 5, ID: 2002},
		{Tag: TagMask, Perm: 5}, {Tag: TagOther, Perm: 0}}
	cases := []struct {
		name string
		who  Who
		a    ACL
		perm uint32
		want uint16
		ok   bool
	}{
		{"root", Who{UID: 0}, nil, 0o000, 7, true},
		{"owner", Who{UID: 10}, nil, 0o500, 4, true},
		{"owner no write", Who{UID: 10}, nil, 0o577, 2, false}, // the owner never falls through to group or other
		{"group bits", Who{UID: -1, GIDs: []int{20}}, nil, 0o750, 5, true},
		{"group no write", Who{UID: -1, GIDs: []int{20}}, nil, 0o757, 2, false},
		{"other", Who{UID: -1}, nil, 0o705, 5, true},
		{"named user within mask", Who{UID: 1001}, acl, 0o750, 5, true},
		{"named user write masked", Who{UID: 1001}, acl, 0o750, 2, false},
		{"named group", Who{UID: -1, GIDs: []int{2002}}, acl, 0o750, 5, true},
		{"owning group of ACL gets group_obj, not the mask", Who{UID: -1, GIDs: []int{20}}, acl, 0o750, 4, false},
		{"matched group never falls to other", Who{UID: -1, GIDs: []int{20}}, ACL{{Tag: TagUserObj, Perm: 7}, {Tag: TagGroupObj, Perm: 0}, {Tag: TagOther, Perm: 7}}, 0o707, 4, false},
		{"stranger", Who{UID: 5000, GIDs: []int{5000}}, acl, 0o750, 1, false},
	}
	for _, c := range cases {
		if got := Can(c.who, 10, 20, c.perm, c.a, c.want); got != c.ok {
			t.Errorf("%s: %v, want %v", c.name, got, c.ok)
		}
	}
}

func node(path string, uid, gid, perm uint32, a ACL) *Node {
	return &Node{Path: path, UID: uid, GID: gid, Perm: perm, Dir: true, ACL: a}
}

func TestEffective(t *testing.T) {
	a := parseAccess(t, "access:\n  admins: [ttsadmin]\n  auditors: [ttsaudit]\n  servers: [user:alice]\n")
	r := Rules{Access: a, Resolve: fakeResolver, ServingUID: -1, ServingGID: 65534, Owner: 0}
	root := node("/s", 0, 65534, 0o750, nil)
	models := node("/s/models", 0, 65534, 0o750, nil)
	model := node("/s/models/m", 0, 65534, 0o750, nil)
	t0 := r.Effective("model m", []*Node{root, models, model})
	if len(t0.Unexpected) != 0 {
		t.Errorf("unexpected %v", t0.Unexpected)
	}
	if got := strings.Join(t0.Missing, "; "); !strings.Contains(got, "group:2001 (admins) cannot read it") || !strings.Contains(got, "user:1001 (servers) cannot read it") {
		t.Errorf("missing %q", got)
	}
	// With the ACLs Wanted gives, every role reads and nobody is missing.
	for _, n := range []*Node{root, models, model} {
		n.ACL = r.Wanted(n)
	}
	t1 := r.Effective("model m", []*Node{root, models, model})
	if len(t1.Missing)+len(t1.Unexpected) != 0 {
		t.Errorf("after ACLs: missing %v, unexpected %v", t1.Missing, t1.Unexpected)
	}
	readers := map[string]bool{}
	for _, s := range t1.Readers() {
		readers[s.String()] = true
	}
	for _, want := range []string{"group:2001", "group:2002", "user:1001"} {
		if !readers[want] {
			t.Errorf("%s cannot read: %v", want, t1.Readers())
		}
	}
	// A stray named entry: a user the roles do not list, who can write.
	for _, n := range []*Node{root, models, model} {
		n.ACL = append(n.ACL, Entry{Tag: TagUser, Perm: 5, ID: 3333})
	}
	model.ACL[len(model.ACL)-1].Perm = 7
	for i := range model.ACL {
		if model.ACL[i].Tag == TagMask {
			model.ACL[i].Perm = 7
		}
	}
	t2 := r.Effective("model m", []*Node{root, models, model})
	if got := strings.Join(t2.Unexpected, "; "); got != "user:3333 can write it" {
		t.Errorf("unexpected %q", got)
	}
	if w := r.Wanted(model); w.String() != r.Wanted(node("/x", 0, 65534, 0o750, nil)).String() {
		t.Errorf("Wanted keeps the stray entry: %s", w)
	}
	// Others bits open the models to anyone.
	t3 := r.Effective("model m", []*Node{node("/s", 0, 65534, 0o755, nil), node("/s/models", 0, 65534, 0o755, nil), node("/s/models/m", 0, 65534, 0o755, nil)})
	if got := strings.Join(t3.Unexpected, "; "); !strings.Contains(got, "anyone can read it") {
		t.Errorf("unexpected %q", got)
	}
}

// TestACLOnDisk sets the ACLs Wanted gives on a real folder and reads them
// back through the kernel.
func TestACLOnDisk(t *testing.T) {
	d := filepath.Join(t.TempDir(), "m")
	if err := os.Mkdir(d, 0o750); err != nil {
		t.Fatal(err)
	}
	n, err := StatNode(d)
	if err != nil {
		t.Fatal(err)
	}
	r := Rules{Access: parseAccess(t, "access:\n  auditors: ['4251']\n  servers: [user:4252]\n"), Resolve: fakeResolver, ServingUID: -1, ServingGID: -1, Owner: -1}
	want, def := r.Wanted(n), r.WantedDefault(n)
	if err := SetACLs(n, want, def); errors.Is(err, ErrNoACLs) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	back, err := StatNode(d)
	if err != nil {
		t.Fatal(err)
	}
	if !Same(back.ACL, want) || !Same(back.Default, def) {
		t.Fatalf("read back %s / %s, want %s / %s", back.ACL, back.Default, want, def)
	}
	if !back.can(Who{UID: 4252}, 5) || !back.can(Who{UID: -1, GIDs: []int{4251}}, 5) || back.can(Who{UID: 4253}, 1) {
		t.Fatalf("access by the ACL %s wrong", back.ACL)
	}
	// A folder created inside inherits the role entries.
	sub := filepath.Join(d, "sub")
	if err := os.Mkdir(sub, 0o750); err != nil {
		t.Fatal(err)
	}
	sn, err := StatNode(sub)
	if err != nil {
		t.Fatal(err)
	}
	if !sn.can(Who{UID: 4252}, 5) {
		t.Fatalf("inherited ACL %s does not let the server in", sn.ACL)
	}
	// A changed folder is refused.
	other := *n
	other.Ino++
	if err := SetACLs(&other, want, nil); err == nil {
		t.Fatal("SetACLs on a different inode succeeded")
	}
}

func FuzzParseACL(f *testing.F) {
	f.Add(ACL{{Tag: TagUserObj, Perm: 7}, {Tag: TagGroupObj, Perm: 5}, {Tag: TagOther}}.Marshal())
	f.Add(ACL{{Tag: TagUserObj, Perm: 7}, {Tag: TagGroup, Perm: 5, ID: 9}, {Tag: TagMask, Perm: 5}, {Tag: TagGroupObj, Perm: 5}, {Tag: TagOther}}.Marshal())
	f.Add([]byte{2, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseACL(b)
		if err != nil {
			return
		}
		// A valid ACL encodes to bytes that parse to the same ACL.
		back, err := ParseACL(a.Marshal())
		if err != nil || !Same(a, back) || back.String() == "" {
			t.Fatalf("round trip: %v", err)
		}
		_ = Can(Who{UID: 5, GIDs: []int{6}}, 1, 6, 0o750, a, 5)
	})
}

func TestEquivalentAndOnly(t *testing.T) {
	inherited := ACL{{Tag: TagUserObj, Perm: 6}, {Tag: TagGroupObj}, {Tag: TagGroup, Perm: 5, ID: 7}, {Tag: TagMask, Perm: 4}, {Tag: TagOther, Perm: 4}}
	set := ACL{{Tag: TagUserObj, Perm: 6}, {Tag: TagGroupObj}, {Tag: TagGroup, Perm: 4, ID: 7}, {Tag: TagMask, Perm: 4}, {Tag: TagOther, Perm: 4}}
	if !Equivalent(inherited, set) || Same(inherited, set) {
		t.Error("an entry beyond the mask is not equivalent to the masked one")
	}
	wider := slices.Clone(set)
	wider[3].Perm = 5
	if Equivalent(wider, set) {
		t.Error("a wider mask is equivalent")
	}
	// Only: the audit log's entries name admins and auditors, not servers;
	// a file's entries give read, not search.
	r := Rules{Access: parseAccess(t, "access:\n  admins: ['10']\n  auditors: ['11']\n  servers: [user:12]\n"), Resolve: fakeResolver, Only: []string{policy.RoleAdmins, policy.RoleAuditors}}
	got := r.Wanted(&Node{Perm: 0o600}).String()
	if got != "u::rw-,g::---,g:10:r--,g:11:r--,m::r--,o::---" {
		t.Errorf("log file ACL %s", got)
	}
}
