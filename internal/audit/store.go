package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
)

// Expected modes of the store layout (internal/store's package documentation).
const (
	modeRoot    = 0o750 // <root>, objects/, objects/sha256/, objects/sha256/xx/, models/, models/<name>/
	modeTmp     = 0o700 // tmp/
	modeLock    = 0o600 // .lock
	modeBlob    = 0o444 // blobs, model files and metadata
	modeVersion = 0o555 // version folders and every folder below them
)

// checkStore checks the store at root and returns its path ("" when there is none).
func (c *checker) checkStore(root string) string {
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		c.note("no store at %s: nothing to check there", root)
		return ""
	}
	if real, err := filepath.EvalSymlinks(root); err == nil && real != root {
		c.note("the store %s is reached through a symbolic link; checked %s", root, real)
		root = real
	}
	in, err := statInfo(root, false)
	if err != nil {
		c.ioErr(root, err)
		return root
	}
	if !in.isDir() {
		c.add(Finding{Path: root, Rule: RuleNotAStore, Severity: High,
			Problem: fmt.Sprintf("the store is %s, not a folder", typeName(in.typ)),
			Fix:     "point the policy's store (or $TTSGUARD_HOME) at a folder"})
		return root
	}
	c.storeUID = in.uid
	ents := c.readDir(root)
	has := map[string]fs.DirEntry{}
	known := true
	for _, e := range ents {
		has[e.Name()] = e
		switch e.Name() {
		case "objects", "models", "tmp", ".lock", LogDir, ChannelsDir, policy.LockFile:
		default:
			known = false
		}
	}
	if !known && (has["objects"] == nil || has["models"] == nil) {
		c.add(Finding{Path: root, Rule: RuleNotAStore, Severity: Medium,
			Problem: "holds other files and no objects/ and models/ folders: not a ttsguard store, not checked",
			Fix:     "point the policy's store (or $TTSGUARD_HOME) at the ttsguard store"})
		return root
	}
	c.checked.Folders++
	c.storeItem(in, modeRoot)
	if s := c.env.serving; s != nil && s.UID != 0 && int(in.uid) == s.UID {
		c.add(Finding{Path: root, Rule: RuleServing, Severity: High,
			Problem: fmt.Sprintf("the store is owned by the serving user %s: it can change every model", s),
			Fix:     fmt.Sprintf("chown -R <another user> %s, or serve as another user (the policy's run.user)", shellQuote(root))})
	}
	for _, d := range []string{"objects", "models", "tmp"} {
		if has[d] == nil {
			c.add(Finding{Path: filepath.Join(root, d), Rule: RuleMissing, Severity: Low,
				Problem: "store folder missing", Fix: "run a store command (" + c.tg("ls") + "): opening the store creates it"})
		}
	}
	for _, e := range ents {
		if c.ctx.Err() != nil {
			return root
		}
		p := filepath.Join(root, e.Name())
		if e.Name() == policy.LockFile && sameFile(p, c.env.lockPath) {
			continue // checked as the lock file
		}
		in, ok := c.entry(p)
		if !ok {
			continue
		}
		switch {
		case e.Name() == "objects" && in.isDir():
			c.storeItem(in, modeRoot)
			c.checkObjects(p)
		case e.Name() == "models" && in.isDir():
			c.storeItem(in, modeRoot)
			c.checkModels(p)
		case e.Name() == "tmp" && in.isDir():
			c.storeItem(in, modeTmp)
			c.checkTmp(p)
		case e.Name() == ".lock" && in.isRegular():
			c.storeItem(in, modeLock)
		case e.Name() == LogDir && in.isDir():
			c.storeItem(in, c.withACLMask(in, modeTmp))
			c.checkLogDir(p)
		case e.Name() == ChannelsDir && in.isDir():
			// the TUF caches of update channels: owner only, like tmp
			c.storeItem(in, modeTmp)
		default:
			c.unexpected(p, fmt.Sprintf("%s that is not part of the store layout", typeName(in.typ)))
		}
	}
	return root
}

// ChannelsDir holds the update channels' TUF caches (internal/channel's
// CacheDir).
const ChannelsDir = "channels"

// checkLogDir checks the audit log folder: the log, its checkpoint and its
// key pair (the signing key readable by the owner only).
func (c *checker) checkLogDir(dir string) {
	for _, e := range c.readDir(dir) {
		p := filepath.Join(dir, e.Name())
		in, ok := c.entry(p)
		if !ok {
			continue
		}
		switch {
		case !in.isRegular():
			c.unexpected(p, fmt.Sprintf("%s that is not part of the audit log", typeName(in.typ)))
		case e.Name() == logKey:
			c.storeItem(in, modeLock)
		case e.Name() == logRecords:
			c.storeItem(in, c.withACLMask(in, modeLock))
		case e.Name() == logCheckpoint || e.Name() == logVerifier:
			c.storeItem(in, c.withACLMask(in, 0o644))
		default:
			c.unexpected(p, "a file that is not part of the audit log")
		}
	}
}

