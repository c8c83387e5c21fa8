package pull

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ttsguard/ttsguard/internal/oci"
	"github.com/ttsguard/ttsguard/internal/oci/ocitest"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

const (
	regUser     = "fleet"
	regPassword = "s3cret-Pa55-7f1c"
)

// dockerConfig writes $DOCKER_CONFIG/config.json with content and points
// DOCKER_CONFIG at it for the test.
func dockerConfig(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(content), 0o600))
	t.Setenv("DOCKER_CONFIG", dir)
	return dir
}

// noSecret fails when any of the texts holds the password or its encoded
// forms.
func noSecret(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, secret := range []string{regPassword, base64.StdEncoding.EncodeToString([]byte(regUser + ":" + regPassword))} {
			if strings.Contains(s, secret) {
				t.Errorf("%s shows the registry credential: %s", what, s)
			}
		}
	}
}

// TestPullOCICredentials: a registry that requires a login (HTTP basic
// authentication, or bearer tokens issued to a login: the Docker token
// flow) is reached with the credentials of the Docker configuration as OCI
// clients read it: an "auths" entry, or a credential helper (a
// docker-credential-NAME program on PATH) named by "credHelpers". Push
// (through the same client) and pull both work; wrong or missing
// credentials fail with an error that says the registry refused them; the
// credential appears in no result or error.
func TestPullOCICredentials(t *testing.T) {
	for _, token := range []bool{false, true} {
		t.Run(map[bool]string{false: "basic", true: "token"}[token], func(t *testing.T) { testPullOCICredentials(t, token) })
	}
}

func testPullOCICredentials(t *testing.T, token bool) {
	e := newOCIEnvWith(t, ocitest.Options{Referrers: true, User: regUser, Password: regPassword, Token: token}, "oci")
	basic := base64.StdEncoding.EncodeToString([]byte(regUser + ":" + regPassword))
	dockerConfig(t, fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, e.reg.Host, basic))

	// Push with the Docker configuration's credentials (the client ttsguard
	// push uses: no Credentials set).
	pub, err := oci.New(oci.Options{TLS: e.reg.TLS})
	must(t, err)
	e.c = pub
	pushed := e.publish(t, "v1", exampleFiles, true)

	r, err := e.pull(Options{}, e.src("v1"))
	if err != nil || r.OCI.Manifest != pushed.Manifest {
		t.Fatalf("pull with an auths entry: %v %+v", err, r)
	}
	out, _ := json.Marshal(r)
	noSecret(t, "the pull's result", string(out))

	// A credential helper.
	helpers := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n" +
		"printf '{\"ServerURL\":\"%s\",\"Username\":\"" + regUser + "\",\"Secret\":\"" + regPassword + "\"}' \"$server\"\n"
	must(t, os.WriteFile(filepath.Join(helpers, "docker-credential-ttsguardtest"), []byte(script), 0o755))
	t.Setenv("PATH", helpers+string(os.PathListSeparator)+os.Getenv("PATH"))
	dockerConfig(t, fmt.Sprintf(`{"credHelpers": {%q: "ttsguardtest"}}`, e.reg.Host))
	if r, err := e.pull(Options{Update: true}, e.src("v1")); err != nil || r.OCI.Manifest != pushed.Manifest {
		t.Fatalf("pull with a credential helper: %v %+v", err, r)
	}

	// Wrong password, no credentials, a helper that fails: refused, and
	// nothing stored or pinned beyond what was.
	wrong := base64.StdEncoding.EncodeToString([]byte(regUser + ":not-the-password"))
	for name, cfg := range map[string]string{
		"wrong password": fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, e.reg.Host, wrong),
		"no credentials": `{}`,
		"missing helper": fmt.Sprintf(`{"credHelpers": {%q: "nosuchhelper"}}`, e.reg.Host),
	} {
		dockerConfig(t, cfg)
		r, err := e.pull(Options{Update: true, Name: "other"}, e.src("v1"))
		if err == nil {
			t.Fatalf("%s: pulled", name)
		}
		msg := err.Error()
		if name != "missing helper" && !strings.Contains(msg, e.reg.Host) || name == "wrong password" && !strings.Contains(msg, "401") || name == "no credentials" && !strings.Contains(msg, "credential not found") && !strings.Contains(msg, "401") {
			t.Errorf("%s: the error does not say the registry refused the login: %v", name, err)
		}
		if name == "missing helper" && !strings.Contains(msg, "nosuchhelper") {
			t.Errorf("%s: the error does not name the helper: %v", name, err)
		}
		out, _ := json.Marshal(r)
		noSecret(t, name, msg, string(out))
		if strings.Contains(msg, "not-the-password") || strings.Contains(msg, wrong) {
			t.Errorf("%s: the error shows the credential tried: %v", name, err)
		}
		if err := store.Stored(filepath.Join(e.dir, "store"), "other"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: stored after a refused pull: %v", name, err)
		}
	}
}

