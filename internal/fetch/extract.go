package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Errors of Extract. Each returned error names the archive and, where one is
// at fault, the entry.
var (
	// ErrUnsafeEntry: an entry that could write outside the destination, is
	// not a regular file or folder, or collides with another entry.
	ErrUnsafeEntry = errors.New("unsafe archive entry")
	// ErrLimit: an entry count, size or compression ratio above Limits.
	ErrLimit = errors.New("archive limit exceeded")
	// ErrNotArchive: the file is not an archive of the kind given, or of any
	// kind Extract supports.
	ErrNotArchive = errors.New("not a supported archive")
)

// Default limits.
const (
	DefaultMaxEntries       = 10000
	DefaultMaxTotal   int64 = 64 << 30
	DefaultMaxRatio   int64 = 200
	// ratioFloor: sizes up to this many bytes are never refused for their
	// compression ratio (a small file of zeros compresses a thousandfold).
	ratioFloor int64 = 1 << 20
)

// Limits bound an extraction. Zero fields take the defaults.
type Limits struct {
	// MaxEntries caps the number of entries of any kind (10000).
	MaxEntries int
	// MaxTotal caps the sum of the sizes of the files written (64 GiB).
	MaxTotal int64
	// MaxRatio caps uncompressed/compressed size (200): per zip entry by
	// the declared sizes, and for the whole archive as the bytes produced
	// (declared and then counted) over the archive's size on disk. A size
	// of at most 1 MiB is never refused for its ratio.
	MaxRatio int64
}

func (l Limits) withDefaults() (Limits, error) {
	if l.MaxEntries < 0 || l.MaxTotal < 0 || l.MaxRatio < 0 {
		return l, errors.New("negative limit")
	}
	if l.MaxEntries == 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxTotal == 0 {
		l.MaxTotal = DefaultMaxTotal
	}
	if l.MaxRatio == 0 {
		l.MaxRatio = DefaultMaxRatio
	}
	return l, nil
}

// ratioCap is the most bytes that n compressed bytes may produce.
func (l Limits) ratioCap(n int64) int64 {
	if n > (1<<62)/l.MaxRatio {
		return 1 << 62
	}
	return max(n*l.MaxRatio, ratioFloor)
}

// Extracted is the evidence of one extraction.
type Extracted struct {
	Files    []string // relative slash-separated paths of the files written, in archive order
	Stripped string   // the single top-level folder removed from every path, if any
	Dropped  []string // raw names of entries skipped: __MACOSX/, ._* files, "./", pax global headers
	// SHA256 is the hex SHA-256 of every file written, by its path in Files,
	// computed from the bytes as they were written (so a caller need not
	// read them again).
	SHA256 map[string]string
}

// entry is one archive member as scanned, before anything is written.
type entry struct {
	name string // raw name
	rel  string // cleaned name
	out  string // name under dest after stripping; "" for the stripped folder
	dir  bool
	size int64 // declared size of a file
	drop bool
	flag byte // tar type flag
	zip  int  // index in the zip's file list
}

// archive is one supported format: scan reads every header and validates
// it; extract replays the archive and hands each kept entry to put.
type archive interface {
	scan(ctx context.Context) ([]*entry, error)
	extract(ctx context.Context, entries []*entry, put func(*entry, io.Reader) error) error
}

