package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ttsguard/ttsguard/internal/access"
)

// Severity grades a doctor finding.
type Severity int

// Severities, lowest first.
const (
	Low    Severity = iota + 1 // untidy: garbage, leftovers, modes tighter or looser than needed for reading
	Medium                     // weakens a protection: a read-only file writable by its owner, an unexpected entry
	High                       // someone other than the store's owner can change what is trusted or loaded
)

var severityNames = map[Severity]string{Low: "low", Medium: "medium", High: "high"}

func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Rules: the stable identifiers of what a finding is about.
const (
	RuleMode          = "mode"                 // mode bits differ from the expected mode
	RuleOwner         = "owner"                // owned by the wrong user
	RuleServing       = "serving-user"         // the serving user can change it (owns it, or is root)
	RuleSymlink       = "symlink"              // a symbolic link where none may be, or a bad current link
	RuleSpecial       = "special-file"         // a FIFO, socket or device in the store
	RuleUnexpected    = "unexpected"           // an entry the store layout does not have
	RuleUnlisted      = "unlisted"             // a file in a version folder that its metadata does not list
	RuleMissing       = "missing"              // a file the metadata lists is not there, or a store folder is missing
	RuleNotLinked     = "not-linked"           // a model file that is not a hard link to its blob
	RuleMetadata      = "metadata"             // a version's metadata cannot be read or is inconsistent
	RuleGarbage       = "garbage"              // a blob no version uses, or a version folder without metadata
	RuleLeftover      = "leftover"             // an entry in tmp/ no live process holds
	RulePrivateKey    = "private-key"          // a PEM private key readable by group or others
	RuleFolder        = "folder"               // a folder holding trusted files is writable by others
	RuleNotAStore     = "not-a-store"          // the store folder does not look like a ttsguard store
	RuleNoServingUser = "serving-user-unknown" // the serving user named by the policy does not exist
	RuleIdentity      = "identity"             // store.encryption.identity is missing, not root's, or readable by others
)

// Finding is one problem doctor found, with what to do about it.
type Finding struct {
	Path     string   `json:"path"`
	Rule     string   `json:"rule"`
	Problem  string   `json:"problem"`
	Severity Severity `json:"severity"`
	Fix      string   `json:"fix"`     // a concrete command or action
	Fixable  bool     `json:"fixable"` // doctor --fix repairs it (a chmod, or a chown when run as root)

	act *action // what --fix does; nil when not fixable
}

// Checked counts what one audit pass looked at.
type Checked struct {
	Folders    int `json:"folders"`
	Files      int `json:"files"`
	Symlinks   int `json:"symlinks"`
	Versions   int `json:"versions"`
	Blobs      int `json:"blobs"`
	KeyFiles   int `json:"key_files"`   // files the policy names (keys, certificates, CA bundle, trust roots)
	PEMScanned int `json:"pem_scanned"` // files read to look for private keys
}

// Report is the evidence of one doctor run. With Options.Fix, Findings are
// those of the check made after fixing, and Fixed lists what was repaired.
type Report struct {
	Policy      string     `json:"policy"` // the policy file, or "" for the built-in default
	Lock        string     `json:"lock"`   // the lock file checked ("" when none exists)
	Store       string     `json:"store"`  // the store folder ("" when none exists)
	ServingUser *Principal `json:"serving_user,omitempty"`
	Checked     Checked    `json:"checked"`
	Findings    []Finding  `json:"findings"`
	Fixed       []Finding  `json:"fixed,omitempty"`
	FixErrors   []string   `json:"fix_errors,omitempty"`
	Notes       []string   `json:"notes,omitempty"`
	Errors      []string   `json:"errors,omitempty"` // paths that could not be checked (I/O errors)
	// Access is the effective access report: who can read and write each
	// model and the policy.
	Access *AccessReport `json:"access,omitempty"`
}

// Count returns how many findings of each severity remain, and how many of
// them --fix could repair.
func (r *Report) Count() (high, medium, low, fixable int) {
	for _, f := range r.Findings {
		switch f.Severity {
		case High:
			high++
		case Medium:
			medium++
		default:
			low++
		}
		if f.Fixable {
			fixable++
		}
	}
	return
}

// Text writes one line per finding (severity, path, problem, fix), then what
// was fixed, notes, errors and a summary line.
func (r *Report) Text(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Fixed {
		fmt.Fprintf(&b, "fixed   %s: %s (%s)\n", f.Path, f.Problem, f.Fix)
	}
	for _, e := range r.FixErrors {
		fmt.Fprintf(&b, "could not fix: %s\n", e)
	}
	for _, f := range r.Findings {
		mark := ""
		if f.Fixable {
			mark = " [--fix]"
		}
		fmt.Fprintf(&b, "%-7s %s: %s; fix: %s%s\n", f.Severity, f.Path, f.Problem, f.Fix, mark)
	}
	if r.Access != nil {
		for _, t := range r.Access.Targets {
			fmt.Fprintf(&b, "access  %s: read by %s; written by %s\n", t.What, subjects(t.Readers()), subjects(t.Writers()))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	pol := r.Policy
	if pol == "" {
		pol = "built-in default"
	}
	c := r.Checked
	fmt.Fprintf(&b, "checked policy %s, lock %s, store %s: %s, %s, %s, %s, %s\n",
		pol, orNone(r.Lock), orNone(r.Store), plural(c.Folders, "folder"), plural(c.Files, "file"),
		plural(c.Versions, "version"), plural(c.Blobs, "blob"), plural(c.KeyFiles, "key file"))
	high, medium, low, fixable := r.Count()
	switch {
	case len(r.Errors) > 0:
		fmt.Fprintf(&b, "doctor INCOMPLETE: %s could not be checked\n", plural(len(r.Errors), "path"))
	case len(r.Findings) == 0:
		b.WriteString("doctor OK: no findings\n")
	default:
		fmt.Fprintf(&b, "doctor: %s (%d high, %d medium, %d low), %d fixable with --fix\n",
			plural(len(r.Findings), "finding"), high, medium, low, fixable)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func subjects(ss []access.Subject) string {
	if len(ss) == 0 {
		return "nobody"
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.String()
	}
	return strings.Join(out, ", ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// sortFindings orders findings by severity (highest first), path and rule.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Rule < b.Rule
	})
}

// shellQuote quotes p for a POSIX shell when it holds anything but safe characters.
func shellQuote(p string) string {
	safe := p != ""
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+:,@%=", c)) {
			safe = false
			break
		}
	}
	if safe {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}
