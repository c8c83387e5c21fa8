// Package cli wires ttsguard's commands: each parses flags, makes one library
// call and prints the result; Main maps errors to exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/ui"
)

// Exit codes (DESIGN.md, conventions 1).
const (
	ExitOK       = 0
	ExitFailed   = 1 // a check failed: tampered, unsigned, untrusted, policy violation
	ExitUsage    = 2 // bad usage or unreadable input
	ExitInternal = 3 // internal or I/O failure
)

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// globals are the flags every command shares.
type globals struct {
	json    bool
	started bool // a command's RunE was reached: errors before it are usage errors
	stdout  io.Writer
	stderr  io.Writer
}

func (g *globals) printer() ui.Printer { return ui.Printer{W: g.stdout, JSON: g.json} }

// Main runs ttsguard with args and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	if !g.started {
		code = ExitUsage // flag parsing, required flags, argument counts, unknown commands
	}
	fmt.Fprintf(stderr, "ttsguard: %s\n", terminalSafe(err.Error()))
	return code
}

// terminalSafe escapes the control characters of an error message (C0 but
// newline and tab, DEL, C1, the bidirectional controls and marks, the line
// and paragraph separators), which may come from a server's or a file's
// text: they must not drive the terminal. Every line after the first is
// indented, so that a line break in such text (a registry's JSON error
// message) cannot forge a line of ttsguard's own.
func terminalSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString("\n  ")
		case r == '\t':
			b.WriteRune(r)
		case controlRune(r):
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// oneLine escapes every control character of s (line breaks and tabs
// included, as terminalSafe escapes the others): a field of a line of
// output, such as a record of the audit log, whose text came from outside.
func oneLine(s string) string {
	var b strings.Builder
	for _, r := range s {
		if controlRune(r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// controlRune reports whether r must not reach a terminal as it is: C0 and
// C1 controls, DEL, the bidirectional controls (embeddings, overrides,
// isolates) and marks (LRM, RLM, ALM), and the line and paragraph
// separators (which Python's splitlines and some terminals break at).
func controlRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c || r == 0x2028 || r == 0x2029
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "ttsguard",
		Short:         "Secure the models a coqui TTS service loads",
		Long:          "ttsguard pins, signs and verifies TTS models (OpenSSF Model Signing) so that a coqui TTS service loads only the models its operators trusted.",
		Version:       Version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("ttsguard {{.Version}}\n")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print results as JSON")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newDigestCmd(g), newSignCmd(g), newVerifyCmd(g), newKeygenCmd(g), newScanCmd(g), newPullCmd(g), newCheckCmd(g))
	root.AddCommand(newStoreCmds(g)...)
	root.AddCommand(newStoreEncCmd(g))
	root.AddCommand(newRunCmd(g), newTrainCmd(g), newDoctorCmd(g), newLogCmd(g), newAuditCmd(g))
	root.AddCommand(newDatasetCmd(g))
	root.AddCommand(newInspectCmd(g), newDiffCmd(g), newPushCmd(g))
	root.AddCommand(newChannelCmd(g), newUpdateCmd(g))
	var wrap func(*cobra.Command)
	wrap = func(c *cobra.Command) {
		c.Args = wrapArgs(c.Args)
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				g.started = true
				return run(c, args)
			}
		}
		for _, sub := range c.Commands() {
			wrap(sub)
		}
	}
	wrap(root)
	return root
}

// wrapArgs turns cobra's positional-argument errors into usage errors.
func wrapArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	if v == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// Version returns "<module version> (<vcs revision>[, modified])" from the build info.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev == "" {
		rev = "revision unknown"
	}
	return fmt.Sprintf("%s (%s%s, %s)", v, rev, dirty, bi.GoVersion)
}

// exitCode maps an error to the exit code of DESIGN.md.
func exitCode(err error) int {
	var ue usageError
	var es interface{ ExitCode() int }
	switch {
	case errors.As(err, &es):
		return es.ExitCode() // run passes its command's exit status through
	case errors.As(err, &ue):
		return ExitUsage
	case isCheckFailure(err):
		return ExitFailed
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission), isInputError(err):
		return ExitUsage
	}
	return ExitInternal
}
