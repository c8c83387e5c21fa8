package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/ttsguard/ttsguard/internal/oci"
	"github.com/ttsguard/ttsguard/internal/oci/ocitest"
	"github.com/ttsguard/ttsguard/internal/store"
)

// ociHost is one host of a fleet: a policy (its store, the registry's
// certificate as ca_bundle, the registry as a source) run through Main.
type ociHost struct {
	t      *testing.T
	policy string
	store  string
}

func newOCIHost(t *testing.T, reg *ocitest.Registry, dir, name string) *ociHost {
	t.Helper()
	ca := filepath.Join(dir, "registry.pem")
	must(t, os.WriteFile(ca, reg.CertPEM(), 0o644))
	h := &ociHost{t: t, policy: filepath.Join(dir, name+".yaml"), store: filepath.Join(dir, name+"-store")}
	must(t, os.WriteFile(h.policy, []byte(fmt.Sprintf("version: 1\nstore: %s\nca_bundle: %s\nsources:\n  - oci://%s/models/\n", h.store, ca, reg.Host)), 0o600))
	return h
}

// run runs ttsguard with --policy and returns the exit code and output.
func (h *ociHost) run(args ...string) (int, string) {
	var out, errb bytes.Buffer
	args = append(args[:1:1], append([]string{"--policy", h.policy}, args[1:]...)...)
	code := Main(args, &out, &errb)
	return code, out.String() + errb.String()
}

func (h *ociHost) ok(args ...string) string {
	h.t.Helper()
	code, out := h.run(args...)
	if code != 0 {
		h.t.Fatalf("ttsguard %v: exit %d\n%s", args, code, out)
	}
	return out
}

// TestPushProvenanceAndOlderVersion: push attaches both model.sig and
// provenance.sig as referrers, and NAME@VERSION publishes an older stored
// version, not the current one.
func TestPushProvenanceAndOlderVersion(t *testing.T) {
	reg := ocitest.New(t, true)
	dir := t.TempDir()
	h := newOCIHost(t, reg, dir, "pub")
	st, err := store.Open(h.store)
	must(t, err)
	commit := func(weights string) *store.Version {
		m := filepath.Join(t.TempDir(), "m")
		must(t, os.Mkdir(m, 0o755))
		for n, b := range map[string]string{"config.json": `{"model":"vits"}`, "weights.txt": weights,
			"model.sig": `{"bundle":"sig ` + weights + `"}`, "provenance.sig": `{"bundle":"prov ` + weights + `"}`} {
			must(t, os.WriteFile(filepath.Join(m, n), []byte(b), 0o644))
		}
		var root string
		var out bytes.Buffer
		Main([]string{"digest", "--ignore-paths", "model.sig", "--ignore-paths", "provenance.sig", m}, &out, &out)
		if _, err := fmt.Sscan(out.String(), &root); err != nil || !strings.HasPrefix(root, "sha256:") {
			t.Fatalf("digest: %q", out.String())
		}
		v, err := st.Commit(context.Background(), "voice", m, root, store.Provenance{SignatureFile: "model.sig", AttestationFile: "provenance.sig"})
		must(t, err)
		return v
	}
	old := commit("one")
	cur := commit("two")
	if old.ID == cur.ID {
		t.Fatal("one version")
	}
	c, err := oci.New(oci.Options{TLS: reg.TLS, Credentials: auth.StaticCredential("", auth.EmptyCredential)})
	must(t, err)
	for _, tc := range []struct{ arg, tag, weights string }{{"voice", "cur", "two"}, {"voice@" + old.ID[:8], "old", "one"}} {
		out := h.ok("push", tc.arg, "oci://"+reg.Host+"/models/voice:"+tc.tag)
		for _, want := range []string{"model.sig", "provenance.sig"} {
			if !strings.Contains(out, want+" ") || !strings.Contains(out, "referrer sha256:") {
				t.Errorf("push %s: no %s referrer in\n%s", tc.arg, want, out)
			}
		}
		ref, err := oci.ParseRef("oci://" + reg.Host + "/models/voice:" + tc.tag)
		must(t, err)
		manifest, err := c.Resolve(t.Context(), ref)
		must(t, err)
		got := t.TempDir()
		f, err := c.Fetch(t.Context(), ref, manifest, got, 1<<20)
		must(t, err)
		if len(f.Bundles) != 2 {
			t.Errorf("push %s: referrers %v", tc.arg, f.Bundles)
		}
		for n, want := range map[string]string{"weights.txt": tc.weights, "model.sig": `{"bundle":"sig ` + tc.weights + `"}`, "provenance.sig": `{"bundle":"prov ` + tc.weights + `"}`} {
			if b, err := os.ReadFile(filepath.Join(got, n)); err != nil || string(b) != want {
				t.Errorf("push %s: %s is %q (%v), want %q", tc.arg, n, b, err, want)
			}
		}
	}
	if code, out := h.run("push", "voice@ffffffff", "oci://"+reg.Host+"/models/voice:none"); code == 0 || !strings.Contains(out, "no version") {
		t.Errorf("push of a version the store lacks: exit %d\n%s", code, out)
	}
}