func sameFile(a, b string) bool {
	x, err1 := os.Lstat(a)
	y, err2 := os.Lstat(b)
	return err1 == nil && err2 == nil && os.SameFile(x, y)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// checkObjects checks objects/sha256/<2 hex>/<62 hex> blobs.
func (c *checker) checkObjects(objects string) {
	for _, e := range c.readDir(objects) {
		p := filepath.Join(objects, e.Name())
		in, ok := c.entry(p)
		if !ok {
			continue
		}
		if e.Name() != "sha256" || !in.isDir() {
			c.unexpected(p, fmt.Sprintf("%s that is not part of the store layout", typeName(in.typ)))
			continue
		}
		c.storeItem(in, modeRoot)
		for _, s := range c.readDir(p) {
			sub := filepath.Join(p, s.Name())
			in, ok := c.entry(sub)
			if !ok {
				continue
			}
			if !isHex(s.Name(), 2) || !in.isDir() {
				c.unexpected(sub, fmt.Sprintf("%s that is not part of the store layout", typeName(in.typ)))
				continue
			}
			c.storeItem(in, modeRoot)
			c.checkBlobs(sub)
		}
	}
}

func (c *checker) checkBlobs(dir string) {
	for _, b := range c.readDir(dir) {
		if c.ctx.Err() != nil {
			return
		}
		p := filepath.Join(dir, b.Name())
		in, ok := c.entry(p)
		if !ok {
			continue
		}
		if !isHex(b.Name(), 62) || !in.isRegular() {
			c.unexpected(p, fmt.Sprintf("%s that is not a blob", typeName(in.typ)))
			continue
		}
		c.checked.Blobs++
		c.storeItem(in, modeBlob)
		if in.nlink == 1 {
			c.add(Finding{Path: p, Rule: RuleGarbage, Severity: Low,
				Problem: fmt.Sprintf("blob no version uses (link count 1, %d bytes)", in.size),
				Fix:     c.tg("gc")})
		}
	}
}

// checkModels checks models/<escaped name>/.
func (c *checker) checkModels(models string) {
	for _, e := range c.readDir(models) {
		p := filepath.Join(models, e.Name())
		in, ok := c.entry(p)
		if !ok {
			continue
		}
		name := strings.ReplaceAll(e.Name(), "--", "/")
		if esc, err := store.EscapeName(name); err != nil || esc != e.Name() || !in.isDir() {
			c.unexpected(p, fmt.Sprintf("%s that is not a model folder", typeName(in.typ)))
			continue
		}
		c.storeItem(in, modeRoot)
		c.checkModel(p, name)
	}
}

// checkModel checks one model folder: <id>/ version folders, <id>.json
// metadata, <id>.stat records and the current link.
func (c *checker) checkModel(md, name string) {
	ents := c.readDir(md)
	dirs, metas := map[string]bool{}, map[string]bool{}
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && isHex(id, 16) && e.Type().IsRegular() {
			metas[id] = true
		} else if isHex(e.Name(), 16) && e.IsDir() {
			dirs[e.Name()] = true
		}
	}
	for _, e := range ents {
		if c.ctx.Err() != nil {
			return
		}
		p := filepath.Join(md, e.Name())
		if e.Name() == "current" {
			c.checkCurrent(p, dirs, metas)
			continue
		}
		in, ok := c.entry(p)
		if !ok {
			continue
		}
		id, isMeta := strings.CutSuffix(e.Name(), ".json")
		rid, isRecord := strings.CutSuffix(e.Name(), store.RecordSuffix)
		isRecord = isRecord && isHex(rid, 16) && in.isRegular()
		switch {
		case isMeta && metas[id]:
			c.storeItem(in, modeBlob)
		case isRecord && metas[rid]:
			c.storeItem(in, modeBlob) // the version's stat record (fast re-verification)
		case isRecord:
			c.add(Finding{Path: p, Rule: RuleGarbage, Severity: Low,
				Problem: "stat record of a version that has no metadata", Fix: c.tg("gc")})
		case dirs[e.Name()] && metas[e.Name()]:
			c.checkVersion(md, name, e.Name(), in)
		case dirs[e.Name()]:
			c.add(Finding{Path: p, Rule: RuleGarbage, Severity: Low,
				Problem: "version folder without metadata (an interrupted commit)", Fix: c.tg("gc")})
		default:
			c.unexpected(p, fmt.Sprintf("%s that is not part of the store layout", typeName(in.typ)))
		}
	}
}

