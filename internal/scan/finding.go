// Package scan holds what every checkpoint scanner shares: findings and their
// severity, per-file reports, the allowlist policy (profiles), resource
// limits, and format detection by content. The format scanners live in
// subpackages (pickle, torch, numpy, safetensors, config, sevenzip); the
// walker that dispatches files to them is scan/walk.
package scan

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Severity grades a finding. Anything at or above Low makes a file unsafe;
// Info is evidence only.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium   // not on the allowlist, no known harm
	High     // file system or network access
	Critical // code execution
)

var severityNames = []string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity's name (info, low, medium, high,
// critical); anything else is an error.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return fmt.Errorf("severity: want a name, got %.40s", b)
	}
	for i, n := range severityNames {
		if n == name {
			*s = Severity(i)
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q", name)
}

// Finding is one reason a file is not clean.
type Finding struct {
	Rule     string   `json:"rule"`             // stable identifier, e.g. "pickle/global-not-allowed"
	Severity Severity `json:"severity"`         //
	Member   string   `json:"member,omitempty"` // archive member path; nested members joined with "!"
	Offset   int64    `json:"offset"`           // byte offset in the member (or file), -1 when not applicable
	Opcode   string   `json:"opcode,omitempty"` // pickle opcode name
	Global   string   `json:"global,omitempty"` // "module.qualname" of a pickle global
	Field    string   `json:"field,omitempty"`  // config field path, header key ...
	Message  string   `json:"message"`          // why
}

// String is the one-line text form (without the file name).
func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", f.Severity)
	if f.Member != "" {
		fmt.Fprintf(&b, " member=%s", f.Member)
	}
	if f.Offset >= 0 {
		fmt.Fprintf(&b, " offset=%d", f.Offset)
	}
	if f.Opcode != "" {
		fmt.Fprintf(&b, " opcode=%s", f.Opcode)
	}
	if f.Global != "" {
		fmt.Fprintf(&b, " global=%s", f.Global)
	}
	if f.Field != "" {
		fmt.Fprintf(&b, " field=%s", f.Field)
	}
	fmt.Fprintf(&b, " [%s] %s", f.Rule, f.Message)
	return b.String()
}

// Sink collects findings. Scanners report into it and never print.
type Sink interface {
	Add(Finding)
}

// Findings is a Sink that keeps everything in order.
type Findings []Finding

// Add appends f.
func (fs *Findings) Add(f Finding) { *fs = append(*fs, f) }

// Prefixed returns a Sink that puts member (and "!" before an existing
// member) in front of every finding's member, and adds base to offsets when
// the finding has no member of its own yet.
func Prefixed(s Sink, member string) Sink {
	if member == "" {
		return s
	}
	return prefixed{s, member}
}

type prefixed struct {
	s      Sink
	member string
}

func (p prefixed) Add(f Finding) {
	if f.Member == "" {
		f.Member = p.member
	} else {
		f.Member = p.member + "!" + f.Member
	}
	p.s.Add(f)
}
