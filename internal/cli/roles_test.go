package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ttsguard/ttsguard/internal/access"
)

// TestRolesAsUsers runs ttsguard as users in and out of each role of the
// policy's access section (numeric ids that need no account entries) against
// a store pulled and repaired by root: each command is refused, naming the
// role it needs, or allowed; and the store's ACLs, set by doctor --fix, let
// exactly the role holders read the models.
func TestRolesAsUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs commands as other users")
	}
	dir, bin := usersDir(t, "ttsguard-roles-", "ttsguard-rc")
	examples, _ := filepath.Abs("../../examples")
	pol := filepath.Join(dir, "policy.yaml")
	must(t, os.WriteFile(pol, []byte(fmt.Sprintf(`version: 1
store: %s
access:
  admins: ['4250']
  auditors: [group:4251]
  servers: [user:4252]
`, filepath.Join(dir, "store"))), 0o644))

	type user struct {
		name string
		uid  uint32
		gids []uint32
	}
	var (
		root    = user{"root", 0, []uint32{0}}
		admin   = user{"admin", 4260, []uint32{4260, 4250}}
		auditor = user{"auditor", 4261, []uint32{4261, 4251}}
		server  = user{"server", 4252, []uint32{4252}}
		nobody  = user{"outsider", 4270, []uint32{4270}}
	)
	run := func(u user, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "ttsguard-rc"), append(args[:1:1], append([]string{"--policy", pol}, args[1:]...)...)...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=/usr/bin:/bin", "TTSGUARD_HOME=" + filepath.Join(dir, "store")}
		if u.uid != 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gids[0], Groups: u.gids[1:]}}
		}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v: %v\n%s", u.name, args, err, errb.String())
		}
		code := -1
		if i := strings.LastIndex(errb.String(), "exit code "); i >= 0 {
			fmt.Sscanf(errb.String()[i:], "exit code %d", &code)
		}
		return code, out.String(), errb.String()
	}
	expect := func(u user, code int, want string, args ...string) string {
		t.Helper()
		c, out, errs := run(u, args...)
		if c != code || !strings.Contains(out+errs, want) {
			t.Errorf("%s: ttsguard %s: exit %d, want %d with %q\nstdout: %s\nstderr: %s", u.name, strings.Join(args, " "), c, code, want, out, errs)
		}
		return out
	}

	// [0] the command and its arguments, then the exit code of each user
	// (root, admin, auditor, server, outsider); a refusal (1) must name the
	// role; 0 must succeed; -2 means "allowed by the role, refused by the
	// filesystem" (an unprivileged admin cannot write a root store).
	expect(root, 0, "pull OK", "pull", "--name", "tiny-vits", filepath.Join(examples, "tiny-vits"))

	// Before doctor --fix the store is root's and the serving group's only:
	// an auditor holds the role but the filesystem refuses it.
	c, _, errs := run(auditor, "ls")
	if c == 0 || strings.Contains(errs, "access denied") {
		t.Errorf("auditor ls before the ACLs: exit %d, %s", c, errs)
	}
	out := expect(root, 1, "access", "doctor")
	if !strings.Contains(out, "group:4251 (auditors) cannot read it") || !strings.Contains(out, "the ACL does not follow") {
		t.Errorf("doctor before --fix:\n%s", out)
	}
	expect(auditor, 1, "ttsguard doctor --fix needs the admins role", "doctor", "--fix")
	expect(root, 0, "doctor OK", "doctor", "--fix")

	denied := func(roles string) string { return "needs " + roles }
	table := []struct {
		args  []string
		codes [5]int
		need  string
	}{
		{[]string{"ls"}, [5]int{0, 0, 0, 1, 1}, denied("the admins role or the auditors role")},
		{[]string{"path", "tiny-vits"}, [5]int{0, 0, 0, 0, 1}, denied("the admins role or the auditors role or the servers role")},
		{[]string{"check", "tiny-vits"}, [5]int{0, 0, 0, 1, 1}, denied("the admins role or the auditors role")},
		{[]string{"log", "show"}, [5]int{0, 0, 0, 1, 1}, denied("the admins role or the auditors role")},
		{[]string{"log", "verify"}, [5]int{0, 0, 0, 1, 1}, denied("the admins role or the auditors role")},
		{[]string{"run", "tiny-vits", "--", "/bin/true"}, [5]int{0, 0, 1, 0, 1}, denied("the admins role or the servers role")},
		{[]string{"rm", "no-such-model"}, [5]int{2, -2, 1, 1, 1}, denied("the admins role")},
		{[]string{"gc"}, [5]int{0, -2, 1, 1, 1}, denied("the admins role")},
		{[]string{"pull", "--name", "x", filepath.Join(examples, "tiny-vits")}, [5]int{-2, -2, 1, 1, 1}, denied("the admins role")},
		{[]string{"doctor"}, [5]int{0, -2, -2, 1, 1}, denied("the admins role or the auditors role")},
	}
	users := []user{root, admin, auditor, server, nobody}
	for _, row := range table {
		for i, u := range users {
			want := row.codes[i]
			c, out, errs := run(u, row.args...)
			refusal := strings.Contains(errs, "access denied")
			switch {
			case want == 1:
				if c != 1 || !refusal || !strings.Contains(errs, row.need) || !strings.Contains(errs, "uid "+fmt.Sprint(u.uid)) {
					t.Errorf("%s: %v: exit %d, want a refusal naming %q:\n%s", u.name, row.args, c, row.need, errs)
				}
			case want == -2:
				if refusal {
					t.Errorf("%s: %v refused by role, want allowed:\n%s", u.name, row.args, errs)
				}
			default:
				if c != want || refusal {
					t.Errorf("%s: %v: exit %d, want %d\nstdout: %s\nstderr: %s", u.name, row.args, c, want, out, errs)
				}
			}
		}
	}

	// The effective access report names the role holders as readers, and
	// flags an ACL entry that gives write to someone else.
	var rep struct {
		Access struct {
			Targets []struct {
				What   string `json:"what"`
				Grants []struct {
					Subject struct{ Kind, Name string }
					Read    bool
					Write   bool
				} `json:"grants"`
			} `json:"targets"`
		} `json:"access"`
	}
	out = expect(root, 0, "", "doctor", "--json")
	must(t, json.Unmarshal([]byte(out), &rep))
	found := map[string]string{}
	for _, tg := range rep.Access.Targets {
		for _, g := range tg.Grants {
			found[tg.What+" "+g.Subject.Kind+":"+g.Subject.Name] = fmt.Sprintf("read=%v write=%v", g.Read, g.Write)
		}
	}
	for k, v := range map[string]string{
		"model tiny-vits group:4250": "read=true write=false",
		"model tiny-vits group:4251": "read=true write=false",
		"model tiny-vits user:4252":  "read=true write=false",
		"model tiny-vits user:root":  "read=true write=true",
		"policy user:root":           "read=true write=true",
	} {
		if found[k] != v {
			t.Errorf("access report %s: %q, want %q (all: %v)", k, found[k], v, found)
		}
	}
	if _, ok := found["model tiny-vits user:4270"]; ok {
		t.Errorf("outsider in the report: %v", found)
	}
	// setfacl's work, by hand: the outsider gets write on the model folder
	// and search on the folders above it.
	st := filepath.Join(dir, "store")
	md := filepath.Join(st, "models", "tiny-vits")
	for _, p := range []string{st, filepath.Join(st, "models"), md} {
		addACL(t, p, 4270, p == md)
	}
	out = expect(root, 1, "user:4270 can write it", "doctor")
	if !strings.Contains(out, "high") || !strings.Contains(out, "the ACL does not follow") {
		t.Errorf("stray writer not a high finding with acl findings:\n%s", out)
	}
	out = expect(root, 0, "doctor OK", "doctor", "--fix")
	if !strings.Contains(out, "fixed") {
		t.Errorf("doctor --fix fixed nothing:\n%s", out)
	}
	if n, err := access.StatNode(md); err != nil || strings.Contains(n.ACL.String(), "4270") {
		t.Errorf("after --fix: %v %v", n.ACL, err)
	}

	// Without an access section nobody but the owner opens the store, even
	// through the ACLs: as before roles.
	must(t, os.WriteFile(pol, []byte(fmt.Sprintf("version: 1\nstore: %s\n", st)), 0o644))
	for _, args := range [][]string{{"ls"}, {"path", "tiny-vits"}, {"run", "tiny-vits", "--", "/bin/true"}} {
		if c, _, errs := run(auditor, args...); c != 2 || !strings.Contains(errs, "not by this user") {
			t.Errorf("no access section: auditor %v: exit %d: %s", args, c, errs)
		}
	}
}

