package coqui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ErrNoCatalog says that no installed coqui catalog was found.
var ErrNoCatalog = errors.New("no coqui catalog found")

// CatalogFile is the catalog's name inside the TTS package folder.
const CatalogFile = ".models.json"

// PythonTimeout bounds the Python interpreter FindInstalledCatalog asks.
const PythonTimeout = 20 * time.Second

// findSpec prints where the TTS package's catalog would be, without
// importing (running) the package: find_spec only locates it.
const findSpec = `import importlib.util, os
s = importlib.util.find_spec("TTS")
print(os.path.join(os.path.dirname(s.origin), ".models.json") if s is not None and s.origin else "")
`

// finder holds what FindInstalledCatalog looks at, so tests can replace it.
type finder struct {
	pythons []string                     // interpreters, looked up in $PATH
	timeout time.Duration                // per interpreter
	globs   func() []string              // site-packages patterns, best first
	getenv  func(string) string          // os.Getenv
	lookup  func(string) (string, error) // exec.LookPath
}

func defaultFinder() finder {
	f := finder{pythons: []string{"python3", "python"}, timeout: PythonTimeout, getenv: os.Getenv, lookup: exec.LookPath}
	f.globs = f.sitePackages
	return f
}

// sitePackages lists where pip, venvs and conda put the TTS package.
func (f finder) sitePackages() []string {
	var roots []string
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if d := f.getenv(env); filepath.IsAbs(d) {
			roots = append(roots, d)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, filepath.Join(home, ".local"))
	}
	roots = append(roots, "/usr/local", "/opt/conda", "/usr")
	var out []string
	for _, r := range roots {
		for _, sp := range []string{"site-packages", "dist-packages"} {
			out = append(out, filepath.Join(r, "lib", "python3*", sp, "TTS", CatalogFile))
		}
	}
	return out
}

// FindInstalledCatalog returns the path of the .models.json inside an
// installed TTS Python package; see FindInstalledCatalogContext.
func FindInstalledCatalog() (string, error) {
	return FindInstalledCatalogContext(context.Background())
}

// FindInstalledCatalogContext returns the path of the .models.json inside an
// installed TTS Python package. It asks python3, then python (from $PATH,
// at most PythonTimeout each, in a private empty working folder so that no
// TTS folder in the current one is picked up) where the TTS package is,
// without importing it; failing that, it looks in the site-packages of
// $VIRTUAL_ENV, $CONDA_PREFIX, ~/.local, /usr/local, /opt/conda and /usr
// (the newest python3.* first). The result is a regular file; its content is
// not checked (LoadCatalog does that). When none is found the error wraps
// ErrNoCatalog and says to pass --catalog.
func FindInstalledCatalogContext(ctx context.Context) (string, error) {
	return defaultFinder().find(ctx)
}

func (f finder) find(ctx context.Context) (string, error) {
	var tried []string
	for _, py := range f.pythons {
		exe, err := f.lookup(py)
		if err != nil {
			continue
		}
		p, err := askPython(ctx, exe, f.timeout)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", py, err))
			continue
		}
		if p != "" && isRegular(p) {
			return p, nil
		}
		tried = append(tried, py+": no TTS package")
	}
	for _, g := range f.globs() {
		matches, _ := filepath.Glob(g)
		// the newest Python first: python3.12 before python3.9
		slices.SortFunc(matches, func(a, b string) int { return comparePythonDirs(b, a) })
		for _, m := range matches {
			if isRegular(m) {
				return m, nil
			}
		}
	}
	msg := "no installed TTS package found"
	if len(tried) > 0 {
		msg += " (" + strings.Join(tried, "; ") + ")"
	}
	return "", fmt.Errorf("%w: %s; pass coqui's catalog with --catalog FILE (TTS/.models.json from idiap/coqui-ai-TTS)", ErrNoCatalog, msg)
}

// askPython runs the interpreter's find_spec query.
func askPython(ctx context.Context, exe string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "ttsguard-python-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, exe, "-c", findSpec)
	cmd.Dir = dir
	var out limitedBuffer
	out.max = 64 << 10
	cmd.Stdout = &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("no answer within %v", timeout)
		}
		return "", err
	}
	line, _, _ := strings.Cut(out.String(), "\n")
	line = strings.TrimSpace(line)
	if line != "" && !filepath.IsAbs(line) {
		return "", fmt.Errorf("unexpected answer %q", line)
	}
	return line, nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func isRegular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// comparePythonDirs orders paths by the python3.N folder they are in.
func comparePythonDirs(a, b string) int {
	return pythonMinor(a) - pythonMinor(b)
}

func pythonMinor(p string) int {
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if rest, ok := strings.CutPrefix(part, "python3."); ok {
			n := 0
			for _, c := range rest {
				if c < '0' || c > '9' {
					break
				}
				n = n*10 + int(c-'0')
			}
			return n
		}
	}
	return -1
}
