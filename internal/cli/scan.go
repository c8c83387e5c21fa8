package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/walk"
)

// errUnsafe marks a scan that found something (exit 1).
var errUnsafe = errors.New("scan found unsafe or unscannable files")

func newScanCmd(g *globals) *cobra.Command {
	var profile, format, policyPath string
	var allow []string
	c := &cobra.Command{
		Use:   "scan [--profile coqui|weights-only] [--policy FILE] [--allow-global MODULE.NAME]... [--json | --format sarif] PATH...",
		Short: "Find code hidden in checkpoints (PyTorch, NumPy, safetensors, 7z) and unsafe paths in coqui configs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if policyPath != "" {
				tp, err := loadPolicy(policyPath)
				if err != nil {
					return err
				}
				if !c.Flags().Changed("profile") {
					profile = tp.Scan.Profile
				}
				allow = append(allow, tp.Scan.AllowGlobals...)
			}
			pol, err := scan.NewPolicy(profile, allow)
			if err != nil {
				return usageError{err}
			}
			switch format {
			case "", "text", "json", "sarif":
			default:
				return usagef("--format %q: want text, json or sarif", format)
			}
			s := &walk.Scanner{Policy: pol, Limits: scan.DefaultLimits}
			rep, err := s.Paths(c.Context(), args)
			if err != nil {
				return usageError{err}
			}
			switch {
			case format == "sarif":
				wd, _ := os.Getwd()
				if abs, err := filepath.Abs(wd); err == nil {
					wd = abs
				}
				err = rep.WriteSARIF(c.OutOrStdout(), Version(), wd)
			default:
				err = g.printer().Print(rep)
			}
			if err != nil {
				return err
			}
			if !rep.Clean {
				return fmt.Errorf("%w", errUnsafe)
			}
			return nil
		},
	}
	c.Flags().StringVar(&profile, "profile", scan.ProfileCoqui, "allowlist profile: coqui or weights-only")
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file: its scan profile and allowed globals apply")
	c.Flags().StringArrayVar(&allow, "allow-global", nil, "also allow this exact pickle global (module.qualname; repeatable)")
	c.Flags().StringVar(&format, "format", "text", "output format: text, json or sarif (--json is the same as --format json)")
	return c
}
