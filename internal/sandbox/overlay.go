package sandbox

import (
	"fmt"
	"io/fs"
	"path/filepath"
)

// Overlay is a folder whose content the command sees replaced by Tree: a
// model encrypted at rest, whose plaintext the caller decrypted into
// memory. When the command starts as root, the sandbox's first stage mounts
// a tmpfs on Dir in the command's own mount namespace (never in the host's
// mount table), writes Tree into it (files 0444, folders 0555, owned by
// root) and makes it read-only; the tmpfs lives in memory and is gone when
// the namespace's last process ends. Everything else about Dir (the
// Landlock rules, the paths in the command's arguments) stays as planned:
// the command reads the plaintext at the very paths it was given. Without
// root there is no mount namespace and an overlay is refused.
type Overlay struct {
	Dir  string      `json:"dir"`
	Tree []TreeEntry `json:"tree"`
}

// planOverlays checks the overlays of a plan: each on an existing folder
// given once, with a tree of relative paths, and only where the command
// gets a mount namespace of its own (ttsguard started as root).
func (p *Plan) planOverlays(ovs []Overlay) error {
	seen := map[string]bool{}
	for _, o := range ovs {
		dir, err := existingAbs(o.Dir, true)
		if err != nil {
			return fmt.Errorf("%w: decrypted model folder: %w", ErrSpec, err)
		}
		if seen[dir] {
			return fmt.Errorf("%w: %s is given twice", ErrSpec, dir)
		}
		seen[dir] = true
		if !p.Process.namespaces {
			return fmt.Errorf("%w: %s is encrypted at rest: running it needs ttsguard started as root, which decrypts it into "+
				"a private tmpfs in the command's own mount namespace (without root no mount namespace can be made, "+
				"and ttsguard does not put the plaintext on a disk)", ErrSpec, dir)
		}
		for _, e := range o.Tree {
			if !fs.ValidPath(e.Path) || e.Path == "." || e.Link != "" {
				return fmt.Errorf("%w: %s: decrypted file %q: want a relative slash-separated path", ErrSpec, dir, e.Path)
			}
		}
		p.overlays = append(p.overlays, Overlay{Dir: dir, Tree: o.Tree})
		p.Overlays = append(p.Overlays, filepath.Clean(dir))
	}
	if len(ovs) > 0 {
		p.Notes = append(p.Notes, "encrypted at rest: the model is decrypted into a tmpfs mounted on its folder in the command's own mount namespace (memory only, read-only, gone when the command ends)")
	}
	return nil
}
