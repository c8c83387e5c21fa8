package sandbox

import (
	"errors"
	"strings"
	"testing"
)

// TestPlanOverlays: an overlay needs a mount namespace (ttsguard as root),
// an existing folder given once, and relative file paths.
func TestPlanOverlays(t *testing.T) {
	dir := t.TempDir()
	tree := []TreeEntry{{Path: "config.json", Data: []byte("{}")}}
	for _, c := range []struct {
		name string
		ns   bool
		ovs  []Overlay
		want string
	}{
		{"no root", false, []Overlay{{Dir: dir, Tree: tree}}, "needs ttsguard started as root"},
		{"missing folder", true, []Overlay{{Dir: dir + "/nope", Tree: tree}}, "decrypted model folder"},
		{"twice", true, []Overlay{{Dir: dir, Tree: tree}, {Dir: dir, Tree: tree}}, "given twice"},
		{"escaping path", true, []Overlay{{Dir: dir, Tree: []TreeEntry{{Path: "../x"}}}}, "relative slash-separated"},
		{"link", true, []Overlay{{Dir: dir, Tree: []TreeEntry{{Path: "x", Link: "/etc/shadow"}}}}, "relative slash-separated"},
		{"ok", true, []Overlay{{Dir: dir, Tree: tree}}, ""},
	} {
		p := &Plan{Process: Process{namespaces: c.ns}}
		err := p.planOverlays(c.ovs)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && (len(p.Overlays) != 1 || len(p.Notes) != 1):
			t.Errorf("%s: plan %v %v", c.name, p.Overlays, p.Notes)
		case c.want != "" && (err == nil || !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want ErrSpec with %q", c.name, err, c.want)
		}
	}
}