// checkCurrent checks that current is a symbolic link to a version folder beside it.
func (c *checker) checkCurrent(p string, dirs, metas map[string]bool) {
	in, err := statInfo(p, false)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.ioErr(p, err)
		}
		return
	}
	fix := fmt.Sprintf("point it at a version of the model: ln -sfn <version id> %s (or pull the model again)", shellQuote(p))
	if !in.isLink() {
		c.add(Finding{Path: p, Rule: RuleSymlink, Severity: High,
			Problem: fmt.Sprintf("%s, not a symbolic link to a version", typeName(in.typ)), Fix: "remove it, then " + fix})
		return
	}
	c.checked.Symlinks++
	c.storeItem(in, 0)
	target, err := os.Readlink(p)
	if err != nil {
		c.ioErr(p, err)
		return
	}
	if !isHex(target, 16) || !dirs[target] || !metas[target] {
		c.add(Finding{Path: p, Rule: RuleSymlink, Severity: High,
			Problem: fmt.Sprintf("points to %q, not to a version folder beside it", target), Fix: fix})
	}
}

// checkVersion checks a version folder against its metadata: modes, owners,
// links, unlisted and missing files, files that are not their blobs.
func (c *checker) checkVersion(md, name, id string, in *info) {
	c.checked.Versions++
	c.storeItem(in, modeVersion)
	st := &store.Store{Root: filepath.Dir(filepath.Dir(md))}
	rebuild := fmt.Sprintf("%s; to rebuild it, remove it (%s) and pull it again from its source", c.tg("check", name), c.tg("rm", name))
	// A pull of the same content replaces every blob it holds with the bytes
	// it verified and links every version that names them again (a missing
	// file too): removing one model would not repair the others that share a
	// damaged blob.
	repair := fmt.Sprintf("%s (it names every model that shares a damaged file); to repair, pull the model again from its source: the pull replaces its blobs and links every model that shares them again", c.tg("check", name))
	var listed map[string]string // slash path -> hex SHA-256
	meta, err := st.Meta(&store.Version{Name: name, ID: id})
	if err == nil {
		_, err = meta.Items()
	}
	if err != nil {
		c.add(Finding{Path: filepath.Join(md, id+".json"), Rule: RuleMetadata, Severity: High,
			Problem: err.Error(), Fix: rebuild})
	} else {
		listed = map[string]string{}
		for _, f := range meta.Files {
			listed[f.Path] = f.SHA256
		}
		for _, f := range meta.SideFiles() { // the signature, the training provenance
			listed[f.Path] = f.SHA256
		}
	}
	seen := map[string]bool{}
	c.walkVersion(st.Root, in.path, "", listed, seen, advice{rebuild, repair})
	for p := range listed {
		if !seen[p] {
			c.add(Finding{Path: filepath.Join(in.path, filepath.FromSlash(p)), Rule: RuleMissing, Severity: High,
				Problem: "listed in the version's metadata but missing", Fix: repair})
		}
	}
}

// advice is what to do about a damaged version: rebuild it (rm, then pull),
// or repair it (pull again).
type advice struct{ rebuild, repair string }

// walkVersion checks every entry below dir (rel: its slash path in the version).
func (c *checker) walkVersion(root, dir, rel string, listed map[string]string, seen map[string]bool, fix advice) {
	for _, e := range c.readDir(dir) {
		if c.ctx.Err() != nil {
			return
		}
		p := filepath.Join(dir, e.Name())
		r := e.Name()
		if rel != "" {
			r = rel + "/" + r
		}
		in, ok := c.entry(p)
		if !ok {
			continue
		}
		if in.isDir() {
			c.storeItem(in, modeVersion)
			c.walkVersion(root, p, r, listed, seen, fix)
			continue
		}
		c.storeItem(in, modeBlob)
		if listed == nil {
			continue
		}
		sum, ok := listed[r]
		if !ok {
			c.add(Finding{Path: p, Rule: RuleUnlisted, Severity: High,
				Problem: "file that the version's metadata does not list (a model folder holds only what was verified)",
				Fix:     "check what it is, then remove it: " + removeCmd(p) + "; then " + fix.rebuild})
			continue
		}
		seen[r] = true
		if !isHex(sum, 64) {
			continue // Meta.Items refused it already
		}
		blob := filepath.Join(root, "objects", "sha256", sum[:2], sum[2:])
		if b, err := statInfo(blob, false); err != nil || b.dev != in.dev || b.ino != in.ino {
			c.add(Finding{Path: p, Rule: RuleNotLinked, Severity: Medium,
				Problem: fmt.Sprintf("not a hard link to its blob %s (replaced after it was stored?)", blob), Fix: fix.repair})
		}
	}
}

// checkTmp reports entries of tmp/ that no live process holds (flock).
func (c *checker) checkTmp(tmp string) {
	for _, e := range c.readDir(tmp) {
		p := filepath.Join(tmp, e.Name())
		if e.IsDir() && held(p) {
			c.note("%s is in use by a running ttsguard", p)
			continue
		}
		c.add(Finding{Path: p, Rule: RuleLeftover, Severity: Low,
			Problem: "leftover of an interrupted pull or commit", Fix: c.tg("gc")})
	}
}

// held reports whether another process holds the flock on folder p.
func held(p string) bool {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false
	}
	defer f.Close() // closing releases a flock taken here
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
}
