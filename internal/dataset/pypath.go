package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"unicode"
)

// pyJoin is Python's posixpath.join: a component that starts with "/"
// discards everything before it.
func pyJoin(a string, p ...string) string {
	out := a
	for _, b := range p {
		switch {
		case strings.HasPrefix(b, "/"):
			out = b
		case out == "" || strings.HasSuffix(out, "/"):
			out += b
		default:
			out += "/" + b
		}
	}
	return out
}

// rootMark stands for the dataset root in joined paths; it cannot occur in
// a decoded name.
const rootMark = "\x00root\x00"

// clipPath is where coqui would open a clip, relative to the dataset root.
type clipPath struct {
	Joined   string // what os.path.join gives, with the root written as "ROOT"
	Rel      string // cleaned path inside the root, "" when it leaves the root
	Absolute bool   // an absolute component replaced the root
	DotDot   bool   // a ".." component
	NUL      bool   // Python refuses the path (embedded null byte)
}

// resolveClip joins parts under the root as coqui does and says where the
// result lies, without touching the file system.
func resolveClip(parts ...string) clipPath {
	j := pyJoin(rootMark, parts...)
	c := clipPath{Joined: strings.ReplaceAll(j, rootMark, "ROOT")}
	if strings.ContainsRune(strings.ReplaceAll(j, rootMark, ""), 0) {
		c.NUL = true
		return c
	}
	rest, ok := strings.CutPrefix(j, rootMark+"/")
	if !ok {
		c.Absolute = true
		return c
	}
	for _, e := range strings.Split(rest, "/") {
		if e == ".." {
			c.DotDot = true
		}
	}
	cl := path.Clean(rest)
	if cl == ".." || strings.HasPrefix(cl, "../") || cl == "." {
		return c
	}
	c.Rel = cl
	return c
}

// errLink marks a clip path that passes through a symbolic link.
var errLink = errors.New("symbolic link")

// lstatClip checks every component of rel (a clean path inside fsys) with
// Lstat, without following links, and returns the final file's info.
func lstatClip(fsys fs.FS, rel string) (fs.FileInfo, error) {
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		fi, err := lstat(fsys, p)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target := "?"
			if rl, ok := fsys.(fs.ReadLinkFS); ok {
				if t, err := rl.ReadLink(p); err == nil {
					target = t
				}
			}
			return nil, fmt.Errorf("%w: %q -> %q", errLink, p, target)
		}
		if i < len(parts)-1 && !fi.IsDir() {
			return nil, fmt.Errorf("%q: %w", p, fs.ErrNotExist)
		}
	}
	return lstat(fsys, rel)
}

func lstat(fsys fs.FS, name string) (fs.FileInfo, error) {
	if rl, ok := fsys.(fs.ReadLinkFS); ok {
		return rl.Lstat(name)
	}
	return fs.Stat(fsys, name)
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0x2028, 0x2029:
		return true
	}
	return unicode.Is(unicode.Zs, r)
}

// pyStrip is Python's str.strip() without arguments.
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }
