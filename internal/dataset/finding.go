// Package dataset audits coqui TTS training datasets: it reads metadata
// exactly as coqui's formatters (TTS/tts/datasets/formatters.py) do,
// including Python's text-mode line splitting and csv module, and reports
// unsafe metadata, text triggers, broken or inconsistent audio and labels
// that do not fit their audio. It never prints; the CLI renders the Report.
package dataset

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/ttsguard/ttsguard/internal/sarif"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// Finding is one problem, located by metadata file and line, clip id or file.
type Finding struct {
	Rule     string        `json:"rule"`              // stable, e.g. "meta/path-escape"
	Dataset  string        `json:"dataset,omitempty"` // the config's datasets[] entry, when the audit read several
	Severity scan.Severity `json:"severity"`
	File     string        `json:"file,omitempty"` // metadata or audio file, relative to the dataset root
	Line     int           `json:"line,omitempty"` // 1-based line of File as Python counts it
	Clip     string        `json:"clip,omitempty"` // clip id as the metadata gives it
	Field    string        `json:"field,omitempty"`
	Message  string        `json:"message"` // the evidence
}

func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s]", f.Severity, f.Rule)
	if f.Dataset != "" {
		fmt.Fprintf(&b, " %s", safe(f.Dataset))
	}
	if f.File != "" {
		fmt.Fprintf(&b, " %s", safe(f.File))
		if f.Line > 0 {
			fmt.Fprintf(&b, ":%d", f.Line)
		}
	}
	if f.Clip != "" {
		fmt.Fprintf(&b, " clip=%q", f.Clip)
	}
	if f.Field != "" {
		fmt.Fprintf(&b, " field=%s", safe(f.Field))
	}
	fmt.Fprintf(&b, ": %s", f.Message)
	return b.String()
}

// visible reports whether s holds only characters that print as
// themselves: no controls (line breaks included), no format characters
// (bidi controls, zero-width), no line or paragraph separators.
func visible(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// safe returns s for printing: as it is when every character is visible
// and harmless, else Go-quoted (escapes, controls, bidi and invisible
// characters written as \x.., \u....).
func safe(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.Is(unicode.Cf, r) || r == '"' {
			return strconv.Quote(s)
		}
	}
	return s
}

// Report is the result of one audit.
type Report struct {
	Root      string `json:"root"`
	Formatter string `json:"formatter"`
	// RootDigest is the dataset folder's OMS root digest (what `ttsguard
	// digest DIR` prints), set by the caller; RootDigestError says why
	// there is none (a link in the folder, say).
	RootDigest      string         `json:"root_digest,omitempty"`
	RootDigestError string         `json:"root_digest_error,omitempty"`
	MetaFiles       []string       `json:"meta_files"`
	Rows            int            `json:"rows"`  // metadata rows coqui would read
	Clips           int            `json:"clips"` // audio files decoded
	Seconds         float64        `json:"audio_seconds"`
	Majority        string         `json:"majority_format,omitempty"` // e.g. "22050 Hz, 1 ch, pcm16"
	Counts          map[string]int `json:"counts"`                    // findings by severity
	Composition     []Group        `json:"composition"`               // per speaker and split
	Findings        []Finding      `json:"findings"`
	Silenced        []Finding      `json:"silenced,omitempty"` // findings the policy's dataset.ignore matched
	Worst           scan.Severity  `json:"worst"`
	// Parts are the datasets of a config audited together (AuditParts);
	// empty for a single folder.
	Parts []PartSummary `json:"datasets,omitempty"`
	Plots *Plots        `json:"plots,omitempty"` // data behind the HTML report's plots (plotdata.go)
	// Shards is how many shard reports Merge put together (0: an
	// unsharded audit).
	Shards int `json:"shards,omitempty"`
}

// add records a finding.
func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }

