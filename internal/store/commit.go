package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ttsguard/ttsguard/internal/digest"
	"github.com/ttsguard/ttsguard/internal/manifest"
)

// Stage returns a private folder (0700) under tmp/, on the store's
// filesystem, to download or extract a model into; cleanup deletes it. The
// folder is held (flock) until cleanup, so Open and GC of other stores on the
// same root leave it alone; a process that dies drops the hold, and the
// folder is deleted by the next Open or GC.
func (s *Store) Stage() (dir string, cleanup func(), err error) {
	return s.newTmp("stage-")
}

// commit is the state of one Commit, for its undo on failure.
type commit struct {
	s      *Store
	work   string
	undo   []func() // run in reverse order when the commit fails
	synced map[string]bool
	placed map[string]bool // blobs (hex SHA-256) placed or replaced
	// For the stat records (record.go): each placed blob as placed, when its
	// content was hashed, whether fs-verity is on, and the versions (escaped
	// model name -> ids) whose files relinkPlaced linked to a placed blob.
	blobs    map[string]placedBlob
	hashedAt time.Time
	verity   string
	relinked map[string]map[string]bool
}

// Commit moves the verified model staged in folder staged into the store as
// a new version of name and makes it current.
//
// Under the store lock it hashes every file of staged (OMS files mode,
// SHA-256; symbolic links and special files are errors; prov.SignatureFile
// and prov.AttestationFile are left out) and requires the root to equal wantRoot, the caller's
// verified manifest root ("sha256:<hex>"); otherwise it returns an error
// wrapping ErrRootMismatch and touches nothing. Note that the root binds the
// files' contents in manifest order, not their names. It then moves each
// file into objects/ (a rename when staged is on the store's filesystem, else
// a copy that is hashed again and must match), also when the blob is there
// already: the verified staged bytes replace it (atomically), so that a blob
// damaged since it was stored is repaired rather than reused, and every
// stored version that names the blob is linked to it again; builds the
// version folder from hard links under tmp/; syncs every file and folder;
// and makes the version visible: the folder, then its metadata, then
// current, each by rename followed by an fsync of the folder.
//
// Commit consumes staged: on success its files have been moved into the
// store or were duplicates (the caller deletes the rest, e.g. with Stage's
// cleanup). Files it moved become read-only; a file with other hard links is
// copied, never moved, so that no name outside the store shares a blob. On
// any failure the store is left as it was (moved files go back to staged),
// except that blobs already replaced by their verified staged bytes stay
// replaced (their content is the same; those staged files are consumed); a
// kill leaves no visible trace of the new version (see the package
// documentation); the blobs it was replacing are journaled under tmp/, and
// the next Open or GC links the versions that share them again (see
// writeJournal). Committing content that is already a
// version of name replaces its blobs in the same way, makes that version
// current and keeps its first provenance.
// prov.Name and prov.Root are filled in when empty and must otherwise equal
// name and wantRoot.
func (s *Store) Commit(ctx context.Context, name, staged, wantRoot string, prov Provenance) (v *Version, err error) {
	return s.commit(ctx, name, staged, wantRoot, nil, prov)
}

// CommitHashed is Commit for a caller that has just hashed the staged files
// itself, in a staging folder from Stage (private to the store's user): its
// items (files mode, SHA-256) stand in for Commit's own hashing pass, which
// on a multi-gigabyte model costs as much as the download. The staged files
// must still be exactly the items' files with the items' sizes, and the
// items must hash to their root.
func (s *Store) CommitHashed(ctx context.Context, name, staged string, items []manifest.Item, prov Provenance) (*Version, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("commit %q: no items", name)
	}
	return s.commit(ctx, name, staged, manifest.RootOf(items).String(), items, prov)
}

