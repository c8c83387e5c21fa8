package dataset

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

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
	crossPartRules(names, evs, opt.Thresholds, out.add)
	languageImbalance(out, opt.Thresholds)
	out.applyPolicy(opt)
	out.finish()
	return out
}

// crossPartRules finds one recording in two datasets[] entries of a
// config, which the rules within each entry cannot see: the same decoded
// samples (label/duplicate-audio under another transcript,
// label/oversampled under the same) or an altered copy
// (label/near-duplicate-audio), on the later entry's row, naming the other
// entry. It runs the duplicate and near-duplicate rules once over the
// entries' rows put together (each clip keyed by its entry), keeping only
// the pairs across entries: the pairs within one were the entry's own.
func crossPartRules(names []string, evs []*Evidence, th Thresholds, emit func(Finding)) {
	if len(evs) < 2 {
		return
	}
	var rows []RowEvidence
	clips := map[string]*ClipEvidence{}
	part := map[string]int{} // keyed audio -> entry
	key := func(k int, audio string) string { return strconv.Itoa(k) + "\x00" + audio }
	for k, ev := range evs {
		for i := range ev.Clips {
			c := ev.Clips[i]
			c.Audio = key(k, c.Audio)
			clips[c.Audio] = &c
		}
		for _, r := range ev.RowList {
			if r.Audio != "" {
				r.Audio = key(k, r.Audio)
				part[r.Audio] = k
			}
			rows = append(rows, r)
		}
	}
	unkey := func(a string) string { _, rest, _ := strings.Cut(a, "\x00"); return rest }
	// the rows of each recording (by its samples' hash), in order: a row
	// may repeat an eval recording of another entry that is not the
	// recording's first row
	type at struct {
		pos int
		row RowEvidence
	}
	bySamples := map[string][]at{}
	pos := map[string]int{} // keyed audio + index -> position
	rowKey := func(r RowEvidence) string { return r.Audio + "\x00" + strconv.Itoa(r.Index) }
	for i, r := range rows {
		pos[rowKey(r)] = i
		if c := clips[r.Audio]; c != nil && c.SHA256 != "" {
			bySamples[c.SHA256] = append(bySamples[c.SHA256], at{i, r})
		}
	}
	// an entry without meta_file_val trains on its rows (coqui carves a
	// small eval split out of them at random): "train" here
	splitOf := func(r RowEvidence) string {
		if s := evs[part[r.Audio]].split(r); s != "" {
			return s
		}
		return "train"
	}
	cross := func(f, r RowEvidence, exact bool, how string, emit func(Finding)) bool {
		pf, pr := part[f.Audio], part[r.Audio]
		if pf == pr {
			return false
		}
		// coqui trains on every entry's training split and evaluates on
		// every entry's eval split: a recording in one entry's eval split
		// and another's training split is a split leak, whatever the
		// transcripts
		if sr := splitOf(r); exact && splitOf(f) == sr {
			// f (the first row of the recording) is in r's split: an
			// earlier row of another entry may be in the other
			for _, e := range bySamples[clips[r.Audio].SHA256] {
				if e.pos >= pos[rowKey(r)] {
					break
				}
				if splitOf(e.row) != sr && part[e.row.Audio] != pr {
					f, pf = e.row, part[e.row.Audio]
					break
				}
			}
		}
		if sf, sr := splitOf(f), splitOf(r); sf != sr {
			fu, ru := f, r
			fu.Audio, ru.Audio = unkey(f.Audio), unkey(r.Audio)
			fd := leakFinding(fu, ru, sf, sr, how+" "+names[pf])
			fd.Dataset = names[pr]
			emit(fd)
			return true
		}
		same := normText(f.Text) == normText(r.Text)
		fd := Finding{Rule: "label/near-duplicate-audio", Severity: scan.Medium, Dataset: names[pr], File: r.MetaFile, Line: r.Line, Clip: r.ID}
		switch {
		case exact && same:
			fd.Rule, fd.Severity = "label/oversampled", scan.Low
		case exact:
			fd.Rule = "label/duplicate-audio"
		case same:
			fd.Severity = scan.Low
		}
		what := fmt.Sprintf("under another transcript: %q here, %q there", r.Text, f.Text)
		if same {
			what = "with the same transcript: trained on twice"
		}
		fd.Message = fmt.Sprintf("audio %q is %s %s %s:%d (clip %q, audio %q) %s",
			unkey(r.Audio), how, names[pf], f.MetaFile, f.Line, f.ID, unkey(f.Audio), what)
		emit(fd)
		return true
	}
	across := func(f Finding) {
		if f.Dataset != "" { // the cross pairs'; the rest is each entry's own
			emit(f)
		}
	}
	duplicates(rows, clips, cross, across)
	nearDuplicates(rows, clips, cross, th, across)
}
