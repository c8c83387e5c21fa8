//go:build linux && (amd64 || arm64)

package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestBuildEnv(t *testing.T) {
	env := buildEnv([]string{"PATH=/opt/bin:/usr/bin", "LANG=de_DE.UTF-8", "LC_TIME=C", "LCX=1", "SECRET=x", "TZ=UTC", "CUDA_VISIBLE_DEVICES=0", "=bad", "junk"},
		[]string{"TZ", "CUDA_VISIBLE_DEVICES", "UNSET"}, "/m", "/s")
	want := []string{"CUDA_VISIBLE_DEVICES=0", "HOME=/s", "LANG=de_DE.UTF-8", "LC_TIME=C", "PATH=/opt/bin:/usr/bin", "PYTHONNOUSERSITE=1", "PYTHONSAFEPATH=1", "TMPDIR=/s", "TTSGUARD_MODEL=/m", "TZ=UTC"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env\n got %q\nwant %q", env, want)
	}
	// HOME, TMPDIR and TTSGUARD_MODEL are never taken from outside.
	env = buildEnv([]string{"HOME=/root", "TMPDIR=/x", "TTSGUARD_MODEL=/evil", "PYTHONNOUSERSITE="}, []string{"HOME", "PYTHONNOUSERSITE"}, "/m", "/s")
	if want := []string{"HOME=/s", "PATH=/usr/local/bin:/usr/bin:/bin", "PYTHONNOUSERSITE=1", "PYTHONSAFEPATH=1", "TMPDIR=/s", "TTSGUARD_MODEL=/m"}; !reflect.DeepEqual(env, want) {
		t.Errorf("env %q", env)
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tts-server")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o644)
	if p, err := lookPath("tts-server", "relative:"+dir); err != nil || p != exe {
		t.Errorf("lookPath = %q %v", p, err)
	}
	for _, bad := range []string{"data", "missing"} {
		if _, err := lookPath(bad, dir); err == nil {
			t.Errorf("%s found", bad)
		}
	}
	if _, err := lookPath(filepath.Join(dir, "data"), ""); err == nil {
		t.Error("a non-executable path is accepted")
	}
	if p, err := lookPath(exe, ""); err != nil || p != exe {
		t.Errorf("absolute: %q %v", p, err)
	}
}

func TestInterpreterAndVenv(t *testing.T) {
	venv := t.TempDir()
	os.MkdirAll(filepath.Join(venv, "bin"), 0o755)
	os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644)
	script := filepath.Join(venv, "bin", "tts-server")
	os.WriteFile(script, []byte("#!"+venv+"/bin/python\n# -*- coding: utf-8 -*-\n"), 0o755)
	if got := interpreter(script, ""); got != venv+"/bin/python" {
		t.Errorf("interpreter = %q", got)
	}
	if got := venvRoot(script); got != venv {
		t.Errorf("venvRoot = %q", got)
	}
	if got := venvRoot("/usr/bin/python3"); got != "" {
		t.Errorf("venvRoot(/usr/bin/python3) = %q", got)
	}
	env := filepath.Join(venv, "envscript")
	os.WriteFile(env, []byte("#!/usr/bin/env sh\n"), 0o755)
	if got := interpreter(env, "/bin:/usr/bin"); got != "/bin/sh" && got != "/usr/bin/sh" {
		t.Errorf("env interpreter = %q", got)
	}
	if got := interpreter("/bin/true", "/bin"); got != "" {
		t.Errorf("binary interpreter = %q", got)
	}
}

func TestABILevels(t *testing.T) {
	if got := rightNames(handledFS(1)); len(got) != 13 || slices.Contains(got, "refer") {
		t.Errorf("ABI 1: %v", got)
	}
	if got := rightNames(handledFS(3)); !slices.Contains(got, "truncate") || slices.Contains(got, "ioctl_dev") {
		t.Errorf("ABI 3: %v", got)
	}
	if got := rightNames(handledFS(8)); len(got) != 16 {
		t.Errorf("ABI 8: %v", got)
	}
	if handledNet(3) != 0 || handledNet(4) == 0 || scopes(5) != 0 || scopes(6) == 0 {
		t.Error("net or scopes by ABI")
	}
	for abi, want := range map[int]int{0: 1, 1: 5, 3: 3, 4: 2, 5: 1, 6: 0, 7: 0, 9: 1} {
		if got := notEnforced(abi, "why"); len(got) != want {
			t.Errorf("ABI %d: %d not enforced, want %d: %q", abi, len(got), want, got)
		}
	}
	if got := notEnforced(0, "this kernel has no Landlock"); !strings.Contains(got[0], "this kernel has no Landlock") {
		t.Errorf("%q", got)
	}
}

