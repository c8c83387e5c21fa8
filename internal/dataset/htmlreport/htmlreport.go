// Package htmlreport renders a dataset audit (dataset.Report) as one
// self-contained HTML page: the summary, the findings grouped by rule
// (worst first, with counts) and plots drawn as inline SVG — duration
// against transcript length with the rate outliers marked, the spectra of
// clips with an inaudible-tone finding, the audio per speaker.
//
// The page loads nothing and runs no script: a Content-Security-Policy
// meta element allows only its own style sheet (by hash). Every string
// that comes from the dataset goes through html/template, and one holding
// a control, bidirectional or invisible character is shown Go-quoted, so a
// hostile clip id or transcript can neither break out of the markup nor
// reorder what the reader sees.
package htmlreport

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/store"
)

// Options say what the page states besides the report.
type Options struct {
	FailOn    scan.Severity // the policy's dataset.fail_on: the verdict
	Version   string        // ttsguard's version, in the footer
	Generated time.Time     // when the audit ran; zero: not shown
	// MaxRowsPerRule caps the rows listed per rule (the count is always
	// whole); 0 means DefaultMaxRowsPerRule.
	MaxRowsPerRule int
}

// DefaultMaxRowsPerRule keeps a page of a dataset with a million findings
// readable; --json lists them all.
const DefaultMaxRowsPerRule = 500

// maxBars caps the speakers drawn in the composition plot.
const maxBars = 40

// WriteFile renders the page and writes it to path atomically (a temporary
// file beside it, renamed over it): on any error nothing is left at path
// that was not there before.
func WriteFile(path string, rep *dataset.Report, opt Options) error {
	var b bytes.Buffer
	if err := Render(&b, rep, opt); err != nil {
		return fmt.Errorf("html report %q: %w", path, err)
	}
	if err := store.WriteFileAtomic(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// Render writes the page to w.
func Render(w io.Writer, rep *dataset.Report, opt Options) error {
	if rep == nil {
		return fmt.Errorf("no report")
	}
	if opt.MaxRowsPerRule <= 0 {
		opt.MaxRowsPerRule = DefaultMaxRowsPerRule
	}
	return page.Execute(w, build(rep, opt))
}

// visible returns s as the page shows it: as it is when every character is
// printable, else Go-quoted (controls, escapes, bidi and invisible
// characters, invalid UTF-8 written as \x.., \u....).
func visible(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// shorten cuts a visible string to n runes with an ellipsis.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

type view struct {
	CSP         string
	CSS         template.CSS
	Root        string
	Formatter   string
	MetaFiles   []string
	Rows, Clips int
	Audio       string
	Majority    string
	RootDigest  string
	DigestError string
	Verdict     string
	Failed      bool
	Counts      []sevCount
	Total       int
	Silenced    int
	Groups      []group
	Quiet       []group // silenced by the policy
	Scatter     *scatter
	ScatterNote string
	Spectra     []spectrum
	SpectraNote string
	Bars        *bars
	Version     string
	Generated   string
}

type sevCount struct {
	Sev   string
	Count int
}

type group struct {
	Rule   string
	Worst  string
	Count  int
	Counts string // "2 medium, 1 low"
	Rows   []row
	More   int // rows not listed
}

type row struct {
	Sev, Rule, Where, Clip, Field, Message string
}

func build(rep *dataset.Report, opt Options) *view {
	v := &view{
		CSP: cspContent, CSS: template.CSS(css),
		Root: visible(rep.Root), Formatter: visible(rep.Formatter),
		Rows: rep.Rows, Clips: rep.Clips, Audio: duration(rep.Seconds),
		Majority: visible(rep.Majority), RootDigest: visible(rep.RootDigest), DigestError: visible(rep.RootDigestError),
		Total: len(rep.Findings), Silenced: len(rep.Silenced), Version: visible(opt.Version),
	}
	for _, m := range rep.MetaFiles {
		v.MetaFiles = append(v.MetaFiles, visible(m))
	}
	if !opt.Generated.IsZero() {
		v.Generated = opt.Generated.UTC().Format(time.RFC3339)
	}
	atOrAbove := 0
	for s := scan.Critical; s >= scan.Info; s-- {
		n := 0
		for _, f := range rep.Findings {
			if f.Severity == s {
				n++
			}
		}
		v.Counts = append(v.Counts, sevCount{s.String(), n})
		if s >= opt.FailOn {
			atOrAbove += n
		}
	}
	v.Failed = atOrAbove > 0
	if v.Failed {
		v.Verdict = fmt.Sprintf("fails: %d finding%s at or above %s (the policy's dataset.fail_on)", atOrAbove, plural(atOrAbove), opt.FailOn)
	} else {
		v.Verdict = fmt.Sprintf("passes: no finding at or above %s (the policy's dataset.fail_on)", opt.FailOn)
	}
	v.Groups = groups(rep.Findings, opt.MaxRowsPerRule)
	v.Quiet = groups(rep.Silenced, opt.MaxRowsPerRule)
	p := rep.Plots
	if p == nil {
		p = &dataset.Plots{}
	}
	v.Scatter = newScatter(p)
	switch {
	case v.Scatter != nil && len(p.Points) < p.PointsTotal:
		v.ScatterNote = fmt.Sprintf("%d of %d rows drawn: every rate outlier and a fixed sample of the rest.", len(p.Points), p.PointsTotal)
	case v.Scatter == nil:
		v.ScatterNote = "No rows with decoded audio to draw."
	}
	for _, s := range p.Spectra {
		v.Spectra = append(v.Spectra, newSpectrum(s))
	}
	switch {
	case p.SpectraTotal == 0:
		v.SpectraNote = "No clip has an audio/inaudible-tone finding."
	case len(p.Spectra) < p.SpectraTotal:
		v.SpectraNote = fmt.Sprintf("%d of %d flagged clips drawn: those with the most prominent tones.", len(p.Spectra), p.SpectraTotal)
	}
	v.Bars = newBars(rep.Composition)
	return v
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// duration writes seconds as "1 h 02 min 03.4 s", "2 min 03.4 s" or "3.4 s".
func duration(s float64) string {
	switch {
	case s >= 3600:
		return fmt.Sprintf("%d h %02d min %04.1f s", int(s/3600), int(math.Mod(s, 3600)/60), math.Mod(s, 60))
	case s >= 60:
		return fmt.Sprintf("%d min %04.1f s", int(s/60), math.Mod(s, 60))
	}
	return fmt.Sprintf("%.1f s", s)
}

// groups gathers findings by rule: rules with the worst findings first,
// then the most findings, then by name; within a rule the report's order
// (worst first, then by place).
func groups(fs []dataset.Finding, maxRows int) []group {
	type acc struct {
		g     group
		worst scan.Severity
		by    map[scan.Severity]int
	}
	byRule := map[string]*acc{}
	var order []*acc
	for _, f := range fs {
		a := byRule[f.Rule]
		if a == nil {
			a = &acc{g: group{Rule: visible(f.Rule)}, worst: f.Severity, by: map[scan.Severity]int{}}
			byRule[f.Rule] = a
			order = append(order, a)
		}
		a.worst = max(a.worst, f.Severity)
		a.by[f.Severity]++
		a.g.Count++
		if len(a.g.Rows) >= maxRows {
			a.g.More++
			continue
		}
		where := visible(f.File)
		if f.Line > 0 {
			where += ":" + strconv.Itoa(f.Line)
		}
		if f.Dataset != "" { // one of a config's datasets, named as the metadata files are
			where = visible(f.Dataset) + ":" + where
		}
		a.g.Rows = append(a.g.Rows, row{Sev: f.Severity.String(), Rule: visible(f.Rule), Where: where,
			Clip: visible(f.Clip), Field: visible(f.Field), Message: visible(f.Message)})
	}
	slices.SortStableFunc(order, func(a, b *acc) int {
		return cmp.Or(cmp.Compare(b.worst, a.worst), cmp.Compare(b.g.Count, a.g.Count), cmp.Compare(a.g.Rule, b.g.Rule))
	})
	out := make([]group, len(order))
	for i, a := range order {
		var parts []string
		for s := scan.Critical; s >= scan.Info; s-- {
			if n := a.by[s]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, s))
			}
		}
		a.g.Worst, a.g.Counts = a.worst.String(), strings.Join(parts, ", ")
		out[i] = a.g
	}
	return out
}

// cspContent allows nothing but the page's own style sheet, by its hash:
// no script, no request, no form, no base URL.
var cspContent = func() string {
	h := sha256.Sum256([]byte(css))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) +
		"'; img-src 'none'; base-uri 'none'; form-action 'none'"
}()

