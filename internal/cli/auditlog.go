package cli

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// logEvent appends e to the audit log of the policy's store. For commands
// that change the store (required) a log that cannot be written is an error,
// exit 3 (after the change: the message says so); for the others it is a
// warning on stderr. A log that does not match its checkpoint is an error
// for every command, exit 1.
func logEvent(g *globals, pol *policy.Policy, e audit.Event, required bool) error {
	err := appendEvent(pol, e)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, audit.ErrTampered) || errors.Is(err, audit.ErrBadRecord):
		return logError{fmt.Errorf("the audit log does not verify (%s not recorded; see ttsguard log verify): %w", e.Command, err), ExitFailed}
	case required:
		return logError{fmt.Errorf("%s done, but not recorded in the audit log: %w", e.Command, err), ExitInternal}
	}
	fmt.Fprintf(g.stderr, "ttsguard: warning: %s not recorded in the audit log: %v\n", e.Command, err)
	return nil
}

// logError carries its exit code: 1 for a log that does not verify, 3 for
// one that cannot be written (whatever the underlying cause).
type logError struct {
	err  error
	code int
}

func (e logError) Error() string { return e.err.Error() }
func (e logError) Unwrap() error { return e.err }
func (e logError) ExitCode() int { return e.code }

// logEventAfter records the event of a command that itself ended with
// cmdErr: the command's error wins; a log failure then only warns.
func logEventAfter(g *globals, pol *policy.Policy, e audit.Event, required bool, cmdErr error) error {
	lerr := logEvent(g, pol, e, required)
	if lerr != nil && cmdErr != nil {
		fmt.Fprintf(g.stderr, "ttsguard: warning: %v\n", lerr)
		return nil
	}
	return lerr
}

func appendEvent(pol *policy.Policy, e audit.Event) error {
	root, err := pol.StoreDir()
	if err != nil {
		return err
	}
	st, err := store.Open(root, store.ServingGroup(pol.Run.Group))
	if err != nil {
		return err
	}
	l, err := audit.OpenLog(st.Root, true)
	if err != nil {
		return err
	}
	e.Time, e.User, e.TTSGuard = time.Now(), currentUser(), Version()
	_, err = l.Append(e)
	return err
}

// currentUser is "name (uid N)", or "uid N" when the name is unknown.
func currentUser() string {
	uid := os.Geteuid()
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}

// firstLine keeps event details to one line of bounded length.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 1000 {
		s = s[:1000] + "..."
	}
	return s
}

// openLog opens the store's audit log for reading; nil (and no error) when
// the store has none yet.
func openLog(policyPath string) (*audit.Log, error) {
	_, st, err := openStoreToRead(policyPath, "log")
	if err != nil || st == nil {
		return nil, err
	}
	l, err := audit.OpenLog(st.Root, false)
	if errors.Is(err, audit.ErrNoLog) {
		return nil, nil
	}
	return l, err
}

// logRecord is an event as `log show` prints it: Signed is false for the
// records after the last checkpoint.
type logRecord struct {
	audit.Record
	Signed bool `json:"signed"`
}

type logRecords []logRecord