// addACL gives uid search (and, with write, write) on the folder p through
// a named ACL entry, as setfacl -m u:UID:rwx would.
func addACL(t *testing.T, p string, uid uint32, write bool) {
	t.Helper()
	n, err := access.StatNode(p)
	must(t, err)
	a := n.ACL
	if a == nil {
		a = access.ACL{{Tag: access.TagUserObj, Perm: uint16(n.Perm>>6) & 7}, {Tag: access.TagGroupObj, Perm: uint16(n.Perm>>3) & 7}, {Tag: access.TagOther, Perm: uint16(n.Perm) & 7}}
	}
	perm := uint16(5)
	if write {
		perm = 7
	}
	a = append(slices.DeleteFunc(slices.Clone(a), func(e access.Entry) bool { return e.Tag == access.TagMask }), access.Entry{Tag: access.TagUser, Perm: perm, ID: uid}, access.Entry{Tag: access.TagMask, Perm: 7})
	must(t, access.SetACLs(n, a, nil))
}

// usersDir makes a folder that other users can enter (removed after the
// test), with bin/NAME a copy of the test binary (TestMain runs it as
// ttsguard or ttsguard-rc).
func usersDir(t *testing.T, prefix, name string) (dir, bin string) {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	bin = filepath.Join(dir, "bin")
	must(t, os.Mkdir(bin, 0o755))
	self, err := os.Executable()
	must(t, err)
	copyFile(t, self, filepath.Join(bin, name), 0o755)
	return dir, bin
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	must(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, mode)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}
