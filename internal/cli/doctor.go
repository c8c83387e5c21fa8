package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/access"
	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/policy"
)

// doctorFailed is the error of a doctor run that leaves findings: exit 1.
// It unwraps to audit.ErrFindings and to errUnsafe, which isCheckFailure
// already maps to exit 1.
type doctorFailed struct{ err error }

func (e doctorFailed) Error() string   { return e.err.Error() }
func (e doctorFailed) Unwrap() []error { return []error{e.err, errUnsafe} }

// doctorIncomplete is the error of a doctor run that could not check every
// path: exit 3. Its text names the count; the paths are in the report.
type doctorIncomplete struct{ msg string }

func (e doctorIncomplete) Error() string { return e.msg }

func newDoctorCmd(g *globals) *cobra.Command {
	var o audit.Options
	c := &cobra.Command{
		Use:   "doctor [--policy F] [--fix] [--json]",
		Short: "Check the owners and modes of the store, the policy, the lock file and the keys; --fix repairs modes",
		Long: "doctor checks that the store, the trust policy, the lock file and the key files are owned by the right users, " +
			"writable by nobody else (the serving user included), free of stray files, symbolic links and garbage, and " +
			"that no private key lies readable next to the policy. Each finding comes with its fix; --fix repairs the " +
			"modes it can (and, run as root, the store's owners), never deletes anything, and checks again. " +
			"Exit 0: no findings; 1: findings remain; 2: unreadable policy; 3: some paths could not be checked.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			// The roles are checked when the policy loads; a policy that
			// does not load is what doctor reports on (and --fix then
			// repairs only the policy and lock files).
			if pol, err := policy.Find(o.PolicyFile); err == nil {
				cmd := "doctor"
				if o.Fix {
					cmd = "doctor --fix"
				}
				if err := access.Check(pol.Access, cmd); err != nil {
					return err
				}
			}
			rep, err := audit.Doctor(c.Context(), o)
			if errors.Is(err, audit.ErrPolicy) {
				return usageError{err}
			}
			if rep != nil {
				if perr := g.printer().Print(rep); perr != nil && err == nil {
					return perr
				}
				if o.Fix && len(rep.Fixed) > 0 && rep.Store != "" {
					if pol, perr := loadPolicy(o.PolicyFile); perr == nil {
						e := audit.Event{Command: "doctor-fix", OK: len(rep.FixErrors) == 0,
							Detail: fmt.Sprintf("%d repaired, %d repairs failed", len(rep.Fixed), len(rep.FixErrors))}
						if lerr := logEvent(g, pol, e, false); lerr != nil && err == nil {
							return lerr
						}
					}
				}
			}
			switch {
			case err == nil:
				return nil
			case errors.Is(err, audit.ErrFindings):
				return doctorFailed{err}
			}
			return doctorIncomplete{err.Error()} // exit 3, whatever the underlying cause
		},
	}
	c.Flags().StringVar(&o.PolicyFile, "policy", "", "trust policy file (it names the store, the lock file and the keys)")
	c.Flags().BoolVar(&o.Fix, "fix", false, "repair the modes (and, as root, the store owners) that can be repaired, then check again")
	return c
}
