// Package sarif writes findings as SARIF 2.1.0, as GitHub code scanning
// reads it: one run of the ttsguard driver, a rule per finding id graded by
// its worst severity, a result per finding with one physical location.
package sarif

import (
	"encoding/json"
	"io"
	"slices"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// Log is a SARIF 2.1.0 log.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// Run is one tool run.
type Run struct {
	Tool    Tool     `json:"tool"`
	Results []Result `json:"results"`
}

// Tool names the driver.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool and its rules.
type Driver struct {
	Name           string `json:"name"`
	Version        string `json:"version,omitempty"`
	InformationURI string `json:"informationUri"`
	Rules          []Rule `json:"rules"`
}

// Rule describes one finding id.
type Rule struct {
	ID                   string         `json:"id"`
	ShortDescription     Text           `json:"shortDescription"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

// Text is a message.
type Text struct {
	Text string `json:"text"`
}

// Result is one finding.
type Result struct {
	RuleID    string     `json:"ruleId"`
	Level     string     `json:"level"`
	Message   Text       `json:"message"`
	Locations []Location `json:"locations"`
}

// Location is a file and a place in it.
type Location struct {
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

// At is a location: uri (slash-separated, relative to the repository), a
// 1-based line (1 when unknown) and a byte offset (0: none).
func At(uri string, line int, offset int64) Location {
	var l Location
	l.PhysicalLocation.ArtifactLocation.URI = uri
	l.PhysicalLocation.Region.StartLine = max(line, 1)
	l.PhysicalLocation.Region.ByteOffset = offset
	return l
}

// Level is SARIF's level for a severity.
func Level(s scan.Severity) string {
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

// Builder collects results and the worst severity of each rule.
type Builder struct {
	rules   map[string]scan.Severity
	results []Result
}

// Add records one finding at loc.
func (b *Builder) Add(rule string, sev scan.Severity, message string, loc Location) {
	if b.rules == nil {
		b.rules = map[string]scan.Severity{}
	}
	if s, ok := b.rules[rule]; !ok || sev > s {
		b.rules[rule] = sev
	}
	b.results = append(b.results, Result{RuleID: rule, Level: Level(sev), Message: Text{message}, Locations: []Location{loc}})
}

// Write writes the log of one ttsguard run (version: ttsguard's).
func (b *Builder) Write(w io.Writer, version string) error {
	var rules []Rule
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range b.rules {
			if !yield(id) {
				return
			}
		}
	}) {
		rules = append(rules, Rule{ID: id, ShortDescription: Text{id},
			DefaultConfiguration: map[string]any{"level": Level(b.rules[id])},
			Properties:           map[string]any{"security-severity": securitySeverity(b.rules[id]), "tags": []string{"security"}}})
	}
	results := b.results
	if results == nil {
		results = []Result{}
	}
	log := Log{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0",
		Runs: []Run{{Tool: Tool{Driver: Driver{Name: "ttsguard", Version: version, InformationURI: "https://github.com/ttsguard/ttsguard", Rules: rules}}, Results: results}}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}
