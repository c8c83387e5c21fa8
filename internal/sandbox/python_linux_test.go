//go:build linux && (amd64 || arm64)

package sandbox

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// systemPython returns a Python 3 under /usr (the sandbox's system paths),
// or skips: interpreters under a home folder need --allow-read.
func systemPython(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "/usr/local/bin/python3"} {
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Skip("no python3 in /usr/bin or /usr/local/bin: the Python integration test needs one")
	return ""
}

// copyScript copies testdata/fake_tts_server.py into a folder every user may read.
func copyScript(t *testing.T) (dir, script string) {
	t.Helper()
	dir = openDir(t)
	data, err := os.ReadFile("testdata/fake_tts_server.py")
	if err != nil {
		t.Fatal(err)
	}
	script = filepath.Join(dir, "fake_tts_server.py")
	if err := os.WriteFile(script, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, script
}

// TestPythonServer: a Python HTTP server standing in for tts-server serves
// a synthesis request from inside the sandbox, reading the model but not
// a file outside it, and cannot connect out.
func TestPythonServer(t *testing.T) {
	py := systemPython(t)
	dir, script := copyScript(t)
	base := openDir(t)
	root, model := testStore(t, base, "tts_models/en/test/vits", modelFiles, nogroup)
	secret := filepath.Join(base, "secret.txt")
	os.WriteFile(secret, []byte("secret"), 0o644)
	port := freePort(t)
	p, err := Prepare(Spec{
		Model:     model,
		Command:   []string{py, script, "--model_path", "{model}/model_file.pth", "--config_path", "{model}/config.json", "--port", strconv.Itoa(port), "--forbidden", secret},
		AllowRead: []string{dir}, Port: port, GroupFrom: root,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := newLines()
	done := make(chan error, 1)
	go func() {
		code, err := Run(context.Background(), p, IO{Stdout: out.w, Stderr: os.Stderr})
		out.w.Close()
		if err == nil && code != 0 {
			err = &SetupError{Step: "exit", Msg: strconv.Itoa(code)}
		}
		done <- err
	}()
	if l := out.next(t, 60*time.Second); l != "LISTENING" {
		t.Fatalf("server: %s", l)
	}
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(port)+"/api/tts", "text/plain", strings.NewReader("Hello from ttsguard."))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Content-Type") != "audio/wav" || len(body) < 44 || string(body[:4]) != "RIFF" || string(body[8:12]) != "WAVE" {
		t.Fatalf("response %d %v %q", resp.StatusCode, h, body[:min(len(body), 16)])
	}
	if h.Get("X-Model-Family") != "vits" || h.Get("X-Model-Bytes") != "7" || h.Get("X-Cache") != "allowed" {
		t.Errorf("model or scratch: %v", h)
	}
	if !strings.HasPrefix(h.Get("X-Connect"), "denied") {
		t.Errorf("connect out: %s", h.Get("X-Connect"))
	}
	if p.Landlock.Enforced && !strings.HasPrefix(h.Get("X-Forbidden"), "denied") {
		t.Errorf("read outside: %s", h.Get("X-Forbidden"))
	}
	if uid, _ := strconv.Atoi(h.Get("X-Uid")); os.Geteuid() == 0 && !isDynamicUID(float64(uid)) {
		t.Errorf("uid %s", h.Get("X-Uid"))
	}
}
