//go:build linux && (amd64 || arm64)

package cli

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runEncUID is the user TestRunEncryptedWithoutRoot runs ttsguard as (a
// numeric id with no account entry).
const runEncUID = 4280

// TestRunEncryptedWithoutRoot is `run` of a model encrypted at rest by a
// server of the policy's access section who is not root and owns a copy of
// the identity file (the store is root's): the
// command reads the plaintext through a private folder of links to sealed
// memfds (/proc/self/fd/N), under Landlock and seccomp; a write through the
// reopened path fails; the stand-in tts-server loads the model from that
// folder. Afterwards the marker is in no file under the store, the run's
// temporary folder or /tmp, and the folder of links is gone. A caller who
// cannot open the identity file is refused with an error that names it.
func TestRunEncryptedWithoutRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a store owned by another user and runs ttsguard as that user")
	}
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir, bin := usersDir(t, "ttsguard-encuser-", "ttsguard")
	// language_ids.json: run gives a config copy that points at it (a
	// scratch file, which holds plaintext: a memfd too).
	pp, marker, modelDir := encryptedModel(t, dir, map[string]string{"language_ids.json": `{"en": 0}`})
	store := filepath.Join(dir, "store")
	// The user's own: the run's TMPDIR.
	tmp := filepath.Join(dir, "tmp")
	must(t, os.Mkdir(tmp, 0o700))
	data, err := os.ReadFile("../sandbox/testdata/fake_tts_server.py")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(bin, "tts-server"), data, 0o755))
	// The caller is a server of the policy's access section (the store is
	// root's, and doctor --fix gives servers read access) and owns a copy
	// of the identity.
	key, err := os.ReadFile(filepath.Join(dir, "store.key"))
	must(t, err)
	userKey := filepath.Join(dir, "user.key")
	must(t, os.WriteFile(userKey, key, 0o600))
	pol, err := os.ReadFile(pp)
	must(t, err)
	pol = bytes.Replace(pol, []byte("identity: store.key"), []byte("identity: user.key"), 1)
	pol = append(pol, fmt.Sprintf("access:\n  servers: [user:%d]\n", runEncUID)...)
	must(t, os.WriteFile(pp, pol, 0o644))
	for _, p := range []string{userKey, tmp} {
		must(t, os.Chown(p, runEncUID, runEncUID))
	}
	// (doctor also flags the identity the caller owns: exit 1.)
	var dout bytes.Buffer
	if code := Main([]string{"doctor", "--fix", "--policy", pp}, &dout, &dout); code != 1 || !strings.Contains(dout.String(), "fixed") {
		t.Fatalf("doctor --fix: exit %d\n%s", code, dout.String())
	}
	ttsguard := func(args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, "ttsguard"), args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + bin + ":/usr/bin:/bin", "TMPDIR=" + tmp}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: runEncUID, Gid: runEncUID}}
		return cmd
	}

	// A command reads the plaintext through {model} and {config}; a write
	// through the reopened path fails (the memfd is sealed).
	prog := `import hashlib,os,sys
cfg, mdl, copy = sys.argv[1:4]
print(open(cfg).read())
print("sha256", hashlib.sha256(open(mdl, "rb").read()).hexdigest())
print("model", os.path.dirname(mdl), "link", os.path.islink(mdl), os.readlink(mdl))
print("config copy has marker", sys.argv[4] in open(copy).read())
print("config copy", copy, os.path.islink(copy) and os.readlink(copy), os.path.dirname(mdl) in open(copy).read())
try:
    fd = os.open(mdl, os.O_RDWR)
    os.write(fd, b"x")
    print("write allowed")
except OSError as e:
    print("write refused", e.errno)
`
	cmd := ttsguard("run", "--policy", pp, "tiny", "--", py, "-c", prog, "{model}/config.json", "{model}/model_file.pth", "{config}", marker)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("run as uid %d: %v\n%s\n%s", runEncUID, err, out.String(), errb.String())
	}
	want, err := os.ReadFile("../../examples/tiny-vits/model_file.pth")
	must(t, err)
	h := sha256.Sum256(want)
	o := out.String()
	if i := strings.Index(o, "sha256 "); i >= 0 {
		t.Logf("the command's output (after the config):\n%s", o[i:])
	}
	if !strings.Contains(errb.String(), "Landlock ABI") {
		t.Errorf("the command did not run under Landlock: %s", errb.String())
	}
	if !strings.Contains(o, marker) || !strings.Contains(o, "sha256 "+hex.EncodeToString(h[:])) {
		t.Fatalf("the command did not read the plaintext:\n%s\n%s", o, errb.String())
	}
	if !strings.Contains(o, "config copy has marker True") {
		t.Errorf("{config} does not hold the plaintext config:\n%s", o)
	}
	if !regexp.MustCompile(`config copy /\S+/ttsguard-run-\w+/ttsguard-config.json /proc/self/fd/\d+ True\n`).MatchString(o) {
		t.Errorf("{config} is not a link to a memfd in the scratch folder whose paths name the folder of links:\n%s", o)
	}
	if !strings.Contains(o, "write refused 1\n") { // EPERM: F_SEAL_WRITE
		t.Errorf("a write through /proc/self/fd/N was not refused by the seal:\n%s", o)
	}
	var view string
	if _, err := fmt.Sscanf(o[strings.Index(o, "model /"):], "model %s link True /proc/self/fd/", &view); err != nil {
		t.Fatalf("the model file is not a link to /proc/self/fd/N: %v\n%s", err, o)
	}
	if !strings.HasPrefix(view, tmp+"/ttsguard-decrypted-") {
		t.Errorf("model folder %s: want a folder under the run's TMPDIR %s", view, tmp)
	}
	if _, err := os.Lstat(view); !os.IsNotExist(err) {
		t.Errorf("the folder of links %s is still there after the run: %v", view, err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("the run left %v in its TMPDIR", ents)
	}

	// tts-server (the stand-in) loads the model from the folder of links.
	port := freeTCPPort(t)
	cmd = ttsguard("run", "--policy", pp, "tiny", "--tts-server", "--port", strconv.Itoa(port))
	resp, body := serveCmd(t, cmd, port)
	if resp.StatusCode != 200 || string(body[:4]) != "RIFF" || resp.Header.Get("X-Model-Family") != "vits" {
		t.Fatalf("tts-server: %d %v", resp.StatusCode, resp.Header)
	}
	if args := resp.Header.Get("X-Args"); !strings.Contains(args, tmp+"/ttsguard-decrypted-") || strings.Contains(args, modelDir) {
		t.Errorf("tts-server args %s: want the folder of links, not the store's", args)
	}
	for _, d := range []string{store, tmp, "/tmp"} {
		if hits := grepFiles(d, marker); len(hits) > 0 {
			t.Errorf("after run, the plaintext is in %v", hits)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("tts-server's run left %v in its TMPDIR", ents)
	}

	// While the command runs the folder of links is there; a SIGTERM to
	// ttsguard stops the command and removes it. Meanwhile another process
	// of the same user cannot look into ttsguard's or the sandbox's first
	// stage's descriptors (both not dumpable), but can open the command's
	// (docs/storage.md says so).
	cmd = ttsguard("run", "--policy", pp, "tiny", "--", py, "-c", "import os, time; print('up', os.getpid(), os.getppid(), flush=True); time.sleep(120)")
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	var command, init int
	if _, err := fmt.Sscanf(line, "up %d %d\n", &command, &init); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the command did not start: %q", line)
	}
	if views, _ := filepath.Glob(filepath.Join(tmp, "ttsguard-decrypted-*")); len(views) != 1 {
		t.Errorf("while the command runs: %v, want one folder of links", views)
	}
	probe := exec.Command(py, "-c", `import sys
for pid in sys.argv[1:4]:
    try:
        print(pid, "fd", open("/proc/%s/fd/5" % pid).read().count(sys.argv[4]))
    except OSError as e:
        print(pid, "errno", e.errno)
`, strconv.Itoa(cmd.Process.Pid), strconv.Itoa(init), strconv.Itoa(command), marker)
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: runEncUID, Gid: runEncUID}}
	pout, err := probe.CombinedOutput()
	if err != nil {
		t.Errorf("probe: %v\n%s", err, pout)
	}
	wantProbe := fmt.Sprintf("%d errno 13\n%d errno 13\n%d fd 1\n", cmd.Process.Pid, init, command)
	if string(pout) != wantProbe {
		t.Errorf("another process of uid %d opening /proc/PID/fd/5 of ttsguard, the first stage and the command:\n%s\nwant\n%s", runEncUID, pout, wantProbe)
	}
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	if err := cmd.Wait(); err != nil {
		t.Errorf("a forwarded SIGTERM: %v, want a clean stop", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("a run stopped by SIGTERM left %v in its TMPDIR", ents)
	}

	// A caller who cannot open the identity file is refused, and nothing
	// is left behind.
	must(t, os.Chmod(userKey, 0))
	cmd = ttsguard("run", "--policy", pp, "tiny", "--", "/bin/true")
	errb.Reset()
	cmd.Stderr = &errb
	err = cmd.Run()
	t.Logf("refused: %s", errb.String())
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(errb.String(), "user.key") || !strings.Contains(errb.String(), "permission denied") {
		t.Errorf("run without the identity: %v: %s", err, errb.String())
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		t.Errorf("a refused run left %v in its TMPDIR", ents)
	}
}

// serveCmd starts cmd (a `ttsguard run --tts-server` with the stand-in),
// waits for its "LISTENING", sends one synthesis request, and waits for
// cmd to end.
func serveCmd(t *testing.T, cmd *exec.Cmd, port int) (*http.Response, []byte) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "LISTENING" {
		cmd.Wait()
		t.Fatalf("server did not start: %q\n%s", sc.Text(), stderr.String())
	}
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/tts", port), "text/plain", strings.NewReader("Hello, sandbox."))
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	io.Copy(io.Discard, stdout)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tts-server run: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("tts-server run did not end after its one request\n%s", stderr.String())
	}
	if len(body) < 4 {
		t.Fatalf("response %d: %q", resp.StatusCode, body)
	}
	return resp, body
}
