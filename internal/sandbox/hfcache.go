package sandbox

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ttsguard/ttsguard/internal/hub"
)

// HFCacheDir is the folder of the scratch folder that holds the Hugging Face
// cache built from Spec.HFCache; the command gets it as HF_HUB_CACHE.
const HFCacheDir = "hf-hub"

// HFHomeDir is the command's HF_HOME in the scratch folder (not created:
// what huggingface_hub or transformers write there stays in the scratch
// folder).
const HFHomeDir = "huggingface"

// maxHFCacheEntries caps the files, links and folders of the built cache
// (each is an inode of the scratch tmpfs).
const maxHFCacheEntries = 4096

// HFRepo is one Hugging Face repository that the command loads through
// huggingface_hub (transformers' from_pretrained, hf_hub_download) and that
// is given to it read-only from a verified folder. Run builds, in the
// scratch folder, the cache layout huggingface_hub reads
// (huggingface_hub/file_download.py, constants.py):
//
//	<scratch>/hf-hub/models--OWNER--NAME/refs/REF          the commit, 40 hex digits, no newline
//	<scratch>/hf-hub/models--OWNER--NAME/snapshots/COMMIT/PATH -> DIR/PATH (symbolic link)
//
// for every regular file of Dir, and the command gets HF_HUB_CACHE (that
// folder), HF_HOME (<scratch>/huggingface), HF_HUB_OFFLINE=1 and
// TRANSFORMERS_OFFLINE=1: huggingface_hub then answers from the cache
// without a network request. Dir is readable, not executable, like the
// model. With namespaces (as root) the built folders are root's and
// read-only (0555).
type HFRepo struct {
	// RepoID is the repository id the command asks for: OWNER/NAME, or a
	// legacy NAME without owner (bert-base-multilingual-cased).
	RepoID string `json:"repo_id"`
	// Commit is the commit the files came from (40 lowercase hex digits).
	Commit string `json:"commit"`
	// Refs are revision names that resolve to Commit (refs/REF); "main"
	// is what from_pretrained asks for when given no revision.
	Refs []string `json:"refs"`
	// Dir is the verified folder with the repository's files.
	Dir string `json:"path"`
}

// TreeEntry is one entry of a folder tree built in the scratch folder
// before the command starts: a symbolic link (Link) or a file of Data
// (0444). Path is slash-separated and relative to the scratch folder; the
// folders on the way are created and made read-only (0555) afterwards.
type TreeEntry struct {
	Path string `json:"path"`
	Link string `json:"link,omitempty"`
	Data []byte `json:"data,omitempty"`
	// FD, when not 0, is a descriptor the sandbox's first stage inherited
	// that holds the file's content (Size bytes) instead of Data: a large
	// decrypted model file travels as a sealed memfd, not in the
	// specification (overlay.go).
	FD   int   `json:"fd,omitempty"`
	Size int64 `json:"size,omitempty"`
	// File, when not nil, holds the content (Size bytes) of a decrypted
	// model's file instead of Data: a sealed memfd made by the caller
	// (Spec.InMemory takes it over).
	File *os.File `json:"-"`
}

// hfCacheFolder is huggingface_hub's repo_folder_name for a model.
func hfCacheFolder(repoID string) string {
	return "models--" + strings.ReplaceAll(repoID, "/", "--")
}

// validRepoID checks a repository id as huggingface_hub's validate_repo_id
// does (NAME or OWNER/NAME).
func validRepoID(id string) error {
	if !strings.Contains(id, "/") {
		return hub.ParseRepoID("x/" + id)
	}
	return hub.ParseRepoID(id)
}

