package hub

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultRevision is the revision of a repository when none is given, as in
// huggingface_hub.
const DefaultRevision = "main"

// SourceScheme starts a Hub source: "hf://OWNER/REPO[@REVISION]".
const SourceScheme = "hf://"

// Limits on names.
const (
	maxRepoPart    = 96  // huggingface_hub's limit on each part of a repo id
	maxRevisionLen = 255 // bytes of a revision name
)

// ErrInvalid is the category of a malformed repo id, revision, hf:// source
// or allow/ignore pattern.
var ErrInvalid = errors.New("invalid Hugging Face reference")

// ParseRepoID checks a model repository id: OWNER/NAME, each part 1 to 96
// ASCII letters, digits, "_", "-" or ".", starting and ending with a letter,
// digit or "_", with no "--" or ".." and a NAME not ending in ".git" (the
// rules of huggingface_hub's validate_repo_id, plus a required owner).
func ParseRepoID(id string) error {
	owner, name, ok := strings.Cut(id, "/")
	if !ok || strings.Contains(name, "/") {
		return fmt.Errorf("%w: repo id %q: want OWNER/NAME", ErrInvalid, id)
	}
	for _, part := range []string{owner, name} {
		if why := badRepoPart(part); why != "" {
			return fmt.Errorf("%w: repo id %q: %q %s", ErrInvalid, id, part, why)
		}
	}
	if strings.HasSuffix(name, ".git") {
		return fmt.Errorf("%w: repo id %q: a name may not end in .git", ErrInvalid, id)
	}
	return nil
}

func badRepoPart(s string) string {
	if s == "" || len(s) > maxRepoPart {
		return fmt.Sprintf("must have 1 to %d characters", maxRepoPart)
	}
	for i := 0; i < len(s); i++ {
		if !isWord(s[i]) && s[i] != '-' && s[i] != '.' {
			return "may hold only ASCII letters, digits, '_', '-' and '.'"
		}
	}
	if !isWord(s[0]) || !isWord(s[len(s)-1]) {
		return "must start and end with a letter, digit or '_'"
	}
	if strings.Contains(s, "--") || strings.Contains(s, "..") {
		return "may not hold \"--\" or \"..\""
	}
	return ""
}

func isWord(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// ValidRevision checks a revision: a branch, tag or commit name of 1 to 255
// ASCII letters, digits and "._-/", not starting with "-", "." or "/", not
// ending with "/", "." or ".lock", without "..", "//" or "/.". (Git allows
// more; the Hub's own names and coqui's fit.)
func ValidRevision(rev string) error {
	bad := func(why string) error { return fmt.Errorf("%w: revision %q: %s", ErrInvalid, rev, why) }
	if rev == "" || len(rev) > maxRevisionLen {
		return bad(fmt.Sprintf("must have 1 to %d characters", maxRevisionLen))
	}
	for i := 0; i < len(rev); i++ {
		if c := rev[i]; !isWord(c) && c != '-' && c != '.' && c != '/' {
			return bad("may hold only ASCII letters, digits, '_', '-', '.' and '/'")
		}
	}
	switch {
	case strings.ContainsAny(rev[:1], "-./"):
		return bad("may not start with '-', '.' or '/'")
	case strings.HasSuffix(rev, "/") || strings.HasSuffix(rev, ".") || strings.HasSuffix(rev, ".lock"):
		return bad("may not end with '/', '.' or \".lock\"")
	case strings.Contains(rev, "..") || strings.Contains(rev, "//") || strings.Contains(rev, "/."):
		return bad("may not hold \"..\", \"//\" or \"/.\"")
	}
	return nil
}

// IsCommit reports whether s is a full commit id: 40 lowercase hex digits.
func IsCommit(s string) bool { return isHex(s, 40) }

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Source is a parsed "hf://OWNER/REPO[@REVISION]".
type Source struct {
	Repo     string // OWNER/REPO
	Revision string // DefaultRevision when the source names none
}

// String returns the source in its canonical form (the revision always
// written).
func (s Source) String() string { return SourceScheme + s.Repo + "@" + s.Revision }

// IsSource reports whether s has the hf:// scheme (whether or not it is
// well formed).
func IsSource(s string) bool { return strings.HasPrefix(s, SourceScheme) }

// ParseSource parses "hf://OWNER/REPO[@REVISION]": a model repository (not
// datasets/ or spaces/) and an optional revision (branch, tag or commit;
// "main" when absent). Errors wrap ErrInvalid and quote s.
func ParseSource(s string) (Source, error) {
	if !IsSource(s) {
		return Source{}, fmt.Errorf("%w: %q: want hf://OWNER/REPO[@REVISION]", ErrInvalid, s)
	}
	if !utf8.ValidString(s) || len(s) > len(SourceScheme)+2*maxRepoPart+1+1+maxRevisionLen {
		return Source{}, fmt.Errorf("%w: %q: too long or not UTF-8", ErrInvalid, s)
	}
	rest := strings.TrimPrefix(s, SourceScheme)
	repo, rev, hasRev := strings.Cut(rest, "@")
	if owner, _, _ := strings.Cut(repo, "/"); owner == "datasets" || owner == "spaces" || owner == "kernels" {
		return Source{}, fmt.Errorf("%w: %q: only model repositories can be pulled, not %s", ErrInvalid, s, owner)
	}
	if err := ParseRepoID(repo); err != nil {
		return Source{}, fmt.Errorf("%q: %w", s, err)
	}
	if !hasRev {
		rev = DefaultRevision
	}
	if err := ValidRevision(rev); err != nil {
		return Source{}, fmt.Errorf("%q: %w", s, err)
	}
	return Source{Repo: repo, Revision: rev}, nil
}
