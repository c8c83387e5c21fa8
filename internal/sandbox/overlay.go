package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// Overlay is a folder whose content the command sees replaced by Tree: a
// model encrypted at rest, whose plaintext the caller decrypted into
// memory (each entry's File, a sealed memfd, or its Data). When the command
// starts as root, the sandbox's first stage mounts a tmpfs on Dir in the
// command's own mount namespace (never in the host's mount table), writes
// Tree into it (files 0444, folders 0555, owned by root) and makes it
// read-only; the tmpfs lives in memory and is gone when
// the namespace's last process ends. Everything else about Dir (the
// Landlock rules, the paths in the command's arguments) stays as planned:
// the command reads the plaintext at the very paths it was given. Without
// root there is no mount namespace: InMemory gives such a command a
// MemfdView instead.
type Overlay struct {
	Dir  string      `json:"dir"`
	Tree []TreeEntry `json:"tree"`
}

// firstPassed is the first descriptor number at which the command gets the
// memfds of a MemfdView (0-2 are its standard streams; 3 and 4 are the
// sandbox stages' specification and status); maxPassed caps how many.
const (
	firstPassed = 5
	maxPassed   = 1024
)

// MemfdView is how a command started without root reads models encrypted
// at rest: each file's plaintext is in a sealed memfd (memory, never a
// disk; no writes, no resizing, no execution where the kernel can refuse
// it) that the command inherits at a fixed descriptor number N (5, 6, ...),
// and a private folder of the caller (0700, under the scratch folders'
// parent) mirrors each model folder with symbolic links NAME ->
// /proc/self/fd/N. The links hold no plaintext; they resolve to the memfds
// only in the command, which is given the view's folders in place of the
// store's. Close removes the folder and closes the memfds.
type MemfdView struct {
	// Root is the private folder that holds one folder per model.
	Root  string
	dirs  map[string]string // overlay folder -> its folder in the view
	files []*os.File        // the command's descriptors firstPassed, firstPassed+1, ...
}

// Dir is the folder the command is given for the overlay folder dir (dir
// itself when the view has none for it).
func (v *MemfdView) Dir(dir string) string {
	if v != nil {
		if d, ok := v.dirs[filepath.Clean(dir)]; ok {
			return d
		}
	}
	return dir
}

// origin is the overlay folder whose view is dir (dir itself when none).
func (v *MemfdView) origin(dir string) string {
	if v != nil {
		for o, d := range v.dirs {
			if d == filepath.Clean(dir) {
				return o
			}
		}
	}
	return dir
}

// Close closes the memfds and removes the view's folder.
func (v *MemfdView) Close() error {
	if v == nil {
		return nil
	}
	for _, f := range v.files {
		f.Close()
	}
	v.files = nil
	if v.Root == "" {
		return nil
	}
	return os.RemoveAll(v.Root)
}

// Decrypted says, of the folders of models encrypted at rest that
// InMemory gave the command, each one's config.json plaintext and the
// folder the command is given in its place. A nil *Decrypted has none: every
// folder is given as it is and read from disk.
type Decrypted struct {
	configs map[string][]byte
	dirs    map[string]string
}

// Config is the plaintext of dir's config.json, if dir is decrypted and
// has one.
func (d *Decrypted) Config(dir string) ([]byte, bool) {
	if d == nil {
		return nil, false
	}
	c, ok := d.configs[filepath.Clean(dir)]
	return c, ok
}

// Dir is the folder the command is given for dir.
func (d *Decrypted) Dir(dir string) string {
	if d != nil {
		if a, ok := d.dirs[filepath.Clean(dir)]; ok {
			return a
		}
	}
	return dir
}

// at is the path the command is given for p, a path in or at the folder
// dir.
func (d *Decrypted) at(dir, p string) string {
	a := d.Dir(dir)
	if a == dir {
		return p
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return p
	}
	return filepath.Join(a, rel)
}