// planHFCache resolves s.HFCache into the plan's tree, environment and
// read-only folders (added to s.ReadOnly for planLandlock).
func (p *Plan) planHFCache(s *Spec) error {
	if len(s.HFCache) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var tree []TreeEntry
	for _, r := range s.HFCache {
		if err := validRepoID(r.RepoID); err != nil {
			return fmt.Errorf("%w: Hugging Face cache: %w", ErrSpec, err)
		}
		if !hub.IsCommit(r.Commit) || strings.ToLower(r.Commit) != r.Commit {
			return fmt.Errorf("%w: Hugging Face cache: %s: commit %q: want 40 lowercase hex digits", ErrSpec, r.RepoID, r.Commit)
		}
		folder := hfCacheFolder(r.RepoID)
		if seen[folder] {
			return fmt.Errorf("%w: Hugging Face cache: %s is given twice", ErrSpec, r.RepoID)
		}
		seen[folder] = true
		dir, err := existingAbs(r.Dir, true)
		if err != nil {
			return fmt.Errorf("%w: Hugging Face cache: %s: %w", ErrSpec, r.RepoID, err)
		}
		refs := append([]string(nil), r.Refs...)
		sort.Strings(refs)
		for i, ref := range refs {
			if err := hub.ValidRevision(ref); err != nil || hub.IsCommit(ref) || (i > 0 && refs[i-1] == ref) {
				return fmt.Errorf("%w: Hugging Face cache: %s: ref %q: want a branch or tag name, once", ErrSpec, r.RepoID, ref)
			}
			tree = append(tree, TreeEntry{Path: path.Join(HFCacheDir, folder, "refs", ref), Data: []byte(r.Commit)})
		}
		files, err := regularFiles(dir)
		if err != nil {
			return fmt.Errorf("%w: Hugging Face cache: %s: %w", ErrSpec, r.RepoID, err)
		}
		if len(files) == 0 {
			return fmt.Errorf("%w: Hugging Face cache: %s: %s holds no file", ErrSpec, r.RepoID, dir)
		}
		for _, f := range files {
			tree = append(tree, TreeEntry{Path: path.Join(HFCacheDir, folder, "snapshots", r.Commit, f), Link: filepath.Join(dir, filepath.FromSlash(f))})
		}
		if len(tree) > maxHFCacheEntries {
			return fmt.Errorf("%w: Hugging Face cache: more than %d files", ErrSpec, maxHFCacheEntries)
		}
		s.ReadOnly = append(s.ReadOnly, dir)
		r.Dir, r.Refs = dir, refs
		p.HFCache = append(p.HFCache, r)
	}
	p.tree = tree
	set := map[string]string{
		"HF_HUB_CACHE": ScratchPlaceholder + "/" + HFCacheDir, "HF_HOME": ScratchPlaceholder + "/" + HFHomeDir,
		"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
	}
	env := p.Env[:0]
	for _, kv := range p.Env {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	p.Env = env
	return nil
}

// regularFiles lists dir's regular files, slash-separated, sorted; a link
// or anything else that is not a file or folder is an error (a verified
// model folder holds none).
func regularFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%s: not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		if len(out) > maxHFCacheEntries {
			return fmt.Errorf("%s: more than %d files", dir, maxHFCacheEntries)
		}
		return nil
	})
	return out, err
}

// buildTree creates the tree's entries under dir (which must exist),
// refusing to replace anything, then, when readOnly, makes the folders it
// created read-only (0555): in the sandbox's own tmpfs, which goes away
// with it (a scratch folder that Run removes afterwards keeps them
// writable, or a caller that is not root could not remove them). It works
// through an os.Root: nothing lands outside dir.
func buildTree(dir string, tree []TreeEntry, readOnly bool) error {
	if len(tree) == 0 {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	made := map[string]bool{}
	var folders []string
	for _, e := range tree {
		if !fs.ValidPath(e.Path) || e.Path == "." {
			return fmt.Errorf("tree entry %q: not a relative slash-separated path", e.Path)
		}
		for d := path.Dir(e.Path); d != "." && !made[d]; d = path.Dir(d) {
			made[d] = true
			folders = append(folders, d)
		}
		if err := root.MkdirAll(path.Dir(e.Path), 0o755); err != nil {
			return err
		}
		if e.Link != "" {
			if err := root.Symlink(e.Link, e.Path); err != nil {
				return err
			}
			continue
		}
		f, err := root.OpenFile(e.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if err != nil {
			return err
		}
		if e.FD > 0 {
			src := os.NewFile(uintptr(e.FD), e.Path)
			_, err = io.Copy(f, io.NewSectionReader(src, 0, e.Size))
			src.Close()
		} else {
			_, err = f.Write(e.Data)
		}
		if err == nil {
			err = f.Chmod(0o444)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if !readOnly {
		return nil
	}
	// Deepest first, so that a folder is still writable while its
	// children change mode (only root would not need it).
	sort.Slice(folders, func(i, j int) bool { return len(folders[i]) > len(folders[j]) })
	for _, d := range folders {
		if err := root.Chmod(d, 0o555); err != nil {
			return err
		}
	}
	return nil
}
