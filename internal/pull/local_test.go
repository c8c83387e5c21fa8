package pull

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// secretBytes is what a root-only file holds in these tests: it must never
// reach a staging folder or the store.
var secretBytes = []byte("root:$6$not-for-the-store$SECRET\n")

// writeSecret writes a 0600 file outside the source folder, as /etc/shadow
// or a root-only key is.
func writeSecret(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "shadow")
	if err := os.WriteFile(p, secretBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// leaked returns the files under dir whose content includes the secret.
func leaked(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, secretBytes[:20]) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestPullLocalSymlinkToSecret (issue 9, item 8): a local source that is, or
// holds, a symbolic link to a root-only file must be refused, and the file
// must not reach the store (seen: /etc/shadow stored 0444).
func TestPullLocalSymlinkToSecret(t *testing.T) {
	secret := writeSecret(t)
	secretDir := filepath.Dir(secret)
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the source to pull
	}{
		{"single file is a link", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "model.pth")
			must(t, os.Symlink(secret, p))
			return p
		}},
		{"archive path is a link", func(t *testing.T, dir string) string {
			// A zip the attacker cannot read themselves, pulled through a link.
			z := filepath.Join(secretDir, "secret.zip")
			must(t, os.WriteFile(z, zipOf(t, "m", map[string][]byte{"config.json": exampleFiles["config.json"], "model_file.pth": secretBytes}), 0o600))
			p := filepath.Join(dir, "release.zip")
			must(t, os.Symlink(z, p))
			return p
		}},
		{"file in the folder is a link", func(t *testing.T, dir string) string {
			m := filepath.Join(dir, "m")
			must(t, os.Mkdir(m, 0o755))
			must(t, os.WriteFile(filepath.Join(m, "config.json"), exampleFiles["config.json"], 0o644))
			must(t, os.Symlink(secret, filepath.Join(m, "model_file.pth")))
			return m
		}},
		{"subfolder is a link", func(t *testing.T, dir string) string {
			m := filepath.Join(dir, "m")
			must(t, os.Mkdir(m, 0o755))
			must(t, os.WriteFile(filepath.Join(m, "config.json"), exampleFiles["config.json"], 0o644))
			must(t, os.Symlink(secretDir, filepath.Join(m, "speakers")))
			return m
		}},
		{"the folder is a link", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m")
			must(t, os.Symlink(secretDir, p))
			return p
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "")
			src := c.setup(t, t.TempDir())
			r, err := e.pull(t, Options{Name: "m"}, src)
			if err == nil {
				t.Errorf("pull of %s succeeded: %+v", src, r)
			}
			if l := leaked(t, filepath.Join(e.dir, "store")); len(l) > 0 {
				t.Fatalf("the secret reached the store: %v", l)
			}
		})
	}
	t.Run("signature file is a link", func(t *testing.T) {
		e := newEnv(t, "")
		m := filepath.Join(t.TempDir(), "m")
		must(t, os.Mkdir(m, 0o755))
		for n, b := range exampleFiles {
			must(t, os.WriteFile(filepath.Join(m, n), b, 0o644))
		}
		sig := filepath.Join(t.TempDir(), "model.sig")
		must(t, os.Symlink(secret, sig))
		if _, err := e.pull(t, Options{Name: "m", Signature: sig}, m); err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("signature through a link: %v", err)
		}
		if l := leaked(t, filepath.Join(e.dir, "store")); len(l) > 0 {
			t.Fatalf("the secret reached the store: %v", l)
		}
	})
}

// TestPlaceLocalSwapRace (issue 9, item 8): a file of a local folder that
// the walk saw as a regular file and that becomes a symbolic link to a
// root-only file before it is copied must not be copied. A goroutine swaps
// the file for a link and back as fast as it can while the folder is copied
// again and again; the copy either holds the regular file or fails.
func TestPlaceLocalSwapRace(t *testing.T) {
	secret := writeSecret(t)
	base := t.TempDir()
	src := filepath.Join(base, "m")
	spare := filepath.Join(base, "spare") // same filesystem, outside the source
	must(t, os.Mkdir(src, 0o755))
	must(t, os.Mkdir(spare, 0o755))
	// A large first file widens the window between the walk and the copy of z.pth.
	must(t, os.WriteFile(filepath.Join(src, "a.bin"), bytes.Repeat([]byte{'a'}, 256<<10), 0o644))
	regular := bytes.Repeat([]byte("regular "), len(secretBytes)/8+1)[:len(secretBytes)]
	target := filepath.Join(src, "z.pth")
	must(t, os.WriteFile(target, regular, 0o644))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var swaps atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		link, file := filepath.Join(spare, "link"), filepath.Join(spare, "file")
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(link)
			if os.Symlink(secret, link) == nil {
				os.Rename(link, target)
			}
			if os.WriteFile(file, regular, 0o644) == nil {
				os.Rename(file, target)
			}
			swaps.Add(1)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	ctx := context.Background()
	refused := 0
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; i < 1500 && time.Now().Before(deadline); i++ {
		stage := t.TempDir()
		model, dl := filepath.Join(stage, "model"), filepath.Join(stage, "download")
		must(t, os.Mkdir(model, 0o700))
		must(t, os.Mkdir(dl, 0o700))
		_, err := placeLocal(ctx, src, model, dl, map[string]known{})
		if l := leaked(t, stage); len(l) > 0 {
			t.Fatalf("copy %d (err %v): the secret was copied through a link swapped in after the walk: %v", i, err, l)
		}
		if err != nil {
			refused++
			continue
		}
		if b, err := os.ReadFile(filepath.Join(model, "z.pth")); err != nil || !bytes.Equal(b, regular) {
			t.Fatalf("copy %d succeeded with z.pth = %q, %v", i, b, err)
		}
	}
	t.Logf("%d swaps, %d copies refused", swaps.Load(), refused)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