// TestPullOCIPlainHTTP: a loopback registry without TLS is reached only
// through an oci+http:// source; under an oci:// source the same registry
// fails (TLS is required), and a plain-HTTP source for another host is not
// a valid policy.
func TestPullOCIPlainHTTP(t *testing.T) {
	e := newOCIEnvWith(t, ocitest.Options{Referrers: true, PlainHTTP: true}, "oci+http")
	pushed := e.publish(t, "v1", exampleFiles, true)
	r, err := e.pull(Options{}, e.src("v1"))
	if err != nil || r.OCI.Manifest != pushed.Manifest {
		t.Fatalf("pull over oci+http: %v %+v", err, r)
	}

	// The same registry under an oci:// source.
	pp := filepath.Join(e.dir, "tls.yaml")
	must(t, os.WriteFile(pp, []byte(fmt.Sprintf("version: 1\nstore: %s\nsources:\n  - oci://%s/models/\n", filepath.Join(e.dir, "store2"), e.reg.Host)), 0o600))
	pol, err := policy.Load(pp)
	must(t, err)
	_, err = Pull(t.Context(), Options{Policy: pol, Name: "tiny"}, []string{e.src("v1")})
	if err == nil || !strings.Contains(err.Error(), "HTTP response to HTTPS client") {
		t.Fatalf("a plain-HTTP registry under an oci:// source: %v", err)
	}

	// Plain HTTP to another host: the policy is refused, and the client
	// refuses it by itself too.
	for _, src := range []string{"oci+http://10.1.2.3:5000/models/", "oci+http://registry.example.test/models/"} {
		_, err := policy.Parse("p.yaml", []byte("version: 1\nsources:\n  - "+src+"\n"))
		if err == nil || !strings.Contains(err.Error(), "plain-HTTP registry is allowed only on 127.0.0.1") {
			t.Errorf("%s: %v", src, err)
		}
	}
	c, err := oci.New(oci.Options{PlainHTTP: true})
	must(t, err)
	ref, err := oci.ParseRef("oci://10.1.2.3:5000/models/tiny:v1")
	must(t, err)
	if _, err := c.Resolve(t.Context(), ref); !errors.Is(err, oci.ErrInvalid) || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("plain HTTP to 10.1.2.3: %v", err)
	}
}

// TestPullOCIOutage: the registry dies while a large blob streams. The pull
// fails cleanly (no pin, nothing stored, no staging folder left), and once
// the registry is back the same pull succeeds.
func TestPullOCIOutage(t *testing.T) {
	e := newOCIEnv(t, true)
	files := map[string][]byte{"config.json": exampleFiles["config.json"], "model_file.pth": exampleFiles["model_file.pth"],
		"notes.txt": bytes.Repeat([]byte("a long note\n"), 4<<20/12)}
	pushed := e.publish(t, "v1", files, true)
	var big string
	for d, f := range pushedFiles(t, e, pushed) {
		if f == "notes.txt" {
			big = d
		}
	}
	reached := e.reg.StallBlob(big, 1<<20)
	go func() { <-reached; e.reg.Close() }()
	r, err := e.pull(Options{}, e.src("v1"))
	if err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("pull through an outage: %v %+v", err, r)
	}
	if _, serr := os.Stat(filepath.Join(e.dir, "ttsguard.lock")); serr == nil {
		t.Error("a failed pull wrote the lock file")
	}
	root := filepath.Join(e.dir, "store")
	if err := store.Stored(root, "tiny"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stored after a failed pull: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "tmp")); len(left) != 0 {
		t.Errorf("staging left behind: %v", left)
	}

	must(t, e.reg.Restart())
	r, err = e.pull(Options{}, e.src("v1"))
	if err != nil || r.OCI.Manifest != pushed.Manifest || r.Pinned != "added" {
		t.Fatalf("pull after the outage: %v %+v", err, r)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "notes.txt"))
	if err != nil || !bytes.Equal(b, files["notes.txt"]) {
		t.Fatalf("notes.txt after the outage: %d bytes, %v", len(b), err)
	}
}

// pushedFiles maps the layer digests of a pushed manifest to file paths.
func pushedFiles(t *testing.T, e *ociEnv, pushed *oci.PushResult) map[string]string {
	t.Helper()
	ref, err := oci.ParseRef("oci://" + e.reg.Host + "/models/tiny@" + pushed.Manifest)
	must(t, err)
	f, err := e.c.Fetch(t.Context(), ref, pushed.Manifest, t.TempDir(), 1<<30)
	must(t, err)
	out := map[string]string{}
	for _, x := range f.Files {
		out[x.Desc.Digest.String()] = x.Path
	}
	return out
}