func (s *Store) commit(ctx context.Context, name, staged, wantRoot string, known []manifest.Item, prov Provenance) (v *Version, err error) {
	esc, err := EscapeName(name)
	if err != nil {
		return nil, err
	}
	want, err := digest.Parse(wantRoot)
	if err != nil || want.Algorithm != digest.SHA256 {
		return nil, fmt.Errorf("commit %q: want root %q: need sha256:<64 hex>", name, wantRoot)
	}
	wantRoot = want.String()
	if prov.Name == "" {
		prov.Name = name
	}
	if prov.Root == "" {
		prov.Root = wantRoot
	}
	if prov.Name != name || !strings.EqualFold(prov.Root, wantRoot) {
		return nil, fmt.Errorf("commit %q: provenance names %q with root %q", name, prov.Name, prov.Root)
	}
	prov.Root = wantRoot
	var ignore []string
	for _, sf := range []string{prov.SignatureFile, prov.AttestationFile} {
		if sf == "" {
			continue
		}
		if !cleanRel(sf) || slices.Contains(ignore, sf) {
			return nil, fmt.Errorf("commit %q: signature file %q: not a clean relative path, or given twice", name, sf)
		}
		ignore = append(ignore, sf)
	}
	if staged, err = filepath.Abs(staged); err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	if st, err := os.Lstat(staged); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("commit %q: staged model %q: not a folder", name, staged)
	}
	for _, d := range []string{dirObjects, dirModels} {
		if p := filepath.Join(s.Root, d); staged == p || strings.HasPrefix(staged, p+string(filepath.Separator)) {
			return nil, fmt.Errorf("commit %q: staged model %q is inside the store's %s/", name, staged, d)
		}
	}

	hashedAt := time.Now()
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	step("locked")
	if err := s.recoverModel(esc); err != nil {
		return nil, err
	}

	// Hash what is staged and compare before moving anything.
	files, err := manifest.Walk(staged, manifest.WalkOptions{IgnorePaths: ignore})
	if err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("commit %q: staged model %q has no files", name, staged)
	}
	ids := make(map[string]fileID, len(files))
	byName := make(map[string]manifest.File, len(files))
	for _, f := range files {
		if !cleanRel(f.Name) {
			return nil, fmt.Errorf("commit %q: file name %q cannot be stored", name, f.Name)
		}
		if ids[f.Name], err = statID(f.Path); err != nil {
			return nil, fmt.Errorf("commit %q: %w", name, err)
		}
		byName[f.Name] = f
	}
	var m *manifest.Manifest
	if known != nil {
		m, err = knownManifest(files, known)
	} else {
		m, err = manifest.Hash(ctx, files, manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256})
	}
	if err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	if got := m.Root().String(); got != wantRoot {
		return nil, fmt.Errorf("commit %q from %q: root %s, want %s: %w", name, staged, got, wantRoot, ErrRootMismatch)
	}
	// The signature and the provenance bundle: stored, not in the manifest.
	var side [2]*MetaFile
	for i, sf := range []string{prov.SignatureFile, prov.AttestationFile} {
		if sf == "" {
			continue
		}
		p := filepath.Join(staged, filepath.FromSlash(sf))
		id, err := statID(p)
		if err != nil {
			return nil, fmt.Errorf("commit %q: signature: %w", name, err)
		}
		sum, err := hashOne(ctx, p, id.size)
		if err != nil {
			return nil, fmt.Errorf("commit %q: signature: %w", name, err)
		}
		side[i] = &MetaFile{Path: sf, SHA256: sum, Size: id.size}
		ids[sf] = id
		byName[sf] = manifest.File{Name: sf, Path: p, Size: id.size}
	}
	step("hashed")

	id := want.Hex()[:idLen]
	md := s.modelDir(esc)
	existing, old, err := s.load(esc, id)
	switch {
	case err == nil && old.Root != wantRoot:
		return nil, fmt.Errorf("commit %q: %w: version %s holds root %s, not %s", name, ErrCorrupt, id, old.Root, wantRoot)
	case err != nil && !errors.Is(err, ErrNotFound):
		return nil, err
	}

	work, release, err := s.newTmp("commit-")
	if err != nil {
		return nil, err
	}
	defer release()
	c := &commit{s: s, work: work, synced: map[string]bool{}, placed: map[string]bool{},
		blobs: map[string]placedBlob{}, hashedAt: hashedAt}
	defer func() {
		if err != nil {
			for i := len(c.undo) - 1; i >= 0; i-- {
				c.undo[i]()
			}
		}
	}()

	meta := &Meta{Format: MetaFormat, Name: name, ID: id, Created: time.Now().UTC(), Root: wantRoot,
		Bytes: m.Bytes, Signature: side[0], Attestation: side[1], Provenance: prov}
	all := make([]MetaFile, 0, len(m.Items)+1)
	for _, it := range m.Items {
		mf := MetaFile{Path: it.File, SHA256: hex.EncodeToString(it.Digest), Size: it.End}
		meta.Files = append(meta.Files, mf)
		all = append(all, mf)
	}
	all = append(all, meta.SideFiles()...)
	// Every blob gets the staged bytes, verified just now, even one the
	// store holds already (placeBlob): a damaged blob is repaired, never
	// reused, and so is every version that shares it (relinkPlaced). The
	// blobs to replace are journaled first, so that the relinks a kill
	// interrupts are finished by the next Open or GC.
	var reused []string
	for _, f := range all {
		if _, err := os.Lstat(s.blobPath(f.SHA256)); err == nil {
			reused = append(reused, f.SHA256)
		}
	}
	if len(reused) > 0 {
		if err := s.writeJournal(work, reused); err != nil {
			return nil, fmt.Errorf("commit %q: %w", name, err)
		}
		step("relink journal written")
	}
	for i, f := range all {
		enc := s.Encrypts() && i < len(meta.Files) // model files, not the signature or provenance
		if err := c.placeBlob(ctx, byName[f.Path], ids[f.Path], f.SHA256, enc); err != nil {
			return nil, fmt.Errorf("commit %q: %w", name, err)
		}
	}
	if err := c.syncTouched(); err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	if err := c.relinkPlaced(); err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	step("blobs synced")
	if existing != nil {
		// This content is a version of name already: it is now current.
		if err := s.setCurrent(md, id); err != nil {
			return nil, fmt.Errorf("commit %q: %w", name, err)
		}
		c.writeRecords(esc, old)
		return existing, nil
	}

	tree := filepath.Join(work, "v")
	if err := c.buildTree(tree, all); err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	step("tree built")
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, err
	}
	metaTmp := filepath.Join(work, "meta.json")
	if err := writeFileSync(metaTmp, append(data, '\n'), 0o444); err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	if err := syncDir(work); err != nil {
		return nil, err
	}
	step("metadata written")

	// The model folder is 0750 whatever the umask, and keeps the setgid
	// bit (and so the serving group) of models/ when it has one.
	perm := fs.FileMode(0o750)
	if st, err := os.Stat(filepath.Dir(md)); err == nil && st.Mode()&fs.ModeSetgid != 0 {
		perm |= fs.ModeSetgid
	}
	if created, err := mkdirGroup(md, perm, -1); created {
		c.undo = append(c.undo, func() { os.Remove(md) })
		if err != nil {
			return nil, fmt.Errorf("commit %q: %w", name, err)
		}
		if err := syncDir(filepath.Dir(md)); err != nil {
			return nil, err
		}
		step("model folder created")
	} else if err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	dir := filepath.Join(md, id)
	if err := os.Rename(tree, dir); err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	c.undo = append(c.undo, func() {
		os.Chmod(dir, 0o700)
		os.Rename(dir, filepath.Join(work, "undo-v"))
		syncDir(md)
	})
	if err := os.Chmod(dir, 0o555); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	if err := syncDir(md); err != nil {
		return nil, err
	}
	step("version folder renamed")
	metaPath := filepath.Join(md, id+".json")
	if err := os.Rename(metaTmp, metaPath); err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	c.undo = append(c.undo, func() { os.Remove(metaPath); syncDir(md) })
	if err := syncDir(md); err != nil {
		return nil, err
	}
	step("metadata renamed")
	if err := s.setCurrent(md, id); err != nil {
		return nil, fmt.Errorf("commit %q: %w", name, err)
	}
	c.writeRecords(esc, meta)
	return meta.version(dir), nil
}