func TestPreparePlan(t *testing.T) {
	model := t.TempDir()
	extra := t.TempDir()
	p, err := Prepare(Spec{Model: model, Command: []string{"true", "{model}/x"}, AllowRead: []string{extra}, Port: 5002,
		Environ: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Command[1] != model+"/x" || p.Path != "/usr/bin/true" && p.Path != "/bin/true" {
		t.Errorf("command %q %q", p.Command, p.Path)
	}
	rules := map[string][]string{}
	for _, r := range p.Landlock.Rules {
		rules[r.Path] = r.Access
	}
	if p.Landlock.Enforced {
		check := func(path string, want ...string) {
			t.Helper()
			if got := rules[path]; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %v, want %v", path, got, want)
			}
		}
		check(model, "read_file", "read_dir")
		check(extra, "execute", "read_file", "read_dir")
		check("/usr", "execute", "read_file", "read_dir")
		check("/proc/self/fd", "read_file", "read_dir")
		check("/proc/self/status", "read_file")
		for _, hidden := range []string{"/proc/self", "/proc/self/net", "/proc/self/mountinfo", "/proc/self/task", "/proc/self/exe"} {
			if a, ok := rules[hidden]; ok {
				t.Errorf("%s is readable: %v", hidden, a)
			}
		}
		if a := rules["<scratch>"]; slices.Contains(a, "execute") || !slices.Contains(a, "write_file") {
			t.Errorf("scratch: %v", a)
		}
		if a := rules["/dev/null"]; !slices.Contains(a, "write_file") || slices.Contains(a, "read_dir") {
			t.Errorf("/dev/null: %v", a)
		}
		if _, ok := rules["/etc"]; ok {
			t.Error("the whole of /etc is readable")
		}
		if p.Landlock.ABI >= 4 && (!reflect.DeepEqual(p.Landlock.BindTCP, []int{5002}) || len(p.Landlock.ConnectTCP) != 0) {
			t.Errorf("network %v %v", p.Landlock.BindTCP, p.Landlock.ConnectTCP)
		}
	}
	if !p.Seccomp.Enforced || !slices.Contains(p.Seccomp.DenyEPERM, "ptrace") || !slices.Contains(p.Seccomp.DenyEPERM, "connect") {
		t.Errorf("seccomp %+v", p.Seccomp)
	}
	if !p.NoNewPrivs || p.ParentDeath != "SIGKILL" || len(p.Signals) != 6 {
		t.Errorf("plan %+v", p)
	}
}

// TestPythonOutsideUsr (issue 15, item 2): a virtual environment built on a
// Python outside /usr (pyenv, uv, an /opt build) gets its base installation
// read and execute; so does a Python run from its own prefix (conda).
func TestPythonOutsideUsr(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "opt", "python3.11")
	for _, d := range []string{"bin", "lib/python3.11"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	os.WriteFile(filepath.Join(base, "lib", "python3.11", "os.py"), nil, 0o644)
	os.WriteFile(filepath.Join(base, "lib", "libpython3.11.so.1.0"), nil, 0o755)
	exe, _ := os.ReadFile("/bin/true")
	os.WriteFile(filepath.Join(base, "bin", "python3.11"), exe, 0o755)
	venv := filepath.Join(dir, "venv")
	os.MkdirAll(filepath.Join(venv, "bin"), 0o755)
	os.Symlink(filepath.Join(base, "bin", "python3.11"), filepath.Join(venv, "bin", "python3"))
	os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = "+filepath.Join(base, "bin")+"\ninclude-system-site-packages = false\nversion = 3.11.7\n"), 0o644)
	script := filepath.Join(venv, "bin", "tts-server")
	os.WriteFile(script, []byte("#!"+filepath.Join(venv, "bin", "python3")+"\n"), 0o755)
	if got := venvBase(venv); got != base {
		t.Errorf("venvBase = %q, want %q", got, base)
	}
	model := t.TempDir()
	rulesOf := func(cmd string) map[string][]string {
		t.Helper()
		p, err := Prepare(Spec{Model: model, Command: []string{cmd}})
		if err != nil {
			t.Fatal(err)
		}
		rules := map[string][]string{}
		for _, r := range p.Landlock.Rules {
			rules[r.Path] = r.Access
		}
		return rules
	}
	for _, cmd := range []string{script, filepath.Join(venv, "bin", "python3"), filepath.Join(base, "bin", "python3.11")} {
		rules := rulesOf(cmd)
		if a := rules[base]; !slices.Contains(a, "execute") || !slices.Contains(a, "read_file") {
			t.Errorf("%s: the base installation %s is not allowed: %v", cmd, base, rules)
		}
	}
	// A pyvenv.cfg whose home is a system path, or a folder without a
	// standard library, adds nothing.
	os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644)
	if got := venvBase(venv); got != "" {
		t.Errorf("venvBase with a system home = %q", got)
	}
	os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = "+filepath.Join(dir, "bin")+"\n"), 0o644)
	if got := venvBase(venv); got != "" {
		t.Errorf("venvBase without a standard library = %q", got)
	}
	if got := pythonPrefix("/usr/bin/python3.11"); got != "" {
		t.Errorf("pythonPrefix(/usr/bin/python3.11) = %q", got)
	}
}

