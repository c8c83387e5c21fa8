package pull

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLocalCopySwapHook swaps what the walk saw for something else at the
// one moment that matters, between the walk's look at an entry and its open
// (the seen hook): each swap must fail the copy, naming the entry, and the
// secret must not be copied.
func TestLocalCopySwapHook(t *testing.T) {
	secret := writeSecret(t)
	secretDir := filepath.Dir(secret)
	cases := []struct {
		name   string
		at     string // the entry whose hook swaps
		single bool   // the source is the file m/z.pth itself
		swap   func(t *testing.T, src string)
		want   string
	}{
		{"file becomes a link", "z.pth", false, func(t *testing.T, src string) {
			swapIn(t, filepath.Join(src, "z.pth"), func(p string) error { return os.Symlink(secret, p) })
		}, "symbolic link"},
		{"file replaced by another file", "z.pth", false, func(t *testing.T, src string) {
			swapIn(t, filepath.Join(src, "z.pth"), func(p string) error { return os.WriteFile(p, secretBytes, 0o600) })
		}, "replaced"},
		{"file becomes a FIFO", "z.pth", false, func(t *testing.T, src string) {
			swapIn(t, filepath.Join(src, "z.pth"), func(p string) error { return unix.Mkfifo(p, 0o644) })
		}, "replaced"},
		{"file grew", "z.pth", false, func(t *testing.T, src string) {
			f, err := os.OpenFile(filepath.Join(src, "z.pth"), os.O_WRONLY|os.O_APPEND, 0)
			must(t, err)
			f.Write(secretBytes)
			f.Close()
		}, "grew"},
		{"file shrank", "z.pth", false, func(t *testing.T, src string) {
			must(t, os.Truncate(filepath.Join(src, "z.pth"), 3))
		}, "shrank"},
		{"folder becomes a link", "sub", false, func(t *testing.T, src string) {
			swapIn(t, filepath.Join(src, "sub"), func(p string) error { return os.Symlink(secretDir, p) })
		}, "symbolic link"},
		{"source folder becomes a link", ".", false, func(t *testing.T, src string) {
			swapIn(t, src, func(p string) error { return os.Symlink(secretDir, p) })
		}, "symbolic link"},
		{"single file becomes a link", ".", true, func(t *testing.T, src string) {
			swapIn(t, filepath.Join(src, "z.pth"), func(p string) error { return os.Symlink(secret, p) })
		}, "symbolic link"},
		{"single file replaced", ".", true, func(t *testing.T, src string) {
			swapIn(t, filepath.Join(src, "z.pth"), func(p string) error { return os.WriteFile(p, secretBytes, 0o600) })
		}, "replaced"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "m")
			must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
			must(t, os.WriteFile(filepath.Join(src, "sub", "x.json"), []byte("{}"), 0o644))
			must(t, os.WriteFile(filepath.Join(src, "z.pth"), bytes.Repeat([]byte("w"), len(secretBytes)), 0o644))
			swapped := false
			lc := localCopy{seen: func(rel string) {
				if rel == c.at && !swapped {
					swapped = true
					c.swap(t, src)
				}
			}}
			stage := t.TempDir()
			model, dl := filepath.Join(stage, "model"), filepath.Join(stage, "download")
			must(t, os.Mkdir(model, 0o700))
			must(t, os.Mkdir(dl, 0o700))
			arg := src
			if c.single {
				arg = filepath.Join(src, "z.pth")
			}
			done := make(chan error, 1)
			go func() {
				_, err := lc.place(context.Background(), arg, model, dl, map[string]known{})
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the copy blocked")
			}
			if !swapped {
				t.Fatalf("the hook never ran for %q", c.at)
			}
			if !errors.Is(err, ErrUnsafeLocal) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %v with %q", err, ErrUnsafeLocal, c.want)
			}
			if l := leaked(t, stage); len(l) > 0 {
				t.Errorf("the secret was copied: %v", l)
			}
		})
	}
}

// TestLocalCopyFolderMovedAfterOpen: a folder swapped for a link after it
// was opened is read through the descriptor opened first (the real folder),
// never through the link.
func TestLocalCopyFolderMovedAfterOpen(t *testing.T) {
	secret := writeSecret(t)
	base := t.TempDir()
	src := filepath.Join(base, "m")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "sub", "shadow"), []byte("mine"), 0o644))
	lc := localCopy{seen: func(rel string) {
		if rel == "sub/shadow" {
			must(t, os.Rename(filepath.Join(src, "sub"), filepath.Join(base, "moved")))
			must(t, os.Symlink(filepath.Dir(secret), filepath.Join(src, "sub")))
		}
	}}
	model := t.TempDir()
	hashed := map[string]known{}
	if err := lc.copyTree(context.Background(), src, model, hashed); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(model, "sub", "shadow")); err != nil || string(b) != "mine" {
		t.Fatalf("sub/shadow = %q, %v", b, err)
	}
	if _, ok := hashed["sub/shadow"]; !ok || len(hashed) != 1 {
		t.Fatalf("hashed = %v", hashed)
	}
}

// swapIn atomically replaces p by what mk creates (made beside p, then
// renamed over it).
func swapIn(t *testing.T, p string, mk func(string) error) {
	t.Helper()
	tmp := p + ".swap"
	must(t, mk(tmp))
	if st, err := os.Lstat(p); err == nil && st.IsDir() {
		must(t, os.Rename(p, p+".old"))
	}
	must(t, os.Rename(tmp, p))
}