// writeRecords writes, best effort, the stat records of the version m just
// made current in the model folder esc and of the other versions whose
// files were linked again to blobs this commit placed: an entry for each
// file that is a placed blob as placed (its content hashed at this commit),
// entries of the old record for the others that did not change. A failure
// costs the next check of that version a full hash, nothing more.
func (c *commit) writeRecords(esc string, m *Meta) {
	vouch := func(path, sum string, now inodeStat) (time.Time, string, bool) {
		b, ok := c.blobs[sum]
		if !ok || now.dev != b.id.dev || now.ino != b.id.ino || now.size != b.id.size || now.mtime != b.id.mtime {
			return time.Time{}, "", false
		}
		return c.hashedAt, b.verity, true
	}
	state := c.verity
	if state == "" {
		state = "not tried"
	}
	_ = c.s.writeRecord(c.work, esc, m, vouch, state)
	for e, ids := range c.relinked {
		for id := range ids {
			if e == esc && id == m.ID {
				continue
			}
			if _, om, err := c.s.load(e, id); err == nil {
				_ = c.s.writeRecord(c.work, e, om, vouch, state)
			}
		}
	}
}

// knownManifest builds the manifest of files from items the caller hashed,
// after checking that they name exactly these files with these sizes.
func knownManifest(files []manifest.File, items []manifest.Item) (*manifest.Manifest, error) {
	if len(items) != len(files) {
		return nil, fmt.Errorf("%d staged files, %d hashed items: %w", len(files), len(items), ErrRootMismatch)
	}
	size := make(map[string]int64, len(files))
	var total int64
	for _, f := range files {
		size[f.Name] = f.Size
		total += f.Size
	}
	out := make([]manifest.Item, len(items))
	for i, it := range items {
		sz, ok := size[it.File]
		if !ok || it.Name != it.File || it.Start != 0 || it.End != sz || len(it.Digest) != 32 {
			return nil, fmt.Errorf("hashed item %q does not match the staged files: %w", it.Name, ErrRootMismatch)
		}
		out[i] = it
	}
	manifest.Sort(out)
	return &manifest.Manifest{Options: manifest.Options{Method: manifest.MethodFiles, HashType: digest.SHA256}, Items: out, Files: len(files), Bytes: total}, nil
}
