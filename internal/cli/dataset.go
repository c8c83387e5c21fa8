package cli

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// datasetFailed is a dataset audit with a finding at or above the policy's
// dataset.fail_on: exit 1 (it unwraps to errUnsafe).
type datasetFailed struct {
	counts map[string]int
	failOn scan.Severity
}

func (e datasetFailed) Error() string {
	n := 0
	for s := e.failOn; s <= scan.Critical; s++ {
		n += e.counts[s.String()]
	}
	return fmt.Sprintf("dataset audit: %d findings at or above %s", n, e.failOn)
}

// datasetPolicy sets opt's thresholds, severity overrides and ignores from
// the policy's dataset section and returns the severity the audit fails at.
func datasetPolicy(opt *dataset.Options, pol *policy.Policy) scan.Severity {
	th, sev, ign, failOn := pol.Dataset.Options()
	opt.Thresholds, opt.Severity, opt.Ignore = th, sev, ign
	return failOn
}

func (e datasetFailed) Unwrap() error { return errUnsafe }

func newDatasetCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "dataset",
		Short: "Audit TTS training datasets",
	}
	c.AddCommand(newDatasetAuditCmd(g))
	return c
}

func newDatasetAuditCmd(g *globals) *cobra.Command {
	var formatter, metaFile, configPath, policyPath string
	c := &cobra.Command{
		Use:   "audit [--formatter F] [--meta-file F] [--config config.json] [--json] [DIR]",
		Short: "Find unsafe metadata, text triggers, broken audio and mismatched labels in a coqui dataset",
		Long: "audit reads a dataset exactly as coqui's formatter does (" + strings.Join(dataset.Formatters, ", ") +
			") and reports every finding with its clip and evidence. Exit 1 when a finding is at or above the policy's " +
			"dataset.fail_on (default medium); the policy's dataset section also holds the thresholds, severity overrides " +
			"and silenced findings (docs/dataset-audit.md).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opt := dataset.Options{Formatter: formatter, MetaFile: metaFile, Workers: runtime.NumCPU()}
			pol, err := loadPolicy(policyPath)
			if err != nil {
				return err
			}
			failOn := datasetPolicy(&opt, pol)
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			if configPath != "" {
				f, err := os.Open(configPath)
				if err != nil {
					return usageError{err}
				}
				cfg, err := dataset.ReadConfig(f)
				f.Close()
				if err != nil {
					return usagef("--config %q: %v", configPath, err)
				}
				if len(cfg.Datasets) > 0 {
					ds := cfg.Datasets[0]
					if opt.Formatter == "" {
						opt.Formatter = ds.Formatter
					}
					if opt.MetaFile == "" && ds.Formatter == opt.Formatter {
						opt.MetaFile = ds.MetaFileTrain
					}
					if dir == "" {
						dir = ds.Path
					}
				}
				opt.SampleRate, opt.Charset, opt.Cleaner = cfg.Audio.SampleRate, cfg.Charset(), cfg.TextCleaner
			}
			switch {
			case opt.Formatter == "":
				return usagef("no formatter: give --formatter (%s) or a --config with datasets", strings.Join(dataset.Formatters, ", "))
			case !slices.Contains(dataset.Formatters, opt.Formatter):
				return usagef("unknown formatter %q (known: %s)", opt.Formatter, strings.Join(dataset.Formatters, ", "))
			case dir == "":
				return usagef("no dataset folder: give DIR or a --config whose dataset has a path")
			}
			if fi, err := os.Stat(dir); err != nil {
				return usageError{err}
			} else if !fi.IsDir() {
				return usagef("%q is not a folder", dir)
			}
			rep, err := dataset.Audit(c.Context(), os.DirFS(dir), dir, opt)
			if err != nil {
				return err
			}
			if err := g.printer().Print(rep); err != nil {
				return err
			}
			if rep.Failed(failOn) {
				return datasetFailed{rep.Counts, failOn}
			}
			return nil
		},
	}
	c.Flags().StringVar(&formatter, "formatter", "", "coqui formatter: "+strings.Join(dataset.Formatters, ", ")+" (default: the config's)")
	c.Flags().StringVar(&metaFile, "meta-file", "", "metadata file relative to DIR (default: the config's meta_file_train or the formatter's)")
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (its dataset section)")
	c.Flags().StringVar(&configPath, "config", "", "coqui training config.json: formatter, meta file, path, sample rate, character set")
	return c
}
