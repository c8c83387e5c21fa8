package manifest

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ttsguard/ttsguard/internal/testutil"
)

// TestSerializationGoldens reproduces the reference's per-item digests for
// every fixture in files mode, shards of 1e9 bytes and shards of 8 bytes.
func TestSerializationGoldens(t *testing.T) {
	base := filepath.Join(testutil.Vectors(t), "model-transparency", "goldens", "_serialization", "testdata")
	cases := []struct {
		dir, suffix string
		o           Options
	}{
		{"file", "", Options{Method: MethodFiles, AllowSymlinks: true}},
		{"file_shard", "", Options{Method: MethodShards, AllowSymlinks: true}},
		{"file_shard", "_small_shards", Options{Method: MethodShards, ShardSize: 8, AllowSymlinks: true}},
	}
	for _, c := range cases {
		for _, fx := range testutil.Fixtures {
			t.Run(c.dir+"/"+fx+c.suffix, func(t *testing.T) {
				want := readGolden(t, filepath.Join(base, c.dir, "TestSerializer", fx+c.suffix))
				m, err := Build(context.Background(), testutil.MakeFixture(t, t.TempDir(), fx), c.o)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, it := range m.Items {
					got = append(got, it.Name+":"+hex.EncodeToString(it.Digest))
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("items differ\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}

func readGolden(t *testing.T, p string) []string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestOrderByComponents(t *testing.T) {
	names := []string{"tokenizer.json", "checkpoint-1000/a", "tokenizer/vocab.txt", "checkpoint/a", "a", ".hidden"}
	var items []Item
	for _, n := range names {
		items = append(items, Item{Name: n, File: n})
	}
	items = append(items, Item{Name: "f:16:24", File: "f", Start: 16, End: 24}, Item{Name: "f:8:16", File: "f", Start: 8, End: 16})
	Sort(items)
	var got []string
	for _, it := range items {
		got = append(got, it.Name)
	}
	want := []string{".hidden", "a", "checkpoint/a", "checkpoint-1000/a", "f:8:16", "f:16:24", "tokenizer/vocab.txt", "tokenizer.json"}
	if !slices.Equal(got, want) {
		t.Fatalf("order\n got %q\nwant %q", got, want)
	}
}

func TestWalkRules(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m")
	for _, p := range []string{".hidden", ".git/config", ".gitignore", "sub/.git/x", "keep/a", "keepx/b", "model.sig"} {
		os.MkdirAll(filepath.Dir(filepath.Join(m, p)), 0o755)
		os.WriteFile(filepath.Join(m, p), []byte(p), 0o644)
	}
	os.MkdirAll(filepath.Join(m, "empty"), 0o755)
	files, err := Walk(m, WalkOptions{IgnorePaths: append(slices.Clone(DefaultIgnorePaths), "model.sig", "keep")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Name)
	}
	slices.Sort(got)
	want := []string{".hidden", "keepx/b", "sub/.git/x"}
	if !slices.Equal(got, want) {
		t.Fatalf("walk %q, want %q", got, want)
	}
}

func TestWalkRejects(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		m := testutil.MakeFixture(t, t.TempDir(), "symlink_model_folder")
		if _, err := Walk(m, WalkOptions{}); !errors.Is(err, ErrSymlink) {
			t.Fatalf("err = %v, want ErrSymlink", err)
		}
	})
	t.Run("broken link", func(t *testing.T) {
		m := t.TempDir()
		os.Symlink(filepath.Join(m, "nowhere"), filepath.Join(m, "l"))
		if _, err := Walk(m, WalkOptions{AllowSymlinks: true}); !errors.Is(err, ErrBrokenLink) {
			t.Fatalf("err = %v, want ErrBrokenLink", err)
		}
	})
	t.Run("dir link adds nothing", func(t *testing.T) {
		m := t.TempDir()
		os.MkdirAll(filepath.Join(m, "d"), 0o755)
		os.WriteFile(filepath.Join(m, "d", "f"), nil, 0o644)
		os.Symlink(filepath.Join(m, "d"), filepath.Join(m, "l"))
		files, err := Walk(m, WalkOptions{AllowSymlinks: true})
		if err != nil || len(files) != 1 || files[0].Name != "d/f" {
			t.Fatalf("files %v err %v", files, err)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		m := t.TempDir()
		if err := syscall.Mkfifo(filepath.Join(m, "p"), 0o644); err != nil {
			t.Skip("mkfifo:", err)
		}
		if _, err := Walk(m, WalkOptions{}); !errors.Is(err, ErrSpecialFile) {
			t.Fatalf("err = %v, want ErrSpecialFile", err)
		}
	})
	t.Run("colon in shards mode", func(t *testing.T) {
		m := t.TempDir()
		os.WriteFile(filepath.Join(m, "a:b"), []byte("x"), 0o644)
		if _, err := Build(context.Background(), m, Options{Method: MethodShards}); !errors.Is(err, ErrColonInName) {
			t.Fatalf("err = %v, want ErrColonInName", err)
		}
		if _, err := Build(context.Background(), m, Options{Method: MethodFiles}); err != nil {
			t.Fatalf("files mode: %v", err)
		}
	})
}

func TestNormalizeIgnorePath(t *testing.T) {
	root := t.TempDir()
	abs, _ := filepath.Abs(root)
	for in, want := range map[string]string{"a/b": "a/b", "./a//b/": "a/b", filepath.Join(abs, "x", "y"): "x/y"} {
		got, err := NormalizeIgnorePath(root, in)
		if err != nil || got != want {
			t.Errorf("%q -> %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "..", "../x", "/etc/passwd", "."} {
		if _, err := NormalizeIgnorePath(root, bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestShardName(t *testing.T) {
	n, s, e, err := ParseShardName("a:b/c:8:16")
	if err != nil || n != "a:b/c" || s != 8 || e != 16 {
		t.Fatalf("%q %d %d %v", n, s, e, err)
	}
	for _, bad := range []string{"x", "x:1", "x:2:1", "x:a:2", ":1:2"} {
		if _, _, _, err := ParseShardName(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestCompare(t *testing.T) {
	want := []Item{{Name: "a", File: "a", Digest: []byte{1}}, {Name: "b", File: "b", Digest: []byte{2}}, {Name: "c", File: "c", Digest: []byte{3}}}
	got := []Item{{Name: "a", File: "a", Digest: []byte{1}}, {Name: "b", File: "b", Digest: []byte{9}}, {Name: "d", File: "d", Digest: []byte{4}}}
	d := Compare(want, got)
	if !slices.Equal(d.Missing, []string{"c"}) || !slices.Equal(d.Extra, []string{"d"}) || !slices.Equal(d.Changed, []string{"b"}) {
		t.Fatalf("%+v", d)
	}
}
