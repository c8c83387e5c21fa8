package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// helper runs the test binary as a helper process that commits model as
// name into the store at root; crashAt > 0 makes it SIGKILL itself at that
// durable step. It returns whether the process was killed, and its output.
func helper(t *testing.T, root, name, model string, crashAt int, stageIn string) (killed bool, out string, err error) {
	t.Helper()
	return runHelper("STORE="+root, "NAME="+name, "MODEL="+model, fmt.Sprintf("CRASH_AT=%d", crashAt), "STAGE_IN="+stageIn)
}

// runHelper runs the test binary as a helper process (helperEnv) with env
// added to this one's, and returns whether it was SIGKILLed (a crash at a
// durable step) and its output.
func runHelper(env ...string) (killed bool, out string, err error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"=1"), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, buf.String(), nil
		}
	}
	return false, buf.String(), err
}

// TestKill9 kills a committing process at every durable step in turn, then
// checks that the store shows either no new version or all of it, that Open
// cleans up, and that committing again succeeds.
func TestKill9(t *testing.T) {
	otherFS := ""
	if st1, st2 := statDev(t.TempDir()), statDev("/dev/shm"); st2 != 0 && st1 != st2 {
		otherFS = "/dev/shm"
	}
	for _, sc := range []struct {
		name    string
		before  [][2]string // commits made first: name, variant
		model   string      // committed by the helper as "tts_models/en/x/m"
		stageIn string
	}{
		{"first version", nil, "a", ""},
		{"new version", [][2]string{{"tts_models/en/x/m", "a"}, {"other", "b"}}, "a2", ""},
		{"staged on another filesystem", [][2]string{{"other", "b"}}, "a", otherFS},
	} {
		t.Run(sc.name, func(t *testing.T) {
			if sc.name == "staged on another filesystem" && otherFS == "" {
				t.Skip("no second filesystem (/dev/shm) to stage on")
			}
			const name = "tts_models/en/x/m"
			for n := 1; ; n++ {
				if n > 100 {
					t.Fatal("commit never completed")
				}
				s := openStore(t)
				oldRoot, others := "", map[string]string{}
				for _, b := range sc.before {
					v := commitVariant(t, s, b[0], b[1])
					if b[0] == name {
						oldRoot = v.Root
					} else {
						others[b[0]] = v.Root
					}
				}
				stage := ""
				if sc.stageIn != "" {
					var err error
					if stage, err = os.MkdirTemp(sc.stageIn, "ttsguard-test-"); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { removeTree(stage) })
				}
				killed, out, err := helper(t, s.Root, name, sc.model, n, stage)
				if err != nil {
					t.Fatalf("step %d: helper: %v\n%s", n, err, out)
				}
				checkAfterKill(t, s.Root, name, oldRoot, rootOfVariant(t, sc.model), others)
				if !killed {
					if !strings.HasPrefix(out, "steps=") || n < 8 {
						t.Fatalf("helper finished after %d steps: %q", n, out)
					}
					t.Logf("killed at each of %d durable steps", n-1)
					return
				}
			}
		})
	}
}

func statDev(p string) uint64 {
	var st syscall.Stat_t
	if syscall.Stat(p, &st) != nil {
		return 0
	}
	return uint64(st.Dev)
}

// checkAfterKill opens the store after a helper died and checks it: the
// model's current version is the old one (oldRoot, "" for none) or the new
// one (newRoot), complete; the other models are intact; nothing is left in
// tmp/; a retried commit succeeds; GC leaves a consistent store.
func checkAfterKill(t *testing.T, root, name, oldRoot, newRoot string, others map[string]string) {
	t.Helper()
	s, err := Open(root)
	if err != nil {
		t.Fatalf("Open after kill: %v", err)
	}
	if n := tmpEntries(t, s); len(n) != 0 {
		t.Errorf("tmp/ after Open: %v", n)
	}
	v, err := s.Get(name)
	switch {
	case errors.Is(err, ErrNotFound) && oldRoot == "":
	case err != nil:
		t.Fatalf("Get after kill: %v", err)
	case v.Root != oldRoot && v.Root != newRoot:
		t.Fatalf("current root %s, want %q or %s", v.Root, oldRoot, newRoot)
	}
	for other, r := range others {
		if v, err := s.Get(other); err != nil || v.Root != r {
			t.Errorf("model %q after kill: %v, %v", other, v, err)
		}
	}
	checkConsistent(t, s)
	v, err = tryCommit(s, name, variantOfRoot(t, newRoot), Provenance{})
	if err != nil || v.Root != newRoot {
		t.Fatalf("retried commit: %v, %v", v, err)
	}
	if _, _, err := s.GC(); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
}

func variantOfRoot(t *testing.T, root string) string {
	for _, m := range []string{"a", "a2", "b"} {
		if rootOfVariant(t, m) == root {
			return m
		}
	}
	t.Fatalf("no variant has root %s", root)
	return ""
}

// TestConcurrentCommitsGoroutines commits the same and different models from
// many goroutines, each with its own Store value on one root.
func TestConcurrentCommitsGoroutines(t *testing.T) {
	root := openStore(t).Root
	jobs := [][2]string{{"x", "a"}, {"x", "a2"}, {"x", "a"}, {"y", "b"}, {"y", "b"}, {"z", "a"}, {"z", "b"}, {"w", "a2"}}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root)
			if err == nil {
				_, err = tryCommit(s, j[0], j[1], Provenance{})
			}
			if err == nil && i%3 == 0 {
				_, _, err = s.GC()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("job %v: %v", jobs[i], err)
		}
	}
	s, _ := Open(root)
	list, err := s.List()
	if err != nil || len(list) != 4 {
		t.Fatalf("List: %v, %v", list, err)
	}
	checkConsistent(t, s)
}

// TestConcurrentCommitsProcesses does the same from separate processes.
func TestConcurrentCommitsProcesses(t *testing.T) {
	s := openStore(t)
	jobs := [][2]string{{"x", "a"}, {"x", "a2"}, {"y", "b"}, {"z", "a"}, {"x", "a"}, {"y", "b"}}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			killed, out, err := helper(t, s.Root, j[0], j[1], 0, "")
			if err != nil || killed {
				t.Errorf("process committing %v: %v\n%s", j, err, out)
			}
		}()
	}
	wg.Wait()
	list, err := s.List()
	if err != nil || len(list) != 3 {
		t.Fatalf("List: %v, %v", list, err)
	}
	if v, _ := s.Get("y"); v == nil || v.Root != rootOfVariant(t, "b") {
		t.Errorf("y: %v", v)
	}
	checkConsistent(t, s)
	if n := tmpEntries(t, s); len(n) != 0 {
		t.Errorf("tmp/: %v", n)
	}
}
