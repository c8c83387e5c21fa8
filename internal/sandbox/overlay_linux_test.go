//go:build linux && (amd64 || arm64)

package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ttsguard/ttsguard/internal/crypt"
)

// TestMemfdView: the view mirrors each overlay with links to
// /proc/self/fd/N (5, 6, ... in the order of the trees) in a private
// folder, holds each file in a sealed memfd, is refused for a plan with
// namespaces, and Close removes the folder.
func TestMemfdView(t *testing.T) {
	model, voc := t.TempDir(), t.TempDir()
	vocCfg, _, err := crypt.SealedMemfd(strings.NewReader("{}"), "config.json") // as store.PlainMemfds gives it
	if err != nil {
		t.Fatal(err)
	}
	ovs := []Overlay{
		{Dir: model, Tree: []TreeEntry{{Path: "config.json", Data: []byte(`{"model": "vits"}`)}, {Path: "sub/model.pth", Data: []byte("weights")}}},
		{Dir: voc, Tree: []TreeEntry{{Path: "config.json", File: vocCfg, Size: 2}}},
	}
	parent := t.TempDir()
	v, err := newMemfdView(ovs, parent)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if st, err := os.Stat(v.Root); err != nil || st.Mode().Perm() != 0o700 || filepath.Dir(v.Root) != parent {
		t.Fatalf("view folder %s: %v %v", v.Root, st.Mode(), err)
	}
	for _, c := range []struct{ dir, path, link string }{
		{model, "config.json", "/proc/self/fd/5"}, {model, "sub/model.pth", "/proc/self/fd/6"}, {voc, "config.json", "/proc/self/fd/7"},
	} {
		got, err := os.Readlink(filepath.Join(v.Dir(c.dir), c.path))
		if err != nil || got != c.link {
			t.Errorf("%s/%s: link %q %v, want %q", c.dir, c.path, got, err, c.link)
		}
		if v.origin(v.Dir(c.dir)) != c.dir {
			t.Errorf("origin of %s: %s", v.Dir(c.dir), v.origin(v.Dir(c.dir)))
		}
	}
	if ovs[0].Tree[1].Data != nil {
		t.Error("the view keeps the plaintext in memory besides the memfd")
	}
	if ovs[1].Tree[0].File != nil || v.files[2] != vocCfg {
		t.Error("the view did not take over the given memfd")
	}
	f := v.files[1]
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	want := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	if err != nil || seals&want != want {
		t.Errorf("seals %#x %v, want %#x", seals, err, want)
	}
	if _, err := f.WriteAt([]byte("x"), 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("write to the sealed memfd: %v", err)
	}
	buf := make([]byte, 16)
	if n, _ := f.ReadAt(buf, 0); string(buf[:n]) != "weights" {
		t.Errorf("memfd holds %q", buf[:n])
	}
	p := &Plan{Process: Process{namespaces: true}}
	if err := p.planView(v); !errors.Is(err, ErrSpec) {
		t.Errorf("a view with namespaces: %v", err)
	}
	p = &Plan{}
	if err := p.planView(v); err != nil || p.view != v || !strings.Contains(p.Process.Descriptors, "5-7") {
		t.Errorf("plan: %v %q", err, p.Process.Descriptors)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(v.Root); !os.IsNotExist(err) {
		t.Errorf("after Close: %v", err)
	}
}

// TestInMemoryAsRoot: as root the decrypted models are tmpfs overlays on
// their own folders, and the configs are known by folder.
func TestInMemoryAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("root only")
	}
	dir := t.TempDir()
	var s Spec
	d, release, err := s.InMemory([]Overlay{{Dir: dir, Tree: []TreeEntry{{Path: "config.json", Data: []byte("{}")}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if len(s.Overlays) != 1 || s.View != nil || d.Dir(dir) != dir {
		t.Errorf("spec %+v, dir %s", s, d.Dir(dir))
	}
	if c, ok := d.Config(dir); !ok || string(c) != "{}" {
		t.Errorf("config %q %v", c, ok)
	}
}

// memfdsOpen counts this process's descriptors that are memfds.
func memfdsOpen(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "/memfd:") {
			n++
		}
	}
	return n
}

// TestOverlayRunAsRoot: as root, the command reads the overlay's plaintext
// at the model's own path, and once it runs ttsguard holds none of the
// decrypted model's memfds (the first stage has them).
func TestOverlayRunAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("root only: a tmpfs in a mount namespace")
	}
	root, model := testStore(t, openDir(t), "m", modelFiles, nogroup)
	before := memfdsOpen(t)
	cfg, _, err := crypt.SealedMemfd(strings.NewReader(`{"model": "decrypted"}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	s := Spec{Model: model, Command: []string{"/bin/cat", "{model}/config.json"}, GroupFrom: root}
	d, release, err := s.InMemory([]Overlay{{Dir: model, Tree: []TreeEntry{{Path: "config.json", File: cfg, Size: 22}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if c, _ := d.Config(model); string(c) != `{"model": "decrypted"}` {
		t.Errorf("config %q", c)
	}
	p, err := Prepare(s)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	held := -1
	code, err := Run(context.Background(), p, IO{Stdout: &out, Stderr: os.Stderr, Started: func(int) { held = memfdsOpen(t) - before }})
	if err != nil || code != 0 || out.String() != `{"model": "decrypted"}` {
		t.Fatalf("run: %d %v %q", code, err, out.String())
	}
	if held != 0 {
		t.Errorf("while the command ran, ttsguard held %d memfds of the decrypted model", held)
	}
}