const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1d2125;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d6dade;padding-bottom:4px}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dl.summary dt{color:#59626b}dl.summary dd{margin:0;overflow-wrap:anywhere}
.verdict{display:inline-block;padding:4px 10px;border-radius:4px;font-weight:600;margin:8px 0}
.verdict.fail{background:#fde2e1;color:#8e1b13}.verdict.pass{background:#dff3e4;color:#1a5e2d}
.counts>span{display:inline-block;margin-right:10px;padding:2px 8px;border-radius:10px;background:#eef0f2}
.sev{font-weight:600;text-transform:uppercase;font-size:11px;padding:1px 6px;border-radius:3px;white-space:nowrap}
.sev-critical{background:#6e0c0c;color:#fff}.sev-high{background:#c62828;color:#fff}.sev-medium{background:#ef8c00;color:#fff}.sev-low{background:#f4d03f;color:#3b3000}.sev-info{background:#cfd8dc;color:#263238}
table.findings{border-collapse:collapse;width:100%}table.findings td,table.findings th{border-bottom:1px solid #e3e6e9;padding:4px 6px;text-align:left;vertical-align:top}
table.findings td.msg{overflow-wrap:anywhere}table.findings td.clip{overflow-wrap:anywhere;min-width:7em;max-width:220px}table.findings td.where{white-space:nowrap}
tr.group th{background:#f3f5f7;font-weight:600;padding-top:10px}tr.more td{color:#59626b;font-style:italic}
figure{margin:12px 0 20px}figcaption{color:#59626b;font-size:13px;margin-top:4px}
svg{background:#fff;max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#37414a}
svg .axis{stroke:#6b757e;stroke-width:1}svg .grid{stroke:#e7eaed;stroke-width:1}
svg .pt{fill:#78909c;fill-opacity:.8}svg .out{fill:#d32f2f;stroke:#7a1010;stroke-width:1}
svg .median{stroke:#2e7d32;stroke-width:1.5;stroke-dasharray:6 4}
svg .band{fill:#fff3e0}svg .spec{fill:none;stroke:#3f51b5;stroke-width:1.2}svg .tone{fill:none;stroke:#8e24aa;stroke-width:2}
svg .edge{stroke:#ef6c00;stroke-dasharray:4 3}svg .bar{fill:#5c8fd6}svg text.lbl{fill:#1d2125}
details{margin:8px 0}summary{cursor:default;color:#59626b}
footer{margin-top:32px;color:#7b858e;font-size:12px}
`
