package hub

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Snapshot is a repository's file list at one commit.
type Snapshot struct {
	Repo     string // as requested (OWNER/NAME)
	Revision string // as requested
	Commit   string // what Revision pointed to (40 hex)
	Info     *Info  // the revision endpoint's answer; nil when Revision was a commit
	Files    []File // every file of the commit, sorted by path
}

// infoURL is {endpoint}/api/models/{repo}/revision/{revision}, the revision
// escaped as one segment (huggingface_hub's quote(revision, safe="")).
func (c *Client) infoURL(repo, rev string) *url.URL {
	return c.endpointURL("api/models/"+repo+"/revision/", url.PathEscape(rev), "")
}

// treeURL is {endpoint}/api/models/{repo}/tree/{commit}?recursive=true&expand=false.
func (c *Client) treeURL(repo, commit string) *url.URL {
	return c.endpointURL("api/models/"+repo+"/tree/", commit, "recursive=true&expand=false")
}

// ResolveURL is the commit-pinned download URL of a file:
// {endpoint}/{repo}/resolve/{commit}/{path}, each path segment escaped.
func (c *Client) ResolveURL(repo, commit, filePath string) string {
	segs := strings.Split(filePath, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.endpointURL(repo+"/resolve/"+commit+"/", strings.Join(segs, "/"), "").String()
}

// endpointURL joins the endpoint's path, plain (no escaping needed: repo ids
// and commits are URL-safe) and escaped path parts, and a query.
func (c *Client) endpointURL(plain, escaped, query string) *url.URL {
	raw := strings.TrimRight(c.base.EscapedPath(), "/") + "/" + plain + escaped
	p, err := url.PathUnescape(raw)
	if err != nil {
		p = raw
	}
	return &url.URL{Scheme: c.base.Scheme, Host: c.base.Host, Path: p, RawPath: raw, RawQuery: query}
}

// Resolve turns a revision of a model repository into a commit and lists
// that commit's files: GET /api/models/{repo}/revision/{revision} (skipped
// when revision is already a 40-hex commit), then the recursive tree of the
// commit, page by page. A disabled repository, a listing with a path twice or
// a path that is both a file and a folder, or one over MaxFiles files is an
// error.
func (c *Client) Resolve(ctx context.Context, repo, revision string) (*Snapshot, error) {
	if err := ParseRepoID(repo); err != nil {
		return nil, err
	}
	if err := ValidRevision(revision); err != nil {
		return nil, err
	}
	s := &Snapshot{Repo: repo, Revision: revision, Commit: revision}
	what := fmt.Sprintf("repository %q", repo)
	if !IsCommit(revision) {
		data, _, err := c.getJSON(ctx, c.infoURL(repo, revision), fmt.Sprintf("%s revision %q", what, revision))
		if err != nil {
			return nil, err
		}
		in, err := ParseInfo(data)
		if err != nil {
			return nil, fmt.Errorf("%s revision %q: %w", what, revision, err)
		}
		if in.Disabled {
			return nil, fmt.Errorf("%s: %w: the Hub has disabled it", what, ErrNotFound)
		}
		s.Info, s.Commit = in, in.Commit
	}
	files, err := c.listTree(ctx, repo, s.Commit)
	if err != nil {
		return nil, err
	}
	s.Files = files
	return s, nil
}

// listTree follows the tree's pages; every next page must stay on the
// endpoint's origin.
func (c *Client) listTree(ctx context.Context, repo, commit string) ([]File, error) {
	what := fmt.Sprintf("repository %q commit %s: file list", repo, commit)
	u := c.treeURL(repo, commit)
	var files []File
	for page := 0; ; page++ {
		if page >= MaxPages {
			return nil, fmt.Errorf("%w: %s: more than %d pages", ErrBadResponse, what, MaxPages)
		}
		data, next, err := c.getJSON(ctx, u, what)
		if err != nil {
			return nil, err
		}
		got, err := ParseTreePage(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if len(files)+len(got) > MaxFiles {
			return nil, fmt.Errorf("%w: %s: more than %d files", ErrBadResponse, what, MaxFiles)
		}
		files = append(files, got...)
		if next == "" {
			break
		}
		nu, _ := url.Parse(next)
		if !c.sameOrigin(nu) {
			return nil, fmt.Errorf("%w: %s: next page %q is not on the endpoint", ErrBadResponse, what, redacted(nu))
		}
		u = nu
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	if err := checkTree(files); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadResponse, what, err)
	}
	return files, nil
}

// checkTree refuses a sorted list that names a path twice or a file that is
// also a folder of another file.
func checkTree(files []File) error {
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if seen[f.Path] {
			return fmt.Errorf("%q is listed twice", f.Path)
		}
		seen[f.Path] = true
	}
	for _, f := range files {
		for d := f.Path; strings.Contains(d, "/"); {
			d = d[:strings.LastIndexByte(d, '/')]
			if seen[d] {
				return fmt.Errorf("%q is a file and the folder of %q", d, f.Path)
			}
		}
	}
	return nil
}
