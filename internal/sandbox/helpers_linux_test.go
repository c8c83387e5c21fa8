//go:build linux && (amd64 || arm64)

package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/store"
)

// nogroup is the group the tests give the store, so that nobody can
// traverse its 0750 folders.
const nogroup = 65534

// openDir returns a fresh temporary folder that every user can traverse
// (t.TempDir makes 0700 folders), so that only the sandbox, not file
// modes, stands between the command and what it must not touch.
func openDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	// t.TempDir makes two levels: one folder per test, one per call.
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

var (
	probeOnce sync.Once
	probePath string
	probeErr  error
	probeDir  string
)

// buildProbe compiles internal/probe (static, no cgo) once per test binary.
func buildProbe(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			probeErr = err
			return
		}
		probeDir, probeErr = os.MkdirTemp("", "ttsguard-probe-")
		if probeErr != nil {
			return
		}
		os.Chmod(probeDir, 0o755)
		probePath = filepath.Join(probeDir, "probe")
		cmd := exec.Command(goTool, "build", "-buildvcs=false", "-o", probePath, "./internal/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = &buildError{err, string(out)}
		}
	})
	if probeErr != nil {
		t.Fatalf("build the probe: %v", probeErr)
	}
	return probePath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func TestMain(m *testing.M) {
	if spec := os.Getenv(envOperator); spec != "" {
		operatorMain(spec) // never returns
	}
	code := m.Run()
	if probeDir != "" {
		os.RemoveAll(probeDir)
	}
	os.Exit(code)
}

// testStore commits files as model name into a new store under dir and
// returns the store root and the version folder. With group >= 0 (and
// root) the store's folders get that group, as an operator would set up.
func testStore(t *testing.T, dir, name string, files map[string]string, group int) (root, model string) {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	// Version folders are 0555: only root could remove them as they are.
	t.Cleanup(func() {
		filepath.WalkDir(st.Root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	staged, cleanup, err := st.Stage()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	for n, data := range files {
		p := filepath.Join(staged, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := manifest.Build(context.Background(), staged, manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.Commit(context.Background(), name, staged, m.Root().String(), store.Provenance{Requested: name})
	if err != nil {
		t.Fatal(err)
	}
	if group >= 0 && os.Geteuid() == 0 {
		esc, _ := store.EscapeName(name)
		for _, p := range []string{st.Root, filepath.Join(st.Root, "models"), filepath.Join(st.Root, "models", esc)} {
			if err := os.Chown(p, -1, group); err != nil {
				t.Fatal(err)
			}
		}
	}
	return st.Root, v.Dir
}

// lines collects a command's output line by line.
type lines struct {
	w  *io.PipeWriter
	ch chan string
}

func newLines() *lines {
	r, w := io.Pipe()
	l := &lines{w: w, ch: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l.ch <- sc.Text()
		}
		close(l.ch)
	}()
	return l
}

// next returns the next line, failing after d.
func (l *lines) next(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case s, ok := <-l.ch:
		if !ok {
			t.Fatal("output ended")
		}
		return s
	case <-time.After(d):
		t.Fatal("no output within", d)
	}
	return ""
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, s)
	}
	return m
}

// envNames lists the names of an environment.
func envNames(env []any) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv.(string), "=")
		out = append(out, k)
	}
	return out
}
