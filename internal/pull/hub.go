package pull

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ttsguard/ttsguard/internal/coqui"
	"github.com/ttsguard/ttsguard/internal/fetch"
	"github.com/ttsguard/ttsguard/internal/hub"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/store"
)

// hubPlan is a Hugging Face repository to pull, as snapshot_download would.
type hubPlan struct {
	repo     string
	ref      string // the revision asked for (hub.DefaultRevision when none)
	patterns hub.Patterns
}

// hubSource parses an hf://OWNER/REPO[@REVISION] source.
func hubSource(a string) (*hubPlan, error) {
	s, err := hub.ParseSource(a)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return &hubPlan{repo: s.Repo, ref: s.Revision}, nil
}

// hubEntry is the plan of a coqui catalog entry that names a repository.
func hubEntry(e *coqui.Entry) *hubPlan {
	if e.Hub == nil {
		return nil
	}
	return &hubPlan{repo: e.Hub.RepoID, ref: e.Hub.RevisionOrDefault(), patterns: e.Hub.Patterns()}
}

// hubErr sorts the Hub's errors into pull's categories: a file that differs
// from the commit's listing fails a gate (exit 1); an unknown repository,
// revision or file, a gated repository without a usable token, or a bad
// reference is the request's fault (exit 2). Policy refusals keep their own
// category.
func hubErr(err error) error {
	switch {
	case errors.Is(err, hub.ErrMismatch):
		return fmt.Errorf("%w: %w", ErrGate, err)
	case errors.Is(err, hub.ErrNotFound), errors.Is(err, hub.ErrGated), errors.Is(err, hub.ErrInvalid):
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return err
}

// pinnedCommit decides which commit a pull fetches. Without --update, a
// lock entry for the model that pins a commit of the same repository and
// revision is fetched as pinned (not the branch's current commit); a pin of
// another repository is refused, and a revision other than the pinned one
// must resolve to the pinned commit (checked after resolving: want is set).
// It returns "" when the revision must be resolved.
func pinnedCommit(o Options, name string, hp *hubPlan) (commit, want string, err error) {
	if o.Update {
		return "", "", nil
	}
	lockPath, err := o.Policy.LockPath()
	if err != nil {
		return "", "", err
	}
	lf, err := store.LoadLock(lockPath)
	if err != nil {
		return "", "", err
	}
	pin := lf.Entries[name].Revision
	switch {
	case pin == nil:
		return "", "", nil
	case pin.Repo != hp.repo:
		return "", "", fmt.Errorf("%w: %s: pin: the lock file (%s) pins Hugging Face repository %q, the source names %q; run `ttsguard lock update %s` to accept it",
			ErrGate, name, lockPath, pin.Repo, hp.repo, name)
	case pin.Ref == hp.ref:
		return pin.Commit, "", nil
	}
	return "", pin.Commit, nil
}

// downloadHub resolves the plan's revision (or takes the pinned commit),
// lists the commit's files, keeps those the patterns select, and fetches
// each from its commit-pinned resolve URL into model under its path in the
// repository: through fetch (which re-checks every redirect against the
// policy) or, for a file the Hub serves itself when a token is set, through
// the hub client, which sends the token to the endpoint only. Every file is
// checked against the commit's listing (LFS SHA-256 or git blob id) before
// it is placed.
func downloadHub(ctx context.Context, o Options, name string, hp *hubPlan, model, dl string, hashed map[string]known) ([]store.SourceRecord, *store.LockRevision, error) {
	env, err := hub.FromEnv(os.LookupEnv)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	tc := o.TLS
	if tc == nil {
		if tc, err = o.Policy.TLSConfig(); err != nil {
			return nil, nil, err
		}
	}
	hc, err := hub.New(hub.Options{Endpoint: env.Endpoint, Token: env.Token, TLS: tc, Check: o.Policy})
	if err != nil {
		return nil, nil, err
	}
	defer hc.CloseIdleConnections()
	// Progress names the file's resolve URL, never a signed CDN URL
	// (downloads run one at a time, on this goroutine).
	var shown string
	progress := o.Progress
	if progress != nil {
		progress = func(p fetch.Progress) { p.URL = shown; o.Progress(p) }
	}
	fc, err := fetch.New(fetch.Options{Check: o.Policy, TLS: tc, Progress: progress, NoSync: true})
	if err != nil {
		return nil, nil, err
	}
	defer fc.CloseIdleConnections()

	commit, want, err := pinnedCommit(o, name, hp)
	if err != nil {
		return nil, nil, err
	}
	rev := hp.ref
	if commit != "" {
		rev = commit
	}
	snap, err := hc.Resolve(ctx, hp.repo, rev)
	if err != nil {
		return nil, nil, hubErr(err)
	}
	if want != "" && snap.Commit != want {
		return nil, nil, fmt.Errorf("%w: %s: pin: revision %q of %q is commit %s, the lock file pins %s; run `ttsguard lock update %s` to accept it",
			ErrGate, name, hp.ref, hp.repo, snap.Commit, want, name)
	}
	files := withoutGitFiles(hp.patterns.Filter(snap.Files))
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%w: no file of %q at commit %s matches allow %q and ignore %q", ErrUsage, hp.repo, snap.Commit, hp.patterns.Allow, hp.patterns.Ignore)
	}
	sizes := make([]int64, len(files))
	for i, f := range files {
		sizes[i] = f.Size
	}
	if err := fetch.CheckSpace(dl, fmt.Sprintf("%s at commit %s", hp.repo, snap.Commit), sizes); err != nil {
		return nil, nil, err
	}
	root, err := os.OpenRoot(model)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	var recs []store.SourceRecord
	for _, f := range files {
		shown = hc.ResolveURL(snap.Repo, snap.Commit, f.Path)
		rec, file, err := fetchHubFile(ctx, hc, fc, env.Token.IsSet(), snap, f, dl)
		if err != nil {
			return recs, nil, hubErr(err)
		}
		recs = append(recs, rec)
		if err := placeHubFile(root, model, file, f.Path); err != nil {
			return recs, nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if f.Path != coqui.TOSAgreedFile { // pull writes its own over it
			hashed[f.Path] = known{rec.SHA256, rec.Size}
		}
	}
	return recs, &store.LockRevision{Repo: hp.repo, Ref: hp.ref, Commit: snap.Commit}, nil
}

// fetchHubFile downloads and verifies one file into dl and returns its
// record and the downloaded file. Without a token, fetch requests the
// resolve URL and follows its redirects itself; with one, it requests the
// signed URL the Hub redirected the token's request to, and that URL's
// query (a credential for the file) is elided from errors. The record's
// FinalURL never has a query.
func fetchHubFile(ctx context.Context, hc *hub.Client, fc *fetch.Client, token bool, snap *hub.Snapshot, f hub.File, dl string) (store.SourceRecord, string, error) {
	loc, err := hc.Locate(ctx, snap.Repo, snap.Commit, f)
	if err != nil {
		return store.SourceRecord{}, "", err
	}
	rec := store.SourceRecord{URL: hc.ResolveURL(snap.Repo, snap.Commit, f.Path)}
	if loc.Authorized {
		d, err := hc.Download(ctx, loc, dl)
		if err != nil {
			return rec, "", err
		}
		rec.FinalURL, rec.CertSHA256, rec.SHA256, rec.Size = withoutQuery(d.URL), d.CertSHA256, d.SHA256, d.Size
		return rec, d.Path, nil
	}
	target := rec.URL
	if token {
		target = loc.URL
	}
	d, err := fc.GetAtMost(ctx, target, dl, f.Size)
	if err != nil {
		return rec, "", elideQuery(err, target)
	}
	rec.FinalURL, rec.CertSHA256, rec.SHA256, rec.Size = withoutQuery(d.FinalURL), d.CertSHA256, d.SHA256, d.Size
	if err := hub.Verify(f, d.Path, d.SHA256, d.Size); err != nil {
		os.Remove(d.Path)
		return rec, "", err
	}
	return rec, d.Path, nil
}

// placeHubFile moves a verified download to its repository path inside the
// model folder (a path hub.CheckPath accepted), creating its folders.
func placeHubFile(root *os.Root, model, src, rel string) error {
	if d := path.Dir(rel); d != "." {
		if err := root.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if _, err := root.Lstat(rel); err == nil {
		return fmt.Errorf("two files named %q", rel)
	}
	return os.Rename(src, filepath.Join(model, filepath.FromSlash(rel)))
}

// withoutGitFiles leaves out a repository's git metadata (.gitattributes,
// which every Hub repository has, and the others of
// manifest.DefaultIgnorePaths): no model file, and outside every manifest.
func withoutGitFiles(files []hub.File) []hub.File {
	var out []hub.File
	for _, f := range files {
		top, _, _ := strings.Cut(f.Path, "/")
		if !slices.Contains(manifest.DefaultIgnorePaths, top) {
			out = append(out, f)
		}
	}
	return out
}

// queryElided shows an error with a URL's query replaced by "?…".
type queryElided struct {
	err   error
	query string
}

func (e queryElided) Error() string { return strings.ReplaceAll(e.err.Error(), e.query, "?…") }
func (e queryElided) Unwrap() error { return e.err }

func elideQuery(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || u.RawQuery == "" {
		return err
	}
	return queryElided{err, "?" + u.RawQuery}
}

func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.ForceQuery, u.Fragment, u.User = "", false, "", nil
	return u.String()
}

// revisionMoved describes how got's Hub commit differs from the one the lock
// file pins for name ("" when the same, or when either has none).
func revisionMoved(lf *store.LockFile, name string, got store.LockEntry) string {
	pin := lf.Entries[name].Revision
	if pin == nil || got.Revision == nil || (pin.Repo == got.Revision.Repo && pin.Commit == got.Revision.Commit) {
		return ""
	}
	if pin.Repo != got.Revision.Repo {
		return fmt.Sprintf("repository %s -> %s", pin.Repo, got.Revision.Repo)
	}
	return fmt.Sprintf("%s commit %s -> %s", pin.Repo, pin.Commit, got.Revision.Commit)
}

// revisionAdded reports whether an entry that matches its pin brings a Hub
// commit or an OCI manifest the lock file does not record yet (a pin written
// before, or from another source of the same files): it is written then.
func revisionAdded(lf *store.LockFile, name string, got store.LockEntry) bool {
	pin := lf.Entries[name]
	return got.Revision != nil && pin.Revision == nil || got.OCI != nil && pin.OCI == nil
}

// revisionNote names the Hub commit of a pull for a passed pin gate's detail.
func revisionNote(g Gate, r *store.LockRevision) string {
	if r == nil || !g.OK {
		return ""
	}
	return fmt.Sprintf(" [Hugging Face %s@%s: commit %s]", r.Repo, r.Ref, r.Commit)
}
