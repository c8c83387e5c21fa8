package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// Limits on what the Hub's API may return; keep every limit here.
const (
	MaxResponseBytes = 16 << 20 // one JSON response (model info or one tree page)
	MaxFiles         = 100_000  // files of one commit
	MaxPages         = 1_000    // pages of one tree listing
	MaxPathLen       = 4096     // bytes of a file path
	maxSegmentLen    = 255      // bytes of one path segment
	maxFileSize      = 1 << 50  // a declared file size
	maxErrorMessage  = 200      // bytes of a server's error message kept in an error
)

// ErrBadResponse is the category of an API response that is not what the
// Hub sends: malformed JSON, a missing or invalid field, a listing that
// contradicts itself, too large.
var ErrBadResponse = errors.New("bad response from the Hub")

// Info is what the revision endpoint says about a repository.
type Info struct {
	ID       string   // the repository's canonical id
	Commit   string   // the commit the revision points to (40 hex)
	Gated    string   // "" (not gated), "auto" or "manual"
	Private  bool     //
	Disabled bool     //
	Files    []string // siblings[].rfilename, as listed
}

type infoWire struct {
	ID       string          `json:"id"`
	SHA      string          `json:"sha"`
	Gated    json.RawMessage `json:"gated"`
	Private  bool            `json:"private"`
	Disabled bool            `json:"disabled"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

// ParseInfo parses the body of GET /api/models/{repo}/revision/{revision}:
// a JSON object whose "sha" is a 40-hex commit; "id" (if present) a repo id;
// "gated" false, null, "auto" or "manual"; "siblings" (if present) a list of
// {"rfilename": path}. Other members are ignored. Errors wrap ErrBadResponse.
func ParseInfo(data []byte) (*Info, error) {
	if err := jsonValue(data, '{'); err != nil {
		return nil, err
	}
	var w infoWire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: model info: %v", ErrBadResponse, err)
	}
	if !IsCommit(w.SHA) {
		return nil, fmt.Errorf("%w: model info: sha %q is not a 40-hex commit", ErrBadResponse, clip(w.SHA))
	}
	if w.ID != "" && ParseRepoID(w.ID) != nil {
		return nil, fmt.Errorf("%w: model info: id %q is not a repo id", ErrBadResponse, clip(w.ID))
	}
	in := &Info{ID: w.ID, Commit: w.SHA, Private: w.Private, Disabled: w.Disabled}
	switch g := string(bytes.TrimSpace(w.Gated)); g {
	case "", "null", "false":
	case `"auto"`, `"manual"`:
		in.Gated = strings.Trim(g, `"`)
	default:
		return nil, fmt.Errorf("%w: model info: gated %q: want false, \"auto\" or \"manual\"", ErrBadResponse, clip(g))
	}
	if len(w.Siblings) > MaxFiles {
		return nil, fmt.Errorf("%w: model info: more than %d files", ErrBadResponse, MaxFiles)
	}
	for _, s := range w.Siblings {
		if err := CheckPath(s.RFilename); err != nil {
			return nil, fmt.Errorf("%w: model info: %v", ErrBadResponse, err)
		}
		in.Files = append(in.Files, s.RFilename)
	}
	return in, nil
}

// File is one file of a commit.
type File struct {
	Path   string // slash-separated, relative (see CheckPath)
	Size   int64  // bytes
	BlobID string // git blob id (40 hex): SHA-1 of "blob <size>\x00" + content (of the pointer, for LFS)
	// LFS is set for a file stored in Git LFS (or Xet): its content's
	// SHA-256, which the resolve endpoint repeats as X-Linked-Etag.
	LFS *LFS
}

// LFS is a file's large-file storage record.
type LFS struct {
	SHA256 string // 64 lowercase hex
	Size   int64
}

type treeWire struct {
	Type string `json:"type"`
	Path string `json:"path"`
	OID  string `json:"oid"`
	Size *int64 `json:"size"`
	LFS  *struct {
		OID  string `json:"oid"`
		Size *int64 `json:"size"`
	} `json:"lfs"`
}

