//go:build linux && (amd64 || arm64)

package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGPUPlan (issue 15, item 4): --gpu allows the NVIDIA device files
// (read, write, ioctl) and nothing else of /dev, and lifts the default
// memory limit; without devices it is an error.
func TestGPUPlan(t *testing.T) {
	model := t.TempDir()
	saved := gpuDevicePatterns
	defer func() { gpuDevicePatterns = saved }()
	gpuDevicePatterns = []string{filepath.Join(t.TempDir(), "nvidia[0-9]*")}
	if _, err := Prepare(Spec{Model: model, Command: []string{"/bin/true"}, GPU: true}); !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), "no NVIDIA device files") {
		t.Errorf("no devices: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a character device")
	}
	dev := filepath.Join(filepath.Dir(gpuDevicePatterns[0]), "nvidia0")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	p, err := Prepare(Spec{Model: model, Command: []string{"/bin/true"}, GPU: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.GPU, []string{dev}) || p.Limits.Memory != 0 {
		t.Errorf("gpu %q, memory limit %d", p.GPU, p.Limits.Memory)
	}
	for _, r := range p.Landlock.Rules {
		if r.Path == dev && (!slices.Contains(r.Access, "write_file") || slices.Contains(r.Access, "execute")) {
			t.Errorf("device rule %v", r.Access)
		}
	}
	p, err = Prepare(Spec{Model: model, Command: []string{"/bin/true"}})
	if err != nil || len(p.GPU) != 0 || p.Limits.Memory != DefaultLimits.Memory {
		t.Errorf("without --gpu: %v %q %d", err, p.GPU, p.Limits.Memory)
	}
}
