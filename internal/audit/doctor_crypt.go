package audit

import (
	"errors"
	"io/fs"
	"os"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// checkIdentity reports a store.encryption.identity file that is missing,
// not a regular file, not owned by root (or the user running doctor), or
// that group or others can read or write (crypt.CheckIdentityFile), and one
// whose folder others can write (they could swap it).
func (c *checker) checkIdentity() {
	pol := c.env.pol
	if pol == nil || !pol.Encryption.Set {
		return
	}
	p := pol.Encryption.Identity
	c.checked.KeyFiles++
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		c.add(Finding{Path: p, Rule: RuleIdentity, Severity: High,
			Problem: "the store's identity file (store.encryption.identity) does not exist: encrypted models cannot be checked or run",
			Fix:     "put the age identity (or OpenSSH key) of one of store.encryption.recipients there, owned by root, mode 0600"})
		return
	}
	if err := crypt.CheckIdentityFile(p); err != nil {
		c.add(Finding{Path: p, Rule: RuleIdentity, Severity: High,
			Problem: err.Error() + ": whoever reads it can decrypt every model of the store (and ttsguard refuses to use it)",
			Fix:     "chown root:root " + p + " && chmod 0600 " + p})
	}
}