// findingOrder is the order of a report's findings: worst first, then by
// rule, place, field and message (a total order, so the findings of a
// merged sharded audit come out as the unsharded audit's).
func findingOrder(a, b Finding) int {
	return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Dataset, b.Dataset),
		cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Clip, b.Clip),
		cmp.Compare(a.Field, b.Field), cmp.Compare(a.Message, b.Message))
}

// finish sorts findings and silenced findings (findingOrder) and counts
// the findings.
func (r *Report) finish() {
	slices.SortStableFunc(r.Findings, findingOrder)
	slices.SortStableFunc(r.Silenced, findingOrder)
	r.Counts = map[string]int{}
	r.Worst = scan.Info
	for _, f := range r.Findings {
		r.Counts[f.Severity.String()]++
		r.Worst = max(r.Worst, f.Severity)
	}
}

// Failed reports a finding at or above threshold.
func (r *Report) Failed(threshold scan.Severity) bool {
	return len(r.Findings) > 0 && r.Worst >= threshold
}

// Text writes the report for people: a summary, then the findings worst
// first. Untrusted strings are quoted by Finding.String.
func (r *Report) Text(w io.Writer) error {
	fmt.Fprintf(w, "dataset %s (formatter %s): %d rows, %d clips decoded, %.1f s of audio\n",
		safe(r.Root), r.Formatter, r.Rows, r.Clips, r.Seconds)
	if r.Shards > 0 {
		fmt.Fprintf(w, "merged from %d shards\n", r.Shards)
	}
	if r.Majority != "" {
		fmt.Fprintf(w, "majority format: %s\n", r.Majority)
	}
	switch {
	case r.RootDigest != "":
		fmt.Fprintf(w, "root digest: %s\n", r.RootDigest)
	case r.RootDigestError != "":
		fmt.Fprintf(w, "root digest: none (%s)\n", safe(r.RootDigestError))
	}
	for _, p := range r.Parts {
		fmt.Fprintf(w, "%s: %s (formatter %s", safe(p.Name), safe(p.Root), p.Formatter)
		if p.Language != "" {
			fmt.Fprintf(w, ", language %s", safe(p.Language))
		}
		fmt.Fprintf(w, "): %d rows, %d clips, %.1f s", p.Rows, p.Clips, p.Seconds)
		if p.RootDigest != "" {
			fmt.Fprintf(w, ", root digest %s", p.RootDigest)
		}
		fmt.Fprintln(w)
	}
	r.compositionText(w)
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  %s\n", f)
	}
	var parts []string
	for _, s := range []scan.Severity{scan.Critical, scan.High, scan.Medium, scan.Low, scan.Info} {
		if n := r.Counts[s.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if n := len(r.Silenced); n > 0 {
		fmt.Fprintf(w, "%d silenced by the policy (dataset.ignore; --json lists them)\n", n)
	}
	if len(parts) == 0 {
		_, err := fmt.Fprintln(w, "no findings")
		return err
	}
	noun := "findings"
	if len(r.Findings) == 1 {
		noun = "finding"
	}
	_, err := fmt.Fprintf(w, "%d %s: %s\n", len(r.Findings), noun, strings.Join(parts, ", "))
	return err
}

// WriteSARIF writes the findings at or above low as SARIF 2.1.0 (ttsguard
// version given); each is located at its metadata or audio file, made
// relative to base (the repository root for GitHub) when it lies inside.
func (r *Report) WriteSARIF(w io.Writer, version, base string) error {
	var b sarif.Builder
	for _, f := range r.Findings {
		if f.Severity < scan.Low {
			continue
		}
		p := filepath.Join(r.Root, filepath.FromSlash(f.File))
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if rel, err := filepath.Rel(base, p); base != "" && err == nil && !strings.HasPrefix(rel, "..") {
			p = rel
		}
		msg := f.Message
		if f.Clip != "" {
			msg = fmt.Sprintf("clip %q: %s", f.Clip, msg)
		}
		b.Add(f.Rule, f.Severity, msg, sarif.At(filepath.ToSlash(p), f.Line, 0))
	}
	return b.Write(w, version)
}
