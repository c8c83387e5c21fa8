//go:build linux && (amd64 || arm64)

package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/sandbox"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/store"
)

// runEnv is a policy and a store holding the example model as "tiny", in
// folders every user may traverse, the store's group nogroup (as an
// operator sets it up for a serving user).
type runEnv struct {
	dir, policy, model, script, secret string
}

func newRunEnv(t *testing.T) *runEnv {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3: the run tests start a Python server under the sandbox")
	}
	e := &runEnv{dir: t.TempDir()}
	for _, p := range []string{filepath.Dir(e.dir), e.dir} {
		os.Chmod(p, 0o755)
	}
	e.policy = filepath.Join(e.dir, "ttsguard.yaml")
	if err := os.WriteFile(e.policy, []byte("version: 1\nstore: store\nsources: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(e.policy)
	if err != nil {
		t.Fatal(err)
	}
	example, _ := filepath.Abs("../../examples/tiny-vits")
	r, err := pull.Pull(context.Background(), pull.Options{Policy: pol, Name: "tiny"}, []string{example})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	e.model = r.Dir // no chgrp: as root, pull creates the store ready for its serving group
	data, err := os.ReadFile("../sandbox/testdata/fake_tts_server.py")
	if err != nil {
		t.Fatal(err)
	}
	e.script = filepath.Join(e.dir, "bin", "tts-server")
	os.Mkdir(filepath.Dir(e.script), 0o755)
	if err := os.WriteFile(e.script, data, 0o755); err != nil {
		t.Fatal(err)
	}
	e.secret = filepath.Join(e.dir, "secret.txt")
	os.WriteFile(e.secret, []byte("secret"), 0o644)
	return e
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// execRun runs `ttsguard run ARGS` through newRunCmd; stdout goes to w.
func execRun(w io.Writer, stderr io.Writer, args ...string) error {
	g := &globals{stdout: w, stderr: stderr}
	for _, a := range args {
		if a == "--json" {
			g.json = true
		}
	}
	var rest []string
	for _, a := range args {
		if a != "--json" {
			rest = append(rest, a)
		}
	}
	c := newRunCmd(g)
	c.SetArgs(rest)
	c.SetOut(w)
	c.SetErr(stderr)
	c.SilenceUsage, c.SilenceErrors = true, true
	return c.ExecuteContext(context.Background())
}

// serveOnce runs args in the background, waits for "LISTENING", sends one
// synthesis request and returns the response and what run returned.
func serveOnce(t *testing.T, port int, args ...string) (*http.Response, []byte, error) {
	t.Helper()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- execRun(pw, &stderr, args...)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	lines := make(chan string, 16)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok || l != "LISTENING" {
			err := <-done
			t.Fatalf("server did not start: %q %v\n%s", l, err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start within a minute")
	}
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/tts", port), "text/plain", strings.NewReader("Hello, sandbox."))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	go io.Copy(io.Discard, pr)
	err = <-done
	if !strings.Contains(stderr.String(), "ttsguard: tiny verified; starting") {
		t.Errorf("stderr: %s", stderr.String())
	}
	return resp, body, err
}

func checkWAV(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || len(body) < 44 || string(body[:4]) != "RIFF" {
		t.Fatalf("response %d %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("X-Model-Family") != "vits" || resp.Header.Get("X-Cache") != "allowed" || !strings.HasPrefix(resp.Header.Get("X-Connect"), "denied") {
		t.Errorf("headers %v", resp.Header)
	}
	if uid, _ := strconv.Atoi(resp.Header.Get("X-Uid")); os.Geteuid() == 0 && (uid < sandbox.DynamicUIDs[0] || uid > sandbox.DynamicUIDs[1]) {
		t.Errorf("uid %s", resp.Header.Get("X-Uid"))
	}
}

// TestRunCommand: run checks the stored model and serves from it in the
// sandbox; {model} is replaced; a file outside the allowed paths stays
// unreadable.
func TestRunCommand(t *testing.T) {
	e := newRunEnv(t)
	port := freeTCPPort(t)
	resp, body, err := serveOnce(t, port, "--policy", e.policy, "--allow-read", filepath.Dir(e.script), "--port", strconv.Itoa(port),
		"tiny", "--", "/usr/bin/python3", e.script, "--model_path", "{model}/model_file.pth", "--config_path", "{model}/config.json",
		"--port", strconv.Itoa(port), "--forbidden", e.secret)
	if err != nil {
		t.Fatal(err)
	}
	checkWAV(t, resp, body)
	if !strings.HasPrefix(resp.Header.Get("X-Forbidden"), "denied") {
		t.Errorf("read outside: %s", resp.Header.Get("X-Forbidden"))
	}
	var got map[string]any
	json.Unmarshal([]byte(resp.Header.Get("X-Args")), &got)
	if got["model_path"] != filepath.Join(e.model, "model_file.pth") {
		t.Errorf("args %v", got)
	}
}

// TestRunTTSServer: --tts-server finds tts-server in PATH and builds its
// arguments from the model's layout.
func TestRunTTSServer(t *testing.T) {
	e := newRunEnv(t)
	t.Setenv("PATH", filepath.Dir(e.script)+":/usr/bin:/bin")
	port := freeTCPPort(t)
	resp, body, err := serveOnce(t, port, "--policy", e.policy, "tiny", "--tts-server", "--port", strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	checkWAV(t, resp, body)
	var got map[string]any
	json.Unmarshal([]byte(resp.Header.Get("X-Args")), &got)
	if got["model_path"] != filepath.Join(e.model, "model_file.pth") || got["config_path"] != filepath.Join(e.model, "config.json") || got["port"] != float64(port) {
		t.Errorf("tts-server args %v", got)
	}
	// Without --port, tts-server gets the default port and the sandbox lets
	// it bind exactly that one.
	var out bytes.Buffer
	if err := execRun(&out, io.Discard, "--policy", e.policy, "--explain", "--json", "tiny", "--tts-server"); err != nil {
		t.Fatal(err)
	}
	var plan struct {
		Sandbox struct {
			Command  []string `json:"command"`
			Landlock struct {
				BindTCP []int `json:"bind_tcp"`
			} `json:"landlock"`
		} `json:"sandbox"`
	}
	if err := json.Unmarshal(out.Bytes(), &plan); err != nil {
		t.Fatal(err)
	}
	def := strconv.Itoa(sandbox.DefaultTTSPort)
	if !slices.Equal(plan.Sandbox.Landlock.BindTCP, []int{sandbox.DefaultTTSPort}) || !strings.Contains(strings.Join(plan.Sandbox.Command, " "), "--port "+def) {
		t.Errorf("default port: bind %v, command %v", plan.Sandbox.Landlock.BindTCP, plan.Sandbox.Command)
	}
	// Without tts-server in PATH: a clear usage error.
	t.Setenv("PATH", "/nonexistent")
	err = execRun(io.Discard, io.Discard, "--policy", e.policy, "tiny", "--tts-server")
	if exitCode(err) != ExitUsage || !strings.Contains(fmt.Sprint(err), "tts-server is not in PATH") {
		t.Errorf("missing tts-server: %v", err)
	}
}

// TestRunRefusesTampered: a stored file changed after the commit fails the
// check and nothing starts.
func TestRunRefusesTampered(t *testing.T) {
	e := newRunEnv(t)
	p := filepath.Join(e.model, "config.json")
	os.Chmod(p, 0o644)
	data, _ := os.ReadFile(p)
	if err := os.WriteFile(p, bytes.Replace(data, []byte(`"vits"`), []byte(`"VITS"`), 1), 0o444); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := execRun(&out, io.Discard, "--policy", e.policy, "tiny", "--", "/bin/sh", "-c", "echo STARTED")
	if !errors.Is(err, pull.ErrGate) || exitCode(err) != ExitFailed {
		t.Fatalf("got %v (exit %d)", err, exitCode(err))
	}
	if strings.Contains(out.String(), "STARTED") || !strings.Contains(out.String(), "gate integrity FAILED") {
		t.Errorf("output:\n%s", out.String())
	}
	// The refused start is in the audit log.
	if l, err := audit.OpenLog(filepath.Join(e.dir, "store"), false); err != nil {
		t.Fatal(err)
	} else if recs, _, err := l.Records(); err != nil || len(recs) != 1 || recs[0].Command != "run" || recs[0].OK || !strings.HasPrefix(recs[0].Detail, "integrity: ") ||
		!strings.HasPrefix(recs[0].Verify, "full: ") {
		t.Errorf("audit log: %+v %v", recs, err)
	}
	// A config tts-server's arguments cannot be built from: still a failed
	// check, not a usage error.
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("{"), 0o444)
	t.Setenv("PATH", filepath.Dir(e.script)+":/usr/bin:/bin")
	err = execRun(io.Discard, io.Discard, "--policy", e.policy, "tiny", "--tts-server")
	if !errors.Is(err, pull.ErrGate) || exitCode(err) != ExitFailed {
		t.Fatalf("--tts-server on a broken config: %v (exit %d)", err, exitCode(err))
	}
}

// TestRunExitStatus: the command's exit status is passed through.
func TestRunExitStatus(t *testing.T) {
	e := newRunEnv(t)
	err := execRun(io.Discard, io.Discard, "--policy", e.policy, "tiny", "--", "/bin/sh", "-c", "exit 3")
	var es interface{ ExitCode() int }
	if !errors.As(err, &es) || es.ExitCode() != 3 {
		t.Errorf("exit 3: %v", err)
	}
	err = execRun(io.Discard, io.Discard, "--policy", e.policy, "tiny", "--", "/bin/sh", "-c", "kill -TERM $$")
	if !errors.As(err, &es) || es.ExitCode() != 143 {
		t.Errorf("SIGTERM: %v", err)
	}
	var out bytes.Buffer
	if err := execRun(&out, io.Discard, "--policy", e.policy, "tiny", "--", "/bin/sh", "-c", `echo "$TTSGUARD_MODEL {model}"`); err != nil {
		t.Fatal(err)
	}
	if want := e.model + " " + e.model + "\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	// Each start and each end is in the store's audit log.
	l, err := audit.OpenLog(filepath.Join(e.dir, "store"), false)
	if err != nil {
		t.Fatal(err)
	}
	recs, signed, err := l.Records()
	if err != nil || signed != int64(len(recs)) {
		t.Fatalf("%d records, %d signed: %v", len(recs), signed, err)
	}
	var got []string
	// Each start says how the model was verified: through the stat record
	// in a root-owned store, else in full and why.
	how := "fast: stat record matched"
	if os.Geteuid() != 0 {
		how = "full: the stat record does not count"
	}
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %v %s", r.Command, r.OK, r.Detail))
		if r.Command == "run" && !strings.HasPrefix(r.Verify, how) {
			t.Errorf("start event verify %q, want %q...", r.Verify, how)
		}
	}
	want := []string{
		"run true starting /bin/sh -c exit 3", "run-exit false exit status 3",
		"run true starting /bin/sh -c kill -TERM $$", "run-exit false exit status 143",
		`run true starting /bin/sh -c echo "$TTSGUARD_MODEL ` + e.model + `"`, "run-exit true exit status 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRunExplain prints the sandbox without checking or starting anything.
func TestRunExplain(t *testing.T) {
	e := newRunEnv(t)
	var out bytes.Buffer
	if err := execRun(&out, io.Discard, "--policy", e.policy, "--explain", "--port", "5002", "tiny", "--", "/bin/sh", "-c", "touch /tmp/started"); err != nil {
		t.Fatal(err)
	}
	wants := []string{"sandbox for tiny", "model:        " + e.model, "command:      /", "seccomp:", "ptrace", "TTSGUARD_MODEL=" + e.model, "HOME=<scratch>",
		// Issue 9: session, descriptors, socket families, limits, what ends descendants.
		"session:     a session of its own with no controlling terminal", "descriptors: only 0, 1 and 2",
		"EAFNOSUPPORT", "socket of a family other than AF_INET and AF_INET6", "ioctl TIOCSTI", "memfd_create", "execveat",
		"limits:       memory 32 GiB per process", "4096 processes", "files up to 1 GiB", "scratch 1 GiB", "no core dumps",
		"descendants:", "cgroup:"}
	if os.Geteuid() == 0 {
		wants = append(wants, "namespaces:  pid", "a fresh user id for this run")
	}
	for _, want := range wants {
		if !strings.Contains(out.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := execRun(&out, io.Discard, "--policy", e.policy, "--explain", "--json", "tiny"); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name    string `json:"name"`
		Sandbox struct {
			Model    string `json:"model"`
			Landlock struct {
				ABI   int `json:"abi"`
				Rules []struct {
					Path   string   `json:"path"`
					Access []string `json:"access"`
				} `json:"rules"`
			} `json:"landlock"`
			Seccomp struct {
				DenyEPERM []string `json:"deny_eperm"`
			} `json:"seccomp"`
		} `json:"sandbox"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got.Name != "tiny" || got.Sandbox.Model != e.model || len(got.Sandbox.Seccomp.DenyEPERM) == 0 {
		t.Errorf("json: %+v", got)
	}
}

func TestRunUsage(t *testing.T) {
	e := newRunEnv(t)
	for _, args := range [][]string{
		{"tiny"},
		{"tiny", "extra"},
		{"--", "/bin/true"},
		{"tiny", "other", "--", "/bin/true"},
		{"tiny", "--"},
		{"--host", "::1", "tiny", "--", "/bin/true"},
		{"--tts-server", "tiny", "--", "/bin/true"},
		{"--port", "70000", "tiny", "--", "/bin/true"},
		{"missing", "--", "/bin/true"},
		{"--allow-read", "/nonexistent-ttsguard", "tiny", "--", "/bin/true"},
	} {
		err := execRun(io.Discard, io.Discard, append([]string{"--policy", e.policy}, args...)...)
		if exitCode(err) != ExitUsage {
			t.Errorf("%q: %v (exit %d)", args, err, exitCode(err))
		}
	}
	if _, err := store.EscapeName("tiny"); err != nil {
		t.Fatal(err)
	}
}
