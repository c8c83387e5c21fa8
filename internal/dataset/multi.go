package dataset

import (
	"context"
	"fmt"
	"io/fs"
)

// Part is one dataset of a coqui training config's datasets[] list.
type Part struct {
	Name      string // how findings name it, e.g. "datasets[1]"
	Root      string // the folder, as the config gives it
	FS        fs.FS  // the folder
	Formatter string
	MetaFile  string // "" for the formatter's default
	Language  string
}

// PartSummary is one audited part in a combined report.
type PartSummary struct {
	Name       string  `json:"name"`
	Root       string  `json:"root"`
	Formatter  string  `json:"formatter"`
	Language   string  `json:"language,omitempty"`
	RootDigest string  `json:"root_digest,omitempty"`
	Rows       int     `json:"rows"`
	Clips      int     `json:"clips"`
	Seconds    float64 `json:"audio_seconds"`
}

// AuditParts audits every part with opt (its Formatter, MetaFile and
// Language replaced by the part's) and combines the reports: each finding
// names its part in Dataset, the totals add up, the composition lists every
// part's groups. Cross-clip rules (duplicates, outliers) run within each
// part. With a single part the report is that part's, its findings named.
func AuditParts(ctx context.Context, parts []Part, opt Options) (*Report, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("no dataset to audit")
	}
	if opt.Thresholds == (Thresholds{}) {
		opt.Thresholds = DefaultThresholds
	}
	out := &Report{Counts: map[string]int{}}
	for i, p := range parts {
		o := opt
		o.Formatter, o.MetaFile, o.Language = p.Formatter, p.MetaFile, p.Language
		rep, err := Audit(ctx, p.FS, p.Root, o)
		if err != nil {
			return nil, fmt.Errorf("%s (%s, formatter %s): %w", p.Name, p.Root, p.Formatter, err)
		}
		name := func(fs []Finding) []Finding {
			for j := range fs {
				fs[j].Dataset = p.Name
			}
			return fs
		}
		if i == 0 {
			out.Root, out.Formatter, out.Majority = rep.Root, rep.Formatter, rep.Majority
		} else if out.Formatter != rep.Formatter {
			out.Formatter = "several"
		}
		out.Parts = append(out.Parts, PartSummary{Name: p.Name, Root: p.Root, Formatter: p.Formatter, Language: p.Language,
			Rows: rep.Rows, Clips: rep.Clips, Seconds: rep.Seconds})
		for _, m := range rep.MetaFiles {
			out.MetaFiles = append(out.MetaFiles, p.Name+":"+m)
		}
		for _, g := range rep.Composition {
			g.Split = p.Name + ":" + g.Split
			out.Composition = append(out.Composition, g)
		}
		out.Rows += rep.Rows
		out.Clips += rep.Clips
		out.Seconds += rep.Seconds
		out.Findings = append(out.Findings, name(rep.Findings)...)
		out.Silenced = append(out.Silenced, name(rep.Silenced)...)
		out.Plots = mergePlots(out.Plots, rep.Plots, p.Name)
	}
	if len(parts) > 1 {
		out.Root = fmt.Sprintf("%d datasets", len(parts))
	}
	languageImbalance(out, opt.Thresholds)
	out.applyPolicy(opt)
	out.finish()
	return out, nil
}
