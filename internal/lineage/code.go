package lineage

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// Code is the training code a run is given: a folder (the script's, or the
// git work tree it is in), every file's digest, and the work tree's HEAD.
type Code struct {
	Dir   string            `json:"dir"`
	Root  string            `json:"root"`  // OMS manifest root of the files, "sha256:<hex>"
	Files map[string]string `json:"files"` // slash path -> hex SHA-256
	// GitCommit and GitTree are HEAD's commit and tree when Dir is a git
	// work tree ("" otherwise). The files may differ from them
	// (uncommitted changes): Files are what the run was given.
	GitCommit string `json:"git_commit,omitempty"`
	GitTree   string `json:"git_tree,omitempty"`
}

// CodeDir returns the folder of code a command runs: the git work tree the
// script is in, else the script's folder. script is the training script
// (a Python file the interpreter runs, or the program itself); "" when the
// command runs a module (python -m), whose code is in the Python
// environment.
func CodeDir(script string) (string, error) {
	if script == "" {
		return "", nil
	}
	abs, err := filepath.Abs(script)
	if err != nil {
		return "", err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", fmt.Errorf("training script: %w", err)
	}
	dir := filepath.Dir(abs)
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d, nil
		}
		if d == "/" || d == "." {
			break
		}
	}
	return dir, nil
}

// Script returns the script a command runs: for a Python interpreter the
// first argument that is not an option (after -c or -m: none), else the
// program itself.
func Script(command []string, python bool) string {
	if len(command) == 0 {
		return ""
	}
	if !python {
		return command[0]
	}
	for i := 1; i < len(command); i++ {
		a := command[i]
		switch {
		case a == "-c" || a == "-m" || strings.HasPrefix(a, "-c") || strings.HasPrefix(a, "-m"):
			return ""
		case a == "-W" || a == "-X" || a == "--check-hash-based-pycs":
			i++ // takes a value
		case a == "-" || a == "--":
			if a == "--" && i+1 < len(command) {
				return command[i+1]
			}
			return ""
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}

var gitHex = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ReadCode hashes every file of the code folder (the top-level git paths
// left out) and, for a git work tree, reads HEAD's commit and tree with
// git (when git is installed).
func ReadCode(ctx context.Context, dir string) (*Code, error) {
	c := &Code{Dir: dir, Files: map[string]string{}}
	o := manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256, IgnorePaths: manifest.DefaultIgnorePaths}
	m, err := manifest.Build(ctx, dir, o)
	if err != nil {
		return nil, fmt.Errorf("training code %q: %w", dir, err)
	}
	for _, it := range m.Items {
		c.Files[it.File] = hex.EncodeToString(it.Digest)
	}
	c.Root = m.Root().String()
	if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
		c.GitCommit, c.GitTree = gitHead(ctx, dir)
	}
	return c, nil
}

// gitHead reads HEAD's commit and tree with `git rev-parse`, which reads
// refs and objects and runs nothing of the repository's configuration
// (no hooks, filters or fsmonitor: those belong to commands that touch the
// work tree or index). Without git, or with no commit, both are "".
func gitHead(ctx context.Context, dir string) (commit, tree string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "-c", "safe.directory="+dir, "-C", dir, "rev-parse", "HEAD^{commit}", "HEAD^{tree}")
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "LC_ALL=C"}
	out, err := cmd.Output()
	if err != nil {
		return "", ""
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || !gitHex.MatchString(f[0]) || !gitHex.MatchString(f[1]) {
		return "", ""
	}
	return f[0], f[1]
}
