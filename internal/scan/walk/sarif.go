package walk

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/ttsguard/ttsguard/internal/sarif"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// WriteSARIF writes the report as SARIF 2.1.0. Paths are made relative to
// base (the repository root for GitHub) when they lie inside it.
func (r *Report) WriteSARIF(w io.Writer, version, base string) error {
	var b sarif.Builder
	add := func(path string, f scan.Finding) {
		var off int64
		if f.Member == "" && f.Offset > 0 {
			off = f.Offset
		}
		b.Add(f.Rule, f.Severity, describe(f), sarif.At(uri(path, base), 1, off))
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
	return b.Write(w, version)
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