// TestOCICredentialsCLI: push and pull through a registry that requires a
// login (basic authentication, or the bearer token flow), with the
// credentials of $DOCKER_CONFIG/config.json; a wrong password fails both
// with the registry's refusal. The credential (and the token) is in no
// output, and in no file of either store (the audit log included).
func TestOCICredentialsCLI(t *testing.T) {
	for _, token := range []bool{false, true} {
		t.Run(map[bool]string{false: "basic", true: "token"}[token], func(t *testing.T) { testOCICredentialsCLI(t, token) })
	}
}

func testOCICredentialsCLI(t *testing.T, token bool) {
	const user, password = "fleet", "s3cret-Pa55-cli-9e2"
	reg := ocitest.NewWith(t, ocitest.Options{Referrers: true, User: user, Password: password, Token: token})
	dir := t.TempDir()
	docker := filepath.Join(dir, "docker")
	must(t, os.Mkdir(docker, 0o700))
	t.Setenv("DOCKER_CONFIG", docker)
	login := func(pw string) {
		must(t, os.WriteFile(filepath.Join(docker, "config.json"), []byte(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`,
			reg.Host, base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))), 0o600))
	}
	pub, host := newOCIHost(t, reg, dir, "pub"), newOCIHost(t, reg, dir, "host")
	examples, _ := filepath.Abs("../../examples/tiny-vits")
	var outputs []string
	keep := func(s string) string { outputs = append(outputs, s); return s }
	keep(pub.ok("pull", "--name", "tiny", examples))
	dst := "oci://" + reg.Host + "/models/tiny:v1"

	login("wrong-password")
	for _, h := range []*ociHost{pub, host} {
		args := []string{"push", "tiny", dst}
		if h == host {
			args = []string{"pull", "--name", "tiny", dst}
		}
		code, out := h.run(args...)
		keep(out)
		if code == 0 || !strings.Contains(out, "401") {
			t.Errorf("%s with a wrong password: exit %d\n%s", args[0], code, out)
		}
	}
	login(password)
	keep(pub.ok("push", "tiny", dst))
	out := keep(host.ok("pull", "--name", "tiny", dst))
	if !strings.Contains(out, "pull OK") {
		t.Fatalf("pull: %s", out)
	}
	keep(host.ok("log", "show"))
	keep(pub.ok("log", "show"))

	secrets := []string{password, base64.StdEncoding.EncodeToString([]byte(user + ":" + password)), "wrong-password"}
	if reg.Token != "" {
		secrets = append(secrets, reg.Token)
	}
	for _, o := range outputs {
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("output shows a credential:\n%s", o)
			}
		}
	}
	for _, root := range []string{pub.store, host.store} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds a credential", p)
				}
			}
			return nil
		})
	}
}