// ParseTreePage parses one page of GET /api/models/{repo}/tree/{commit}: a
// JSON list of entries {"type": "file" | "directory", "path", "oid", "size",
// "lfs": {"oid", "size", "pointerSize"}}. Folders are skipped; every file
// needs a valid path, a 40-hex oid and a size, and an "lfs" record (if any) a
// 64-hex oid and a size, which is then the file's size (as huggingface_hub
// takes it; "oid" is then the pointer's blob id). Other members are ignored.
// Errors wrap ErrBadResponse.
func ParseTreePage(data []byte) ([]File, error) {
	if err := jsonValue(data, '['); err != nil {
		return nil, err
	}
	var w []treeWire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: tree: %v", ErrBadResponse, err)
	}
	if len(w) > MaxFiles {
		return nil, fmt.Errorf("%w: tree: more than %d entries", ErrBadResponse, MaxFiles)
	}
	var files []File
	for _, e := range w {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("%w: tree: entry %q: %s", ErrBadResponse, clip(e.Path), fmt.Sprintf(format, a...))
		}
		if err := CheckPath(e.Path); err != nil {
			return nil, fmt.Errorf("%w: tree: %v", ErrBadResponse, err)
		}
		switch e.Type {
		case "directory":
			continue
		case "file":
		default:
			return nil, bad("type %q: want \"file\" or \"directory\"", clip(e.Type))
		}
		if !isHex(e.OID, 40) {
			return nil, bad("oid %q is not a 40-hex git blob id", clip(e.OID))
		}
		if e.Size == nil || *e.Size < 0 || *e.Size > maxFileSize {
			return nil, bad("missing or invalid size")
		}
		f := File{Path: e.Path, Size: *e.Size, BlobID: e.OID}
		if e.LFS != nil {
			if !isHex(e.LFS.OID, 64) {
				return nil, bad("lfs oid %q is not a 64-hex SHA-256", clip(e.LFS.OID))
			}
			if e.LFS.Size == nil || *e.LFS.Size < 0 || *e.LFS.Size > maxFileSize {
				return nil, bad("missing or invalid lfs size")
			}
			f.Size = *e.LFS.Size
			f.LFS = &LFS{SHA256: e.LFS.OID, Size: f.Size}
		}
		files = append(files, f)
	}
	return files, nil
}

// jsonValue checks that data is one JSON value starting with open.
func jsonValue(data []byte, open byte) error {
	if len(data) > MaxResponseBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrBadResponse, MaxResponseBytes)
	}
	d := bytes.TrimLeft(data, " \t\r\n")
	if len(d) == 0 || d[0] != open {
		want := "object"
		if open == '[' {
			want = "list"
		}
		return fmt.Errorf("%w: want a JSON %s", ErrBadResponse, want)
	}
	if !json.Valid(data) {
		return fmt.Errorf("%w: invalid JSON", ErrBadResponse)
	}
	return nil
}

// CheckPath accepts a file path of a repository that can be written inside
// a model folder: relative, slash-separated, valid UTF-8 without control
// characters or backslashes, no empty, "." or ".." segment, no ".git"
// segment, at most MaxPathLen bytes and 255 bytes a segment.
func CheckPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("file path %q: %s", clip(p), why) }
	switch {
	case p == "" || len(p) > MaxPathLen:
		return bad(fmt.Sprintf("must have 1 to %d bytes", MaxPathLen))
	case !utf8.ValidString(p):
		return bad("not UTF-8")
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		return bad("holds a control character or a backslash")
	case path.IsAbs(p):
		return bad("is absolute")
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return bad("has an empty, \".\" or \"..\" segment")
		case len(seg) > maxSegmentLen:
			return bad(fmt.Sprintf("has a segment over %d bytes", maxSegmentLen))
		case strings.EqualFold(seg, ".git"):
			return bad("has a .git segment")
		}
	}
	return nil
}

// clip shortens untrusted text for an error message.
func clip(s string) string {
	if len(s) <= maxErrorMessage {
		return s
	}
	return strings.ToValidUTF8(s[:maxErrorMessage], "") + "…"
}

// nextLink returns the URL of the Link header entry with rel="next", or "".
// The header is a comma-separated list of `<URL>; param; param=value`
// (RFC 8288); a URL never holds '>' and parameters are matched
// case-insensitively, with or without quotes.
func nextLink(header string) string {
	for len(header) > 0 {
		header = strings.TrimLeft(header, " \t,")
		if !strings.HasPrefix(header, "<") {
			return ""
		}
		end := strings.IndexByte(header, '>')
		if end < 0 {
			return ""
		}
		target := header[1:end]
		header = header[end+1:]
		params := header
		if i := strings.Index(header, ",<"); i >= 0 {
			params, header = header[:i], header[i+1:]
		} else if i := strings.Index(header, ", <"); i >= 0 {
			params, header = header[:i], header[i+1:]
		} else {
			header = ""
		}
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
				if strings.EqualFold(rel, "next") {
					return target
				}
			}
		}
	}
	return ""
}
