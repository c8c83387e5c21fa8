package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names of the files and environment variables the policy is found through.
const (
	EnvPolicy  = "TTSGUARD_POLICY" // a policy file
	EnvHome    = "TTSGUARD_HOME"   // the store folder
	LocalFile  = "ttsguard.yaml"   // a policy file in the working folder
	ConfigFile = "policy.yaml"     // under $XDG_CONFIG_HOME/ttsguard/
	LockFile   = "ttsguard.lock"   // the lock file, next to the policy
)

// Load reads, parses and validates a policy file. Its relative file paths
// (store, ca_bundle, public_key, certificate_chain, trust_root) resolve
// against the file's folder and a leading "~/" against the home folder; the
// key and bundle files must exist and be regular files (they are not parsed
// here). Whoever can change the policy decides what is trusted, so a policy
// file (and its CA bundle) that anyone but the caller or root could have
// written is refused (see CheckTrusted; TTSGUARD_TRUSTED_PATHS accepts it on
// purpose), a world-writable one always. Errors are *Error values wrapping
// ErrInvalid; a refusal for the owner or mode also wraps ErrUntrusted.
func Load(path string) (*Policy, error) {
	data, abs, err := readFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error(), Err: err}
	}
	p, lines, err := parseLines(path, data)
	if err != nil {
		return nil, err
	}
	p.Path = abs
	base := filepath.Dir(abs)
	for _, f := range pathFields(p) {
		resolved, err := resolvePath(base, *f.ptr)
		if err == nil && f.mustExist {
			err = checkRegular(resolved)
		}
		if err == nil && f.key == "ca_bundle" {
			// read only when a download starts: checked for its owner now
			if err = CheckTrusted(resolved, nil); err != nil {
				err = fmt.Errorf("%q: %w", resolved, err)
			}
		}
		if err != nil {
			return nil, &Error{File: path, Line: lines[f.key], Key: f.key, Msg: err.Error(), Err: err}
		}
		*f.ptr = resolved
	}
	return p, nil
}

// readFile reads a policy file: a regular file, not world-writable, that
// CheckTrusted accepts, at most MaxFileSize bytes. It also returns the file's
// absolute path.
func readFile(path string) ([]byte, string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("not a regular file")
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return nil, "", fmt.Errorf("the file is writable by everyone (mode %v): run chmod o-w", fi.Mode().Perm())
	}
	if err := CheckTrusted(abs, fi); err != nil {
		return nil, "", err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, "", err
	}
	if len(data) > MaxFileSize {
		return nil, "", fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	return data, abs, nil
}

// pathField is a file path in a policy.
type pathField struct {
	key       string // as in parse errors
	ptr       *string
	mustExist bool // a file that must exist now; the store may not exist yet
}

// pathFields lists every non-empty file path of a policy, keyed like the
// parser keys them.
func pathFields(p *Policy) []pathField {
	var out []pathField
	add := func(key string, ptr *string, mustExist bool) {
		if *ptr != "" {
			out = append(out, pathField{key, ptr, mustExist})
		}
	}
	add("store", &p.Store, false)
	add("store.encryption.identity", &p.Encryption.Identity, false)
	add("ca_bundle", &p.CABundle, true)
	for i := range p.Signers {
		s := &p.Signers[i]
		key := fmt.Sprintf("signers[%d]", i)
		add(key+".public_key", &s.PublicKey, true)
		for j := range s.CertificateChain {
			add(fmt.Sprintf("%s.certificate_chain[%d]", key, j), &s.CertificateChain[j], true)
		}
		add(key+".trust_root", &s.TrustRoot, true)
	}
	for i := range p.Channels {
		add(fmt.Sprintf("channels[%d].root", i), &p.Channels[i].Root, true)
	}
	for i := range p.Run.AllowRead {
		add(fmt.Sprintf("run.allow_read[%d]", i), &p.Run.AllowRead[i], false)
	}
	return out
}

// resolvePath expands a leading "~/" and makes a relative path absolute
// against base ("" = the working folder).
func resolvePath(base, p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("%q: %w", p, err)
		}
		p = filepath.Join(home, p[1:])
	}
	switch {
	case filepath.IsAbs(p):
	case base == "":
		return filepath.Abs(p)
	default:
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p), nil
}

func checkRegular(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", p)
	}
	return nil
}

// Find returns the policy that applies, from the first of:
//
//  1. explicit (the --policy flag), when not "";
//  2. the file named by $TTSGUARD_POLICY, when set;
//  3. ./ttsguard.yaml;
//  4. $XDG_CONFIG_HOME/ttsguard/policy.yaml ($XDG_CONFIG_HOME defaults to
//     ~/.config; a relative value is ignored, as the XDG spec says);
//  5. the embedded Default.
//
// A file named by explicit or $TTSGUARD_POLICY must exist. A file found in
// steps 3 and 4 that exists but cannot be read is an error, never a reason to
// fall back to the default. In every step, Load refuses a file that someone
// other than the caller or root could have written (CheckTrusted), even one
// the caller named: a shared folder such as /tmp or a shared checkout lets
// another local user plant or change it.
func Find(explicit string) (*Policy, error) {
	if explicit != "" {
		return Load(explicit)
	}
	if env := os.Getenv(EnvPolicy); env != "" {
		return Load(env)
	}
	candidates := []string{LocalFile}
	if dir, ok := configDir(); ok {
		candidates = append(candidates, filepath.Join(dir, "ttsguard", ConfigFile))
	}
	for _, c := range candidates {
		switch _, err := os.Stat(c); {
		case err == nil:
			return Load(c)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, &Error{File: c, Msg: err.Error(), Err: err}
		}
	}
	return Default(), nil
}

// configDir is $XDG_CONFIG_HOME or ~/.config.
func configDir() (string, bool) {
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return d, true
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", false
	}
	return filepath.Join(home, ".config"), true
}

// StoreDir returns the store folder, absolute: the policy's store, else
// $TTSGUARD_HOME, else $XDG_DATA_HOME/ttsguard ($XDG_DATA_HOME defaults to
// ~/.local/share; a relative value is ignored). It does not create it.
func (p *Policy) StoreDir() (string, error) {
	if p.Store != "" {
		return resolvePath("", p.Store)
	}
	if h := os.Getenv(EnvHome); h != "" {
		return resolvePath("", h)
	}
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "ttsguard"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no store folder: set %s or the policy's store: %w", EnvHome, err)
	}
	return filepath.Join(home, ".local", "share", "ttsguard"), nil
}

// LockPath returns where the lock file of this policy lives: ttsguard.lock
// next to the policy file, or inside the store folder for a policy that was
// not read from a file (the embedded default).
func (p *Policy) LockPath() (string, error) {
	if p.Path != "" {
		return filepath.Join(filepath.Dir(p.Path), LockFile), nil
	}
	dir, err := p.StoreDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, LockFile), nil
}
