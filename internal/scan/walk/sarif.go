package walk

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// SARIF 2.1.0, as GitHub code scanning reads it.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	ShortDescription     sarifText      `json:"shortDescription"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region struct {
			StartLine  int   `json:"startLine"`
			ByteOffset int64 `json:"byteOffset,omitempty"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

func level(s scan.Severity) string {
	switch {
	case s >= scan.High:
		return "error"
	case s >= scan.Medium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's 0-10 score for a severity.
func securitySeverity(s scan.Severity) string {
	return map[scan.Severity]string{scan.Critical: "9.8", scan.High: "8.0", scan.Medium: "5.0", scan.Low: "2.0", scan.Info: "0.0"}[s]
}

// WriteSARIF writes the report as SARIF 2.1.0. Paths are made relative to
// base (the repository root for GitHub) when they lie inside it.
func (r *Report) WriteSARIF(w io.Writer, version, base string) error {
	rules := map[string]scan.Severity{}
	var results []sarifResult
	add := func(path string, f scan.Finding) {
		if s, ok := rules[f.Rule]; !ok || f.Severity > s {
			rules[f.Rule] = f.Severity
		}
		res := sarifResult{RuleID: f.Rule, Level: level(f.Severity), Message: sarifText{Text: describe(f)}}
		var loc sarifLocation
		loc.PhysicalLocation.ArtifactLocation.URI = uri(path, base)
		loc.PhysicalLocation.Region.StartLine = 1
		if f.Member == "" && f.Offset > 0 {
			loc.PhysicalLocation.Region.ByteOffset = f.Offset
		}
		res.Locations = []sarifLocation{loc}
		results = append(results, res)
	}
	for _, fr := range r.Files {
		for _, f := range fr.Findings {
			if f.Severity > scan.Info {
				add(fr.Path, f)
			}
		}
		if fr.Verdict == Unscannable || fr.Verdict == VerdictError {
			add(fr.Path, scan.Finding{Rule: "scan/unscannable", Severity: scan.High, Offset: -1, Message: "could not be fully parsed, so it is not shown to be safe: " + fr.Unscannable})
		}
	}
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var sr []sarifRule
	for _, id := range ids {
		sr = append(sr, sarifRule{ID: id, ShortDescription: sarifText{Text: id},
			DefaultConfiguration: map[string]any{"level": level(rules[id])},
			Properties:           map[string]any{"security-severity": securitySeverity(rules[id]), "tags": []string{"security"}}})
	}
	if results == nil {
		results = []sarifResult{}
	}
	log := sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0",
		Runs: []sarifRun{{Tool: sarifTool{Driver: sarifDriver{Name: "ttsguard", Version: version, InformationURI: "https://github.com/ttsguard/ttsguard", Rules: sr}}, Results: results}}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func describe(f scan.Finding) string {
	var parts []string
	if f.Member != "" {
		parts = append(parts, "member "+f.Member)
	}
	if f.Offset >= 0 {
		parts = append(parts, fmt.Sprintf("offset %d", f.Offset))
	}
	if f.Opcode != "" {
		parts = append(parts, "opcode "+f.Opcode)
	}
	if f.Global != "" {
		parts = append(parts, "global "+f.Global)
	}
	if f.Field != "" {
		parts = append(parts, "field "+f.Field)
	}
	return fmt.Sprintf("%s (%s): %s", f.Severity, strings.Join(parts, ", "), f.Message)
}

func uri(path, base string) string {
	if base != "" {
		if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(path)
}

// Text writes one line per finding: file, member, offset, opcode, global or
// field, severity and why; then a verdict line per file.
func (r *Report) Text(w io.Writer) error {
	var b strings.Builder
	for _, fr := range r.Files {
		for _, f := range fr.Findings {
			fmt.Fprintf(&b, "%s: %s\n", fr.Path, f)
		}
		switch fr.Verdict {
		case Clean:
			fmt.Fprintf(&b, "%s: clean (%s)\n", fr.Path, fr.Format)
		case Unsafe:
			fmt.Fprintf(&b, "%s: UNSAFE (%s)\n", fr.Path, fr.Format)
		default:
			fmt.Fprintf(&b, "%s: UNSCANNABLE (%s): %s\n", fr.Path, fr.Format, fr.Unscannable)
		}
	}
	n := map[string]int{}
	for _, fr := range r.Files {
		n[fr.Verdict]++
	}
	fmt.Fprintf(&b, "scanned %d files (profile %s): %d clean, %d unsafe, %d unscannable, in %.1f ms\n",
		len(r.Files), r.Profile, n[Clean], n[Unsafe], n[Unscannable]+n[VerdictError], r.ElapsedMS)
	_, err := io.WriteString(w, b.String())
	return err
}