// Extract unpacks the archive file (kind "zip", "tar" or "tar.gz", as
// returned by DetectArchive) into dest, which must be an existing, empty,
// private folder (no permission bits for group or others).
//
// The archive itself is opened without following a symbolic link at
// archivePath (an error). Every entry is validated before anything is
// written. Refused: names that
// are absolute, contain "..", a backslash, NUL or another control character,
// invalid UTF-8, or clean to nothing; entries other than regular files and
// folders (symbolic and hard links, devices, FIFOs, sparse files; zip entries
// whose attributes say symlink or device); encrypted zip entries and
// compression methods other than store and deflate; zip entries whose data
// overlap; duplicate names (after cleaning, case-sensitive) and a file where
// another entry needs a folder; more than MaxEntries entries; declared or
// actual sizes above MaxTotal or MaxRatio. "__MACOSX/" and "._*" entries
// are dropped; a "./" folder entry is ignored. When every remaining entry
// lies under one top-level folder, that one folder is stripped, so that the
// files of a coqui release zip ("tts_models--en--ljspeech--vits/config.json")
// land directly in dest; deeper folders are kept.
//
// Files are created 0600 and folders 0700 through an os.Root on dest, with
// O_EXCL and O_NOFOLLOW. The bytes actually produced are counted against the
// declared sizes and the limits. On any error everything written is removed
// and dest is left empty. Nothing is fsynced: dest is a staging folder, and
// whoever commits its files (the store) syncs what it keeps.
func Extract(ctx context.Context, archivePath, kind, dest string, lim Limits) (_ *Extracted, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("fetch: extract %q: %w", archivePath, err)
		}
	}()
	lim, err = lim.withDefaults()
	if err != nil {
		return nil, err
	}
	root, err := openDest(dest)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := os.OpenFile(archivePath, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrNotArchive)
	}
	var a archive
	switch kind {
	case "zip":
		a = &zipArchive{f: f, size: fi.Size(), lim: lim}
	case "tar", "tar.gz":
		a = &tarArchive{f: f, size: fi.Size(), lim: lim, gz: kind == "tar.gz"}
	default:
		return nil, fmt.Errorf("%w: kind %q", ErrNotArchive, kind)
	}
	entries, err := a.scan(ctx)
	if err != nil {
		return nil, err
	}
	res := &Extracted{}
	if res.Stripped, err = plan(entries); err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.drop {
			res.Dropped = append(res.Dropped, e.name)
		}
	}
	defer func() {
		if err != nil {
			if cerr := clearDir(root); cerr != nil {
				err = fmt.Errorf("%w (and cleaning %q failed: %v)", err, dest, cerr)
			}
		}
	}()
	res.SHA256 = map[string]string{}
	w := &writer{root: root, lim: lim, archiveSize: fi.Size(), buf: make([]byte, 256<<10), sums: res.SHA256}
	err = a.extract(ctx, entries, func(e *entry, r io.Reader) error {
		if err := w.put(ctx, e, r); err != nil {
			return err
		}
		if !e.dir {
			res.Files = append(res.Files, e.out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// unsafe formats an ErrUnsafeEntry for the raw entry name.
func unsafe(name, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrUnsafeEntry, name, fmt.Sprintf(format, args...))
}

// nodeKind records what a cleaned path is among the entries.
type nodeKind uint8

const (
	nodeNone nodeKind = iota
	nodeFile
	nodeDir         // an explicit folder entry
	nodeImplicitDir // a folder only implied by deeper entries
)

// plan refuses duplicates and file/folder conflicts among the kept entries,
// decides the folder to strip, and sets every entry's output name.
func plan(entries []*entry) (strip string, err error) {
	seen := make(map[string]nodeKind)
	for _, e := range entries {
		if e.drop {
			continue
		}
		for i := 0; i < len(e.rel); i++ {
			if e.rel[i] != '/' {
				continue
			}
			switch seen[e.rel[:i]] {
			case nodeFile:
				return "", unsafe(e.name, "%q is a file in this archive", e.rel[:i])
			case nodeNone:
				seen[e.rel[:i]] = nodeImplicitDir
			}
		}
		k := seen[e.rel]
		switch {
		case k == nodeNone:
		case e.dir && k == nodeImplicitDir:
		case k == nodeFile || k == nodeDir && e.dir:
			return "", unsafe(e.name, "duplicate name")
		default:
			return "", unsafe(e.name, "a file where the archive has a folder")
		}
		if e.dir {
			seen[e.rel] = nodeDir
		} else {
			seen[e.rel] = nodeFile
		}
	}
	top, single, deeper := "", true, false
	for _, e := range entries {
		if e.drop {
			continue
		}
		first, _, nested := strings.Cut(e.rel, "/")
		deeper = deeper || nested
		if top == "" {
			top = first
		} else if first != top {
			single = false
		}
	}
	if single && deeper && seen[top] != nodeFile {
		strip = top
	}
	for _, e := range entries {
		switch {
		case e.drop:
		case strip == "":
			e.out = e.rel
		case e.rel == strip:
			e.out = ""
		default:
			e.out = e.rel[len(strip)+1:]
		}
	}
	return strip, nil
}

// writer writes kept entries under root and counts the bytes produced.
type writer struct {
	root        *os.Root
	lim         Limits
	archiveSize int64
	total       int64
	buf         []byte
	sums        map[string]string
}

func (w *writer) put(ctx context.Context, e *entry, r io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.dir {
		if e.out == "" {
			return nil
		}
		if err := w.root.MkdirAll(e.out, 0o700); err != nil {
			return fmt.Errorf("entry %q: %w", e.name, err)
		}
		return nil
	}
	if dir := path.Dir(e.out); dir != "." {
		if err := w.root.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("entry %q: %w", e.name, err)
		}
	}
	f, err := w.root.OpenFile(e.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.name, err)
	}
	n, sum, err := copyHashed(f, &ctxReader{ctx: ctx, r: io.LimitReader(r, e.size+1)})
	w.total += n
	if err == nil && n == e.size && w.sums != nil {
		w.sums[e.out] = sum
	}
	switch {
	case err != nil:
	case n != e.size:
		err = fmt.Errorf("%w: entry %q holds %d bytes, its header declares %d", ErrLimit, e.name, n, e.size)
	case w.total > w.lim.MaxTotal:
		err = fmt.Errorf("%w: more than %d bytes in all", ErrLimit, w.lim.MaxTotal)
	case w.total > w.lim.ratioCap(w.archiveSize):
		err = fmt.Errorf("%w: %d bytes from a %d-byte archive (ratio above %d)", ErrLimit, w.total, w.archiveSize, w.lim.MaxRatio)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, ErrLimit) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("entry %q: %w", e.name, err)
	}
	return err
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// openDest opens dest as a root after checking that it is an empty private
// folder (and the same one that was checked).
func openDest(dest string) (*os.Root, error) {
	fi, err := os.Lstat(dest)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("destination %q is not a folder", dest)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("destination %q is not private (mode %v)", dest, fi.Mode().Perm())
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, fmt.Errorf("destination: %w", err)
	}
	again, err := root.Stat(".")
	if err == nil && !os.SameFile(fi, again) {
		err = fmt.Errorf("destination %q changed while opening it", dest)
	}
	if err == nil {
		var names []string
		if names, err = readNames(root, 1); err == nil && len(names) > 0 {
			err = fmt.Errorf("destination %q is not empty", dest)
		}
	}
	if err != nil {
		root.Close()
		return nil, err
	}
	return root, nil
}

func readNames(root *os.Root, n int) ([]string, error) {
	d, err := root.Open(".")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(n)
	if err == io.EOF {
		err = nil
	}
	return names, err
}

// clearDir removes everything inside root.
func clearDir(root *os.Root) error {
	names, err := readNames(root, -1)
	if err != nil {
		return err
	}
	for _, n := range names {
		if rerr := root.RemoveAll(n); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}