// InMemory gives the command of s the overlays' trees (decrypted models)
// without writing them to a disk: started as root, as tmpfs overlays on
// their own folders (s.Overlays; the folders keep their paths); otherwise
// through a MemfdView made now under s.ScratchParent (s.View), whose
// folders replace the overlays' (a file's Data is dropped once it is in a
// memfd). It takes over the entries' Files (sealed memfds) in every case
// (as root, Run closes them once the sandbox's first stage has them: a
// plan with overlays runs once).
// It returns what the caller needs to build the command's arguments
// (Decrypted: set s.Model and s.Vocoder to its Dir of theirs), and
// release, to call once the command ended, on every path (it closes the
// memfds and removes the view's folder).
func (s *Spec) InMemory(ovs []Overlay) (d *Decrypted, release func(), err error) {
	closeFiles := func() { CloseOverlays(ovs) }
	defer func() {
		if err != nil {
			closeFiles()
		}
	}()
	d, release = &Decrypted{configs: map[string][]byte{}, dirs: map[string]string{}}, func() {}
	if len(ovs) == 0 {
		return d, release, nil
	}
	checked, err := checkOverlays(ovs)
	if err != nil {
		return nil, nil, err
	}
	for _, o := range checked {
		d.dirs[o.Dir] = o.Dir
		for _, e := range o.Tree {
			if e.Path != "config.json" {
				continue
			}
			c := e.Data
			if e.File != nil {
				if e.Size > maxConfig {
					return nil, nil, fmt.Errorf("%w: %s/config.json: %d bytes, more than %d", ErrSpec, o.Dir, e.Size, maxConfig)
				}
				c = make([]byte, e.Size)
				if _, err := e.File.ReadAt(c, 0); err != nil {
					return nil, nil, fmt.Errorf("decrypted model: %s/config.json: %w", o.Dir, err)
				}
			}
			d.configs[o.Dir] = c
		}
	}
	if os.Geteuid() == 0 {
		s.Overlays = append(s.Overlays, checked...)
		return d, closeFiles, nil
	}
	if s.View != nil {
		return nil, nil, fmt.Errorf("%w: the command already has a view of decrypted models", ErrSpec)
	}
	v, err := newMemfdView(checked, s.ScratchParent)
	if err != nil {
		return nil, nil, err
	}
	s.View = v
	for _, o := range checked {
		d.dirs[o.Dir] = v.Dir(o.Dir)
	}
	return d, func() { v.Close() }, nil
}

// CloseOverlays closes the Files of the overlays' entries (what InMemory
// would have taken over, when it is not called).
func CloseOverlays(ovs []Overlay) {
	for _, o := range ovs {
		for j, e := range o.Tree {
			if e.File != nil {
				e.File.Close()
				o.Tree[j].File = nil
			}
		}
	}
}

// checkOverlays checks overlays: each on an existing folder given once,
// with a tree of relative paths. It returns them with absolute, clean
// folders.
func checkOverlays(ovs []Overlay) ([]Overlay, error) {
	seen := map[string]bool{}
	out := make([]Overlay, 0, len(ovs))
	for _, o := range ovs {
		dir, err := existingAbs(o.Dir, true)
		if err != nil {
			return nil, fmt.Errorf("%w: decrypted model folder: %w", ErrSpec, err)
		}
		if seen[dir] {
			return nil, fmt.Errorf("%w: %s is given twice", ErrSpec, dir)
		}
		seen[dir] = true
		for _, e := range o.Tree {
			if !fs.ValidPath(e.Path) || e.Path == "." || e.Link != "" {
				return nil, fmt.Errorf("%w: %s: decrypted file %q: want a relative slash-separated path", ErrSpec, dir, e.Path)
			}
		}
		out = append(out, Overlay{Dir: filepath.Clean(dir), Tree: o.Tree})
	}
	return out, nil
}

// planOverlays checks the overlays of a plan (checkOverlays), which need
// a mount namespace of the command's own (ttsguard started as root).
func (p *Plan) planOverlays(ovs []Overlay) error {
	ovs, err := checkOverlays(ovs)
	if err != nil {
		return err
	}
	for _, o := range ovs {
		if !p.Process.namespaces {
			return fmt.Errorf("%w: %s is encrypted at rest: a tmpfs overlay needs ttsguard started as root, which decrypts it into "+
				"a private tmpfs in the command's own mount namespace (without root, Spec.InMemory gives the command a memfd view)", ErrSpec, o.Dir)
		}
		p.overlays = append(p.overlays, o)
		p.Overlays = append(p.Overlays, o.Dir)
	}
	if len(ovs) > 0 {
		p.Notes = append(p.Notes, "encrypted at rest: the model is decrypted into a tmpfs mounted on its folder in the command's own mount namespace (memory only, read-only, gone when the command ends)")
	}
	return nil
}

// planView takes a MemfdView into the plan (only without root: as root,
// decrypted models are tmpfs overlays).
func (p *Plan) planView(v *MemfdView) error {
	if v == nil {
		return nil
	}
	if p.Process.namespaces {
		return fmt.Errorf("%w: a memfd view of decrypted models is for a command started without root (as root they are tmpfs overlays)", ErrSpec)
	}
	if len(v.files) == 0 && len(v.dirs) > 0 {
		return errors.New("sandbox: the memfd view was closed")
	}
	p.view = v
	last := firstPassed + len(v.files) - 1
	p.Process.Descriptors = "0, 1 and 2, and " + strconv.Itoa(firstPassed) + "-" + strconv.Itoa(last) +
		": the sealed memfds of the decrypted model; every other descriptor ttsguard inherited is closed before the command starts"
	p.Notes = append(p.Notes, "encrypted at rest, started without root: the model is decrypted into sealed memfds (memory only, "+
		"read-only) that the command inherits as descriptors "+strconv.Itoa(firstPassed)+"-"+strconv.Itoa(last)+
		" and reads through "+v.Root+", a private folder of symbolic links to /proc/self/fd/N (removed when the command ends); "+
		"files given in the scratch folder are memfds too")
	return nil
}
