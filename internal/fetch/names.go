package fetch

import (
	"errors"
	"path"
	"strings"
	"unicode/utf8"
)

// Bounds on entry names (they also bound memory: MaxEntries names at most).
const (
	maxNameLen = 4096
	maxDepth   = 64
)

// errRootName: the name means the destination itself ("./", "."). A folder
// entry with such a name is dropped; a file entry is refused.
var errRootName = errors.New("name refers to the destination itself")

// cleanName validates an archive entry name and returns it cleaned (slash
// separated, relative, without "." components or a trailing slash) and
// whether the raw name ends with a slash.
//
// Refused: empty names, names longer than maxNameLen or deeper than
// maxDepth, invalid UTF-8, NUL and other control characters, backslashes,
// absolute paths, drive letters, and any ".." component.
func cleanName(raw string) (rel string, slash bool, err error) {
	switch {
	case raw == "":
		return "", false, errors.New("empty name")
	case len(raw) > maxNameLen:
		return "", false, errors.New("name too long")
	case !utf8.ValidString(raw):
		return "", false, errors.New("name is not UTF-8")
	}
	for _, r := range raw {
		switch {
		case r == 0:
			return "", false, errors.New("NUL in name")
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return "", false, errors.New("control character in name")
		case r == '\\':
			return "", false, errors.New("backslash in name")
		}
	}
	if raw[0] == '/' {
		return "", false, errors.New("absolute path")
	}
	if len(raw) >= 2 && raw[1] == ':' && ('a' <= raw[0]|0x20 && raw[0]|0x20 <= 'z') {
		return "", false, errors.New("drive letter in name")
	}
	for c := range strings.SplitSeq(raw, "/") {
		if c == ".." {
			return "", false, errors.New(`".." in name`)
		}
	}
	slash = strings.HasSuffix(raw, "/")
	rel = path.Clean(raw)
	if rel == "." || rel == "" {
		return "", slash, errRootName
	}
	if strings.Count(rel, "/") >= maxDepth {
		return "", false, errors.New("name too deep")
	}
	return rel, slash, nil
}

// isJunk reports the macOS metadata that archivers add: anything under a
// top-level "__MACOSX" folder and AppleDouble "._*" files or folders.
func isJunk(rel string) bool {
	first, _, _ := strings.Cut(rel, "/")
	if first == "__MACOSX" {
		return true
	}
	for c := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(c, "._") {
			return true
		}
	}
	return false
}
