package dataset

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Part is one dataset of a coqui training config's datasets[] list.
type Part struct {
	Name      string // how findings name it, e.g. "datasets[1]"
	Root      string // the folder, as the config gives it
	FS        fs.FS  // the folder
	Formatter string
	MetaFile  string // "" for the formatter's default
	// MetaFileVal is the part's eval split (meta_file_val), "" for none.
	MetaFileVal string
	Language    string
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
	evs := make([]*Evidence, len(parts))
	for i, p := range parts {
		ev, err := collect(ctx, p.FS, p.Root, partOptions(opt, p), Shard{})
		if err != nil {
			return nil, fmt.Errorf("%s (%s, formatter %s): %w", p.Name, p.Root, p.Formatter, err)
		}
		evs[i] = ev
	}
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = p.Name
	}
	return judgeParts(names, evs, opt), nil
}

// partOptions are opt for one part: its formatter, meta files and
// language.
func partOptions(opt Options, p Part) Options {
	opt.Formatter, opt.MetaFile, opt.MetaFileVal, opt.Language = p.Formatter, p.MetaFile, p.MetaFileVal, p.Language
	return opt
}

// judgeParts judges each part's evidence on its own (cross-clip rules run
// within a part) and combines the reports, each finding named by its
// part; then the rules across parts (one recording in two parts, language
// imbalance).
func judgeParts(names []string, evs []*Evidence, opt Options) *Report {
	out := &Report{Counts: map[string]int{}}
	for i, ev := range evs {
		name := names[i]
		rep := judge(ev, ev.options(opt))
		named := func(fs []Finding) []Finding {
			for j := range fs {
				fs[j].Dataset = name
			}
			return fs
		}
		if i == 0 {
			out.Root, out.Formatter, out.Majority = rep.Root, rep.Formatter, rep.Majority
		} else if out.Formatter != rep.Formatter {
			out.Formatter = "several"
		}
		out.Parts = append(out.Parts, PartSummary{Name: name, Root: ev.Root, Formatter: ev.Formatter, Language: ev.Language,
			Rows: rep.Rows, Clips: rep.Clips, Seconds: rep.Seconds})
		for _, m := range rep.MetaFiles {
			out.MetaFiles = append(out.MetaFiles, name+":"+m)
		}
		for _, g := range rep.Composition {
			g.Split = name + ":" + g.Split
			out.Composition = append(out.Composition, g)
		}
		out.Rows += rep.Rows
		out.Clips += rep.Clips
		out.Seconds += rep.Seconds
		out.Findings = append(out.Findings, named(rep.Findings)...)
		out.Silenced = append(out.Silenced, named(rep.Silenced)...)
		out.Plots = mergePlots(out.Plots, rep.Plots, name)
	}
	if len(evs) > 1 {
		out.Root = fmt.Sprintf("%d datasets", len(evs))
	}
	crossPartDuplicates(names, evs, out.add)
	languageImbalance(out, opt.Thresholds)
	out.applyPolicy(opt)
	out.finish()
	return out
}

// crossPartDuplicates finds one recording (the same decoded samples) in
// two datasets[] entries of a config, which the rules within each entry
// cannot see: the later row is label/duplicate-audio when its transcript
// differs (one recording, two labels), label/oversampled when it repeats
// it (the data trained on twice), naming the other entry. Samples repeated
// within an entry are its own rules' (the entry's first row of them is
// compared across entries). Near-duplicates across entries are not
// searched.
func crossPartDuplicates(names []string, evs []*Evidence, emit func(Finding)) {
	type first struct {
		part int
		row  RowEvidence
	}
	seen := map[string]first{}
	for i, ev := range evs {
		sha := map[string]string{}
		for _, c := range ev.Clips {
			if c.SHA256 != "" {
				sha[c.Audio] = c.SHA256
			}
		}
		local := map[string]bool{}
		for _, r := range ev.RowList {
			s := sha[r.Audio]
			if s == "" || local[s] {
				continue
			}
			local[s] = true
			f, ok := seen[s]
			if !ok {
				seen[s] = first{i, r}
				continue
			}
			rule, sev, what := "label/oversampled", scan.Low, "with the same transcript: trained on twice"
			if normText(f.row.Text) != normText(r.Text) {
				rule, sev, what = "label/duplicate-audio", scan.Medium, fmt.Sprintf("under another transcript: %q here, %q there", r.Text, f.row.Text)
			}
			emit(Finding{Rule: rule, Severity: sev, Dataset: names[i], File: r.MetaFile, Line: r.Line, Clip: r.ID,
				Message: fmt.Sprintf("audio %q has the same samples as %s %s:%d (clip %q, audio %q) %s",
					r.Audio, names[f.part], f.row.MetaFile, f.row.Line, f.row.ID, f.row.Audio, what)})
		}
	}
}