// TestPrepareTraining: what ttsguard train asks of a plan: no model (then
// {model} is refused and $TTSGUARD_MODEL unset), read-only input files and
// folders (listed as declared inputs, read and not execute), and the Python
// the command runs on: a virtual environment's interpreter, or a system one.
func TestPrepareTraining(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte("{}"), 0o644)
	ds := filepath.Join(dir, "ds")
	os.Mkdir(ds, 0o755)
	out := filepath.Join(dir, "out")
	if _, err := Prepare(Spec{Command: []string{"true", "{model}/x"}}); !errors.Is(err, ErrSpec) {
		t.Errorf("{model} without a model: %v", err)
	}
	if _, err := Prepare(Spec{Command: []string{"true"}, ReadOnly: []string{cfg}, Inputs: []string{filepath.Join(dir, "missing")}}); !errors.Is(err, ErrSpec) {
		t.Errorf("a missing input: %v", err)
	}
	p, err := Prepare(Spec{Command: []string{"true"}, ReadOnly: []string{ds, cfg}, Inputs: []string{ds, cfg}, Output: out,
		Environ: []string{"PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Inputs, []string{ds, cfg}) || p.Model != "" || p.Python != nil {
		t.Errorf("plan: inputs %v model %q python %+v", p.Inputs, p.Model, p.Python)
	}
	for _, kv := range p.Env {
		if strings.HasPrefix(kv, EnvModel+"=") {
			t.Errorf("%s set without a model", kv)
		}
	}
	if p.Landlock.Enforced {
		for _, r := range p.Landlock.Rules {
			if (r.Path == ds || r.Path == cfg) && (slices.Contains(r.Access, "execute") || slices.Contains(r.Access, "write_file") || !strings.Contains(r.Why, "declared input")) {
				t.Errorf("%s: %v (%s)", r.Path, r.Access, r.Why)
			}
		}
	}
	// A virtual environment's python (a link to its base's interpreter).
	base := filepath.Join(dir, "base")
	for _, d := range []string{"bin", "lib/python3.11"} {
		os.MkdirAll(filepath.Join(base, d), 0o755)
	}
	os.WriteFile(filepath.Join(base, "lib", "python3.11", "os.py"), nil, 0o644)
	exe, _ := os.ReadFile("/bin/true")
	os.WriteFile(filepath.Join(base, "bin", "python3.11"), exe, 0o755)
	venv := filepath.Join(dir, "venv")
	os.MkdirAll(filepath.Join(venv, "bin"), 0o755)
	os.Symlink(filepath.Join(base, "bin", "python3.11"), filepath.Join(venv, "bin", "python"))
	os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = "+filepath.Join(base, "bin")+"\n"), 0o644)
	p, err = Prepare(Spec{Command: []string{filepath.Join(venv, "bin", "python"), "-m", "TTS.bin.train_tts"}})
	if err != nil {
		t.Fatal(err)
	}
	want := Python{Interpreter: filepath.Join(venv, "bin", "python"), Executable: filepath.Join(base, "bin", "python3.11"), Venv: venv, Prefix: base}
	if p.Python == nil || *p.Python != want {
		t.Errorf("venv python %+v, want %+v", p.Python, want)
	}
	// A script whose #! names that python.
	script := filepath.Join(dir, "train.py")
	os.WriteFile(script, []byte("#!"+filepath.Join(venv, "bin", "python")+"\n"), 0o755)
	if p, err = Prepare(Spec{Command: []string{script}}); err != nil || p.Python == nil || p.Python.Venv != venv {
		t.Errorf("script: %v %+v", err, p.Python)
	}
	// A system python: its prefix is the folder above bin/.
	if r, err := filepath.EvalSymlinks("/usr/bin/python3"); err == nil {
		p, err := Prepare(Spec{Command: []string{"/usr/bin/python3", "-c", "pass"}})
		if err != nil || p.Python == nil || p.Python.Prefix != "/usr" || p.Python.Executable != r || p.Python.Venv != "" {
			t.Errorf("system python: %v %+v", err, p.Python)
		}
	}
}
