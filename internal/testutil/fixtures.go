// Package testutil builds the model fixtures of the reference implementation's
// golden tests (see ../shared/vectors/oms/README.md) and finds shared vectors.
package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Vectors returns the path of ../shared/vectors/oms, skipping nothing: a
// missing shared folder is a test failure, not a skip.
func Vectors(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "vectors", "oms")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared vectors: %v (../shared must sit beside the checkout)", err)
	}
	return p
}

// Fixture names as used by the golden files.
var Fixtures = []string{
	"sample_model_file", "empty_model_file", "sample_model_folder", "empty_model_folder",
	"model_folder_with_empty_file", "deep_model_folder", "symlink_model_folder",
}

func write(t testing.TB, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// MakeFixture creates the named fixture under dir and returns the model path.
func MakeFixture(t testing.TB, dir, name string) string {
	t.Helper()
	switch name {
	case "sample_model_file":
		p := filepath.Join(dir, "file_model")
		write(t, p, "This is a simple model")
		return p
	case "empty_model_file":
		p := filepath.Join(dir, "empty_file_model")
		write(t, p, "")
		return p
	case "sample_model_folder":
		m := filepath.Join(dir, "sample_model")
		for i := 0; i < 2; i++ {
			for j := 0; j < 3; j++ {
				write(t, filepath.Join(m, fmt.Sprintf("d%d", i), fmt.Sprintf("f%d%d", i, j)), fmt.Sprintf("This is file f%d%d in d%d.", i, j, i))
			}
		}
		for i := 0; i < 4; i++ {
			write(t, filepath.Join(m, fmt.Sprintf("f%d", i)), fmt.Sprintf("This is file f%d in root.", i))
		}
		return m
	case "empty_model_folder":
		m := filepath.Join(dir, "empty_folder_model")
		if err := os.MkdirAll(m, 0o755); err != nil {
			t.Fatal(err)
		}
		return m
	case "model_folder_with_empty_file":
		m := filepath.Join(dir, "empty_file_inside_model")
		write(t, filepath.Join(m, "empty_file"), "")
		return m
	case "deep_model_folder":
		m := filepath.Join(dir, "deep_model")
		for i := 0; i < 4; i++ {
			write(t, filepath.Join(m, "d0", "d1", "d2", "d3", "d4", fmt.Sprintf("f%d", i)), fmt.Sprintf("This is file f%d.", i))
		}
		return m
	case "symlink_model_folder":
		ext := filepath.Join(dir, "external_file")
		write(t, ext, "This is a simple model")
		m := filepath.Join(dir, "symlink_model")
		if err := os.MkdirAll(m, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(ext, filepath.Join(m, "symlink_file")); err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Fatalf("unknown fixture %q", name)
	return ""
}

// TinyVits returns the files of examples/tiny-vits, by name (its model.sig
// aside); it panics when they cannot be read.
func TinyVits() map[string][]byte {
	_, file, _, _ := runtime.Caller(0)
	out := map[string][]byte{}
	for _, f := range []string{"config.json", "model_file.pth"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "examples", "tiny-vits", f))
		if err != nil {
			panic(err)
		}
		out[f] = b
	}
	return out
}