func (r logRecords) Text(w io.Writer) error {
	var b strings.Builder
	for _, e := range r {
		verdict := "ok"
		if !e.OK {
			verdict = "FAILED"
		}
		if !e.Signed {
			verdict += " (unsigned)"
		}
		// every field is escaped: a record's text may come from a
		// dataset, a server or a shard report
		fmt.Fprintf(&b, "%d\t%s\t%s\t%s\t%s", e.Index, e.Time.UTC().Format(time.RFC3339), oneLine(e.Command), oneLine(verdict), oneLine(e.User))
		for _, f := range []string{e.Model, e.Root, e.Detail} {
			if f != "" {
				fmt.Fprintf(&b, "\t%s", oneLine(f))
			}
		}
		if e.Verify != "" {
			fmt.Fprintf(&b, "\tverify %s", oneLine(e.Verify))
		}
		b.WriteByte('\n')
	}
	if len(r) == 0 {
		b.WriteString("the audit log is empty\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type logVerifyResult struct{ *audit.LogReport }

func (r logVerifyResult) Text(w io.Writer) error {
	var b strings.Builder
	verdict := "OK"
	if !r.OK {
		verdict = "FAILED"
	}
	if r.Dir == "" {
		fmt.Fprintf(&b, "audit log %s: none yet\n", verdict)
	} else {
		fmt.Fprintf(&b, "audit log %s: %s\n", verdict, r.Dir)
		fmt.Fprintf(&b, "  key:      %s\n", r.VerifierKey)
	}
	fmt.Fprintf(&b, "  records:  %d (the last checkpoint signs %d)\n", r.Records, r.Signed)
	if r.Root != "" {
		fmt.Fprintf(&b, "  root:     %s\n", r.Root)
	}
	if r.Earlier != nil {
		fmt.Fprintf(&b, "  earlier checkpoint of %d records: contained\n", *r.Earlier)
	}
	if r.Problem != "" {
		fmt.Fprintf(&b, "  problem:  %s\n", r.Problem)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type checkpointResult struct {
	Origin      string `json:"origin"`
	Size        int64  `json:"size"`
	Root        string `json:"root"`
	Note        string `json:"checkpoint"`
	VerifierKey string `json:"verifier_key"`
}

func (r checkpointResult) Text(w io.Writer) error {
	_, err := io.WriteString(w, r.Note)
	return err
}

func newLogCmd(g *globals) *cobra.Command {
	var policyPath string
	addPolicy := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (it names the store)")
		return c
	}
	lc := &cobra.Command{Use: "log", Short: "Read and verify the store's tamper-evident audit log"}
	var model string
	var last int
	show := &cobra.Command{
		Use:   "show [--model NAME] [--last N]",
		Short: "Print the audit log's events (after checking it against its checkpoint)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if last < 0 {
				return usagef("--last %d: want 0 (all) or more", last)
			}
			l, err := openLog(policyPath)
			if err != nil {
				return err
			}
			out := logRecords{}
			if l == nil {
				return g.printer().Print(out)
			}
			recs, signed, err := l.Records()
			if err != nil {
				return err
			}
			for _, r := range recs {
				if model == "" || r.Model == model {
					out = append(out, logRecord{r, r.Index < signed})
				}
			}
			if last > 0 && len(out) > last {
				out = out[len(out)-last:]
			}
			return g.printer().Print(out)
		},
	}
	show.Flags().StringVar(&model, "model", "", "only the events of this model")
	show.Flags().IntVar(&last, "last", 0, "only the last N events")
	var earlierPath string
	verify := &cobra.Command{
		Use:   "verify [--checkpoint FILE]",
		Short: "Check the log against its last checkpoint and, with --checkpoint, against one saved earlier",
		Long: "Recomputes the Merkle tree of every event and checks it against the last signed checkpoint. " +
			"The signing key lives in the store, so whoever can rewrite the store can rewrite the log and sign it again: " +
			"keep copies of what ttsguard log checkpoint prints elsewhere, and give one to --checkpoint to prove that the log " +
			"still holds every event it covered, unchanged and in order.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			var earlier []byte
			if earlierPath != "" {
				var err error
				if earlier, err = readCheckpointFile(earlierPath); err != nil {
					return usageError{fmt.Errorf("--checkpoint: %w", err)}
				}
			}
			l, err := openLog(policyPath)
			if err != nil {
				return err
			}
			if l == nil {
				r := &audit.LogReport{OK: earlier == nil, Problem: "the store has no audit log yet"}
				if earlier != nil {
					r.Problem += ", but a checkpoint of it was given"
					err = fmt.Errorf("%w: %s", audit.ErrTampered, r.Problem)
				}
				if perr := g.printer().Print(logVerifyResult{r}); perr != nil {
					return perr
				}
				return err
			}
			r, err := l.Verify(earlier)
			if r != nil {
				if perr := g.printer().Print(logVerifyResult{r}); perr != nil && err == nil {
					return perr
				}
			}
			return err
		},
	}
	verify.Flags().StringVar(&earlierPath, "checkpoint", "", "a checkpoint of this log saved earlier (what ttsguard log checkpoint printed, text or --json)")
	checkpoint := &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the last signed checkpoint (save it outside the store; --json adds the verifier key)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			l, err := openLog(policyPath)
			if err != nil {
				return err
			}
			if l == nil {
				return usagef("the store has no audit log yet: no checkpoint")
			}
			if _, err := l.Verify(nil); err != nil {
				return err
			}
			cp, err := l.Current()
			if err != nil {
				return err
			}
			if cp.Note == nil {
				return usagef("the audit log has no checkpoint yet")
			}
			return g.printer().Print(checkpointResult{Origin: cp.Origin, Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root[:]),
				Note: string(cp.Note), VerifierKey: l.VerifierKey()})
		},
	}
	lc.AddCommand(addPolicy(show), addPolicy(verify), addPolicy(checkpoint))
	return lc
}

// readCheckpointFile reads a saved checkpoint: the note as `ttsguard log
// checkpoint` prints it, or its --json output.
func readCheckpointFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var c checkpointResult
		if err := json.Unmarshal(t, &c); err != nil || c.Note == "" {
			return nil, fmt.Errorf("%q: JSON without a \"checkpoint\" field", path)
		}
		return []byte(c.Note), nil
	}
	return data, nil
}
