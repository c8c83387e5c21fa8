package coqui

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakePython writes an executable python3 shell script into a new folder
// and puts that folder alone on $PATH.
func fakePython(t *testing.T, script string) string {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)
	return bin
}

func installCatalog(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "TTS", CatalogFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/models.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testFinder(globs ...string) finder {
	f := defaultFinder()
	f.timeout = 2 * time.Second
	f.globs = func() []string { return globs }
	return f
}

func TestFindInstalledCatalogPython(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	site := t.TempDir()
	want := installCatalog(t, site)
	cwdFile := filepath.Join(t.TempDir(), "cwd")
	fakePython(t, `pwd > `+cwdFile+`; case "$2" in *find_spec*) echo "`+want+`";; esac`)
	got, err := testFinder().find(context.Background())
	if err != nil || got != want {
		t.Fatalf("find = %q, %v; want %q", got, err, want)
	}
	// python ran in a private, empty folder that is gone now
	cwd, _ := os.ReadFile(cwdFile)
	dir := strings.TrimSpace(string(cwd))
	wd, _ := os.Getwd()
	if dir == "" || dir == wd || !strings.Contains(dir, "ttsguard-python-") {
		t.Errorf("python ran in %q", dir)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s was not removed", dir)
	}
	c, err := LoadCatalog(got)
	if err != nil || c.Len() == 0 {
		t.Errorf("LoadCatalog: %v", err)
	}
}

func TestFindInstalledCatalogGlobs(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	venv := t.TempDir()
	installCatalog(t, filepath.Join(venv, "lib/python3.9/site-packages"))
	newest := installCatalog(t, filepath.Join(venv, "lib/python3.12/site-packages"))
	glob := filepath.Join(venv, "lib/python3*/site-packages/TTS", CatalogFile)

	// python knows no TTS: the globs decide, newest Python first
	fakePython(t, `echo`)
	if got, err := testFinder(glob).find(context.Background()); err != nil || got != newest {
		t.Errorf("find = %q, %v; want %q", got, err, newest)
	}
	// python hangs: bounded, then the globs
	fakePython(t, `exec `+sleep+` 30`)
	start := time.Now()
	if got, err := testFinder(glob).find(context.Background()); err != nil || got != newest {
		t.Errorf("find = %q, %v; want %q", got, err, newest)
	}
	if d := time.Since(start); d > 10*time.Second || d < 2*time.Second {
		t.Errorf("a hanging python took %v; want the 2 s timeout", d)
	}
	// python answers nonsense: the globs
	fakePython(t, `echo relative/path`)
	if got, err := testFinder(glob).find(context.Background()); err != nil || got != newest {
		t.Errorf("find = %q, %v; want %q", got, err, newest)
	}
	// the default globs look in $VIRTUAL_ENV
	t.Setenv("VIRTUAL_ENV", venv)
	f := defaultFinder()
	f.timeout = 2 * time.Second
	if got, err := f.find(context.Background()); err != nil || got != newest {
		t.Errorf("default globs: %q, %v", got, err)
	}
}

func TestFindInstalledCatalogNone(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no python at all
	_, err := testFinder(filepath.Join(t.TempDir(), "*", CatalogFile)).find(context.Background())
	if err == nil || !errors.Is(err, ErrNoCatalog) || !strings.Contains(err.Error(), "--catalog FILE") {
		t.Errorf("none: %v", err)
	}
	if _, err := os.Stat("/bin/sh"); err != nil {
		return
	}
	fakePython(t, `exit 3`)
	_, err = testFinder().find(context.Background())
	if err == nil || err.Error() != "no coqui catalog found: no installed TTS package found (python3: exit status 3); pass coqui's catalog with --catalog FILE (TTS/.models.json from idiap/coqui-ai-TTS)" {
		t.Errorf("failing python: %v", err)
	}
}

func TestPythonMinor(t *testing.T) {
	for p, want := range map[string]int{"/v/lib/python3.12/site-packages/TTS/.models.json": 12, "/usr/lib/python3.9/x": 9, "/x": -1} {
		if got := pythonMinor(p); got != want {
			t.Errorf("pythonMinor(%q) = %d", p, got)
		}
	}
}
