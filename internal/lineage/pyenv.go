package lineage

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Distribution is one installed Python distribution (a *.dist-info or
// *.egg-info folder of a site folder).
type Distribution struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Record is the hex SHA-256 of its RECORD file (the list of installed
	// files with their hashes), "" when it has none (egg-info, or a
	// distribution installed without one).
	Record string `json:"record_sha256,omitempty"`
	Path   string `json:"path"` // the dist-info folder
	// Shadowed: an earlier site folder (or an earlier entry of the same
	// folder) holds a distribution of the same name, which Python's
	// importlib.metadata finds first.
	Shadowed bool `json:"shadowed,omitempty"`
}

// PythonEnv is the Python environment a training command runs on: the
// interpreter and every distribution its site folders hold.
type PythonEnv struct {
	Interpreter   string         `json:"interpreter"` // as the command names it
	Executable    string         `json:"executable"`  // links resolved
	SHA256        string         `json:"sha256"`      // of Executable
	Version       string         `json:"version"`     // X.Y, from the name or the standard library folder
	Venv          string         `json:"venv,omitempty"`
	Prefix        string         `json:"prefix"`
	SiteDirs      []string       `json:"site_dirs"`
	Distributions []Distribution `json:"distributions"`
}

// maxMetadata caps what is read of a METADATA or PKG-INFO file's header.
const maxMetadata = 1 << 20

var pyVersion = regexp.MustCompile(`^python(3\.[0-9]+)$`)

// ReadPythonEnv lists the environment of the interpreter (as the sandbox
// resolved it): the site folders it imports distributions from and every
// distribution in them. A virtual environment's own site-packages (and the
// base installation's when pyvenv.cfg says include-system-site-packages =
// true); otherwise the installation's site-packages and Debian's
// dist-packages folders (PREFIX/lib/python3/dist-packages,
// PREFIX/local/lib/pythonX.Y/dist-packages). The user site is never used
// in the sandbox (PYTHONNOUSERSITE=1).
func ReadPythonEnv(interpreter, executable, venv, prefix string) (*PythonEnv, error) {
	e := &PythonEnv{Interpreter: interpreter, Executable: executable, Venv: venv, Prefix: prefix}
	sum, err := fileSHA256(executable)
	if err != nil {
		return nil, fmt.Errorf("python interpreter: %w", err)
	}
	e.SHA256 = sum
	if m := pyVersion.FindStringSubmatch(filepath.Base(executable)); m != nil {
		e.Version = m[1]
	} else if libs, _ := filepath.Glob(filepath.Join(prefix, "lib", "python3.*", "os.py")); len(libs) == 1 {
		e.Version = strings.TrimPrefix(filepath.Base(filepath.Dir(libs[0])), "python")
	}
	system := venv == ""
	if venv != "" {
		site, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages"))
		e.SiteDirs = append(e.SiteDirs, site...)
		system = systemSite(venv)
	}
	if system && prefix != "" {
		v := e.Version
		if v == "" {
			v = "3*"
		}
		// In the order sys.path has them (Debian's /usr/local first).
		for _, pat := range []string{"local/lib/python" + v + "/dist-packages", "local/lib/python" + v + "/site-packages",
			"lib/python" + v + "/site-packages", "lib/python" + v + "/dist-packages", "lib/python3/dist-packages"} {
			m, _ := filepath.Glob(filepath.Join(prefix, pat))
			e.SiteDirs = append(e.SiteDirs, m...)
		}
	}
	for _, d := range e.SiteDirs {
		ds, err := readSite(d)
		if err != nil {
			return nil, err
		}
		e.Distributions = append(e.Distributions, ds...)
	}
	seen := map[string]bool{}
	for i := range e.Distributions {
		n := normName(e.Distributions[i].Name)
		e.Distributions[i].Shadowed = seen[n]
		seen[n] = true
	}
	return e, nil
}

// systemSite reports whether a virtual environment also imports from its
// base installation (pyvenv.cfg: include-system-site-packages = true).
func systemSite(venv string) bool {
	data, err := os.ReadFile(filepath.Join(venv, "pyvenv.cfg"))
	if err != nil || len(data) > 64<<10 {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == "include-system-site-packages" {
			return strings.EqualFold(strings.TrimSpace(v), "true")
		}
	}
	return false
}

// readSite lists the distributions of one site folder, by name.
func readSite(dir string) ([]Distribution, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("python site folder: %w", err)
	}
	var out []Distribution
	for _, ent := range ents {
		n := ent.Name()
		var meta, record string
		switch {
		case strings.HasSuffix(n, ".dist-info"):
			meta, record = "METADATA", "RECORD"
		case strings.HasSuffix(n, ".egg-info"):
			meta, record = "PKG-INFO", "installed-files.txt"
		default:
			continue
		}
		p := filepath.Join(dir, n)
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("python distribution %q: %w", p, err)
		}
		if !st.IsDir() { // an egg-info file (old distutils installs) holds the header itself
			meta, record = "", ""
		}
		d := Distribution{Path: p}
		mp := p
		if meta != "" {
			mp = filepath.Join(p, meta)
		}
		if d.Name, d.Version, err = readMetadata(mp); err != nil {
			return nil, fmt.Errorf("python distribution %q: %w", p, err)
		}
		if record != "" {
			sum, err := fileSHA256(filepath.Join(p, record))
			switch {
			case err == nil:
				d.Record = sum
			case !os.IsNotExist(err):
				return nil, fmt.Errorf("python distribution %q: %w", p, err)
			}
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// readMetadata reads Name and Version from a core metadata header (RFC 822
// style, up to the first empty line).
func readMetadata(p string) (name, version string, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	name, version = parseMetadata(io.LimitReader(f, maxMetadata))
	if name == "" || version == "" {
		return "", "", fmt.Errorf("%s: no Name or Version in its header", p)
	}
	return name, version, nil
}

// parseMetadata returns the Name and Version fields of a core metadata
// header ("" when absent).
func parseMetadata(r io.Reader) (name, version string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxMetadata)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		val := strings.TrimSpace(string(v))
		switch strings.ToLower(string(k)) {
		case "name":
			if name == "" {
				name = val
			}
		case "version":
			if version == "" {
				version = val
			}
		}
	}
	return name, version
}

// fileSHA256 is the hex SHA-256 of a file's content.
func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// normName is a distribution name as PEP 503 compares them: lower case,
// runs of "-", "_" and "." as one "-".
func normName(n string) string {
	return strings.ToLower(pep503.ReplaceAllString(n, "-"))
}

var pep503 = regexp.MustCompile(`[-_.]+`)
