//go:build linux && (amd64 || arm64)

package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// systemPaths are readable and executable: programs, interpreters and their
// libraries (/usr holds Python's standard library and /usr/local a
// pip-installed one). Absent ones are left out.
var systemPaths = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcPaths are the files under /etc that programs read to start and to
// format dates, look up the serving user, load libraries and verify TLS:
// never the whole of /etc. python3* matches Debian's sitecustomize folders.
var etcPaths = []string{
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/timezone",
	"/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/crypto-policies", "/etc/passwd", "/etc/group",
	"/etc/nsswitch.conf", "/etc/host.conf", "/etc/hosts", "/etc/gai.conf", "/etc/mime.types",
	"/etc/locale.alias", "/etc/alternatives", "/etc/python3*",
}

// procPaths are readable: entries of the process's own /proc folder (the
// re-executed ttsguard opens them under /proc/self, which is the command's
// after execve) and what thread pools read to size themselves. Not
// /proc/self itself: its net/ shows the host's sockets and interfaces, and
// mountinfo, mounts and mountstats the host's mounts; nor task/, which
// holds them again per thread.
var procPaths = []string{
	"/proc/self/fd", "/proc/self/fdinfo", "/proc/self/stat", "/proc/self/status", "/proc/self/statm",
	"/proc/self/maps", "/proc/self/smaps", "/proc/self/smaps_rollup", "/proc/self/cmdline", "/proc/self/comm",
	"/proc/self/cgroup", "/proc/self/limits", "/proc/self/auxv", "/proc/self/environ",
	"/proc/self/io", "/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu",
}

// devicePaths: /dev/null is read-write, the random sources and zero readable.
var devicePaths = []struct {
	path string
	mask uint64
}{{"/dev/null", rightsDevNull}, {"/dev/zero", rightsRead}, {"/dev/random", rightsRead}, {"/dev/urandom", rightsRead}}

// gpuDevicePatterns are the device files of NVIDIA's driver that CUDA
// opens: the control device, one per GPU, unified memory, mode setting and
// the capability devices of MIG.
var gpuDevicePatterns = []string{"/dev/nvidiactl", "/dev/nvidia[0-9]*", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
	"/dev/nvidia-modeset", "/dev/nvidia-caps/nvidia-cap[0-9]*"}

// gpuReadPaths are what CUDA reads about the driver (absent ones are left
// out). The driver's libraries (libcuda, libnvidia-ml) live under /usr,
// which is allowed already.
var gpuReadPaths = []string{"/proc/driver/nvidia", "/sys/module/nvidia"}

// gpuDevices lists the NVIDIA device files of this machine, or fails when
// there are none.
func gpuDevices() ([]string, error) {
	var out []string
	for _, pat := range gpuDevicePatterns {
		m, _ := filepath.Glob(pat)
		for _, d := range m {
			if st, err := os.Stat(d); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				out = append(out, d)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --gpu: this machine has no NVIDIA device files (%s)", ErrSpec, strings.Join(gpuDevicePatterns, ", "))
	}
	return out, nil
}

// limits are what the sandbox does not restrict on any kernel.
var limits = []string{
	"Landlock restricts bind(2), not listen(2) on a socket that was never bound: the kernel then picks a free ephemeral port",
	"UDP is not covered by Landlock's network rules: the seccomp filter refuses UDP sockets, and connect(2), sendto(2) with an address, sendmsg(2) and sendmmsg(2)",
	"Landlock does not hide the metadata of files outside the rules: stat(2) and readlink(2) work on any path (no contents, no listing)",
	"Landlock's execute right covers execve(2), not mmap(PROT_EXEC): any readable library can be loaded",
}

// noGPU is the note of a plan without --gpu.
const noGPU = "no GPU: device files other than /dev/null, /dev/zero and the random sources are not allowed, so the command runs on the CPU (--gpu allows the NVIDIA ones)"

// scratchPlaceholder stands for the scratch folder until Run creates it.
const scratchPlaceholder = ScratchPlaceholder

// planLandlock fills p.Landlock for the kernel's ABI.
func (p *Plan) planLandlock(s Spec, model string) error {
	abi, reason := landlockABI()
	l := &p.Landlock
	l.ABI, l.abi = abi, min(abi, maxKnownABI)
	l.Enforced = abi > 0
	handled := handledFS(l.abi)
	l.Handled = rightNames(handled)
	l.NotEnforced = notEnforced(abi, reason)
	add := func(path string, mask uint64, why string) {
		st, err := os.Stat(path)
		if err != nil && path != scratchPlaceholder && path != p.Output { // the output folder is made by Run
			return
		}
		if err == nil && !st.IsDir() {
			mask &= rightsFileOnly
		}
		for _, r := range l.Rules {
			if r.mask&mask == mask && (r.Path == path || within(r.Path, path)) {
				return // already granted by a wider rule
			}
		}
		l.Rules = append(l.Rules, Rule{Path: path, Access: rightNames(mask & handledOr(handled, mask)), Why: why, mask: mask})
	}
	for _, sp := range systemPaths {
		if r, err := filepath.EvalSymlinks(sp); err == nil {
			add(r, rightsReadExec, "system programs and libraries")
		}
	}
	for _, pat := range etcPaths {
		matches, _ := filepath.Glob(pat)
		for _, m := range matches {
			add(m, rightsRead, "system configuration programs read")
		}
	}
	for _, pp := range procPaths {
		add(pp, rightsRead, "the process's own /proc entries (not net/, mountinfo, task/) and CPU information")
	}
	for _, d := range devicePaths {
		add(d.path, d.mask, "device")
	}
	if model != "" {
		add(model, rightsRead, "the verified model (read-only, not executable)")
	}
	if p.Vocoder != "" {
		add(p.Vocoder, rightsRead, "the verified vocoder model (read-only, not executable)")
	}
	if p.Output != "" {
		add(p.Output, rightsScratch, "the output folder (--output): written by the command, kept afterwards")
	}
	if s.GPU {
		devs, err := gpuDevices()
		if err != nil {
			return err
		}
		for _, d := range devs {
			add(d, rightsDevice, "NVIDIA device (--gpu)")
		}
		for _, d := range gpuReadPaths {
			add(d, rightsRead, "NVIDIA driver information (--gpu)")
		}
		p.GPU = devs
	}
	for _, d := range s.ReadOnly {
		abs, err := existingAbs(d, false)
		if err != nil {
			return fmt.Errorf("%w: read-only path: %w", ErrSpec, err)
		}
		why := "a verified model (read-only, not executable)"
		if slices.Contains(p.Inputs, abs) {
			why = "a declared input (read-only, not executable)"
		}
		add(abs, rightsRead, why)
	}
	for _, a := range s.AllowRead {
		abs, err := existingAbs(a, false)
		if err != nil {
			return fmt.Errorf("%w: allowed path: %w", ErrSpec, err)
		}
		add(abs, rightsReadExec, "allowed by --allow-read or the policy's run.allow_read")
	}
	if p.Path != "" {
		if err := p.commandRules(add); err != nil {
			return err
		}
	}
	add(scratchPlaceholder, rightsScratch, "private scratch folder: HOME and TMPDIR (removed afterwards)")
	if l.abi >= 4 {
		l.Network = true
		l.BindTCP, l.ConnectTCP = []int{}, []int{}
		if s.Port > 0 {
			l.BindTCP = []int{s.Port}
		}
	}
	if l.abi >= 6 {
		l.Scoped = []string{"abstract unix sockets", "signals"}
	}
	p.Notes = append(p.Notes, limits...)
	if !s.GPU {
		p.Notes = append(p.Notes, noGPU)
	}
	return nil
}

// commandRules allows the command to be read and executed, with its #!
// interpreter and the Python virtual environment either is in.
func (p *Plan) commandRules(add func(string, uint64, string)) error {
	exe, err := filepath.EvalSymlinks(p.Path)
	if err != nil {
		return fmt.Errorf("%w: command: %w", ErrSpec, err)
	}
	add(exe, rightsFileExec, "the command")
	// The link targets first: a failure there names the folder that blocks
	// (a link into /root fails as the link itself otherwise).
	p.reach = []string{exe, p.Path}
	interp := interpreter(exe, envValue(p.Env, "PATH"))
	if interp != "" {
		if r, err := filepath.EvalSymlinks(interp); err == nil {
			add(r, rightsFileExec, "the command's interpreter (#!)")
			p.reach = append(p.reach, r)
		}
		p.reach = append(p.reach, interp)
	}
	for _, c := range []string{p.Path, interp} {
		if venv := venvRoot(c); venv != "" {
			add(venv, rightsReadExec, "the command's Python virtual environment")
			base := venvBase(venv)
			if base != "" {
				add(base, rightsReadExec, "the Python installation the virtual environment is built on (pyvenv.cfg home)")
			}
			if p.Python == nil && isPython(c) {
				p.Python = &Python{Interpreter: c, Venv: venv, Prefix: base}
			}
		}
	}
	for _, c := range []string{exe, p.Path, interp} {
		if c == "" {
			continue
		}
		if r, err := filepath.EvalSymlinks(c); err == nil {
			if prefix := pythonPrefix(r); prefix != "" {
				add(prefix, rightsReadExec, "the Python installation of the command's interpreter (standard library, libpython)")
			}
		}
	}
	// A Python run directly (its name, or its link target's, is
	// python*), else a script's #! Python.
	for _, c := range []string{p.Path, interp} {
		if c == "" || p.Python != nil {
			continue
		}
		if r, err := filepath.EvalSymlinks(c); err == nil && (isPython(c) || isPython(r)) {
			p.Python = &Python{Interpreter: c, Prefix: pythonPrefix(r)}
		}
	}
	if p.Python != nil {
		if r, err := filepath.EvalSymlinks(p.Python.Interpreter); err == nil {
			p.Python.Executable = r
		}
		if p.Python.Prefix == "" && filepath.Base(filepath.Dir(p.Python.Executable)) == "bin" {
			p.Python.Prefix = filepath.Dir(filepath.Dir(p.Python.Executable)) // a system Python: /usr
		}
	}
	return nil
}

// isPython reports whether a program's name is a Python interpreter's
// (python, python3, python3.11).
func isPython(prog string) bool {
	n, ok := strings.CutPrefix(filepath.Base(prog), "python")
	return ok && strings.Trim(n, "0123456789.") == ""
}

// venvBase returns the installation a virtual environment is built on: the
// folder above pyvenv.cfg's "home" (the base interpreter's bin/), when it
// holds the base's standard library (lib/pythonX.Y) and is not a system
// path ("" otherwise). pyenv, uv, conda-based and /opt Pythons all keep it
// there.
func venvBase(venv string) string {
	data, err := os.ReadFile(filepath.Join(venv, "pyvenv.cfg"))
	if err != nil || len(data) > 64<<10 {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) != "home" {
			continue
		}
		home := strings.TrimSpace(v)
		if !filepath.IsAbs(home) {
			return ""
		}
		if r, err := filepath.EvalSymlinks(home); err == nil {
			home = r
		}
		if filepath.Base(home) != "bin" {
			return ""
		}
		return installPrefix(filepath.Dir(home))
	}
	return ""
}

// pythonPrefix returns the installation prefix of a Python interpreter
// binary at PREFIX/bin/python*, when PREFIX holds its standard library and
// is not a system path ("" otherwise): a conda environment, an /opt or
// pyenv Python run directly.
func pythonPrefix(exe string) string {
	if !strings.HasPrefix(filepath.Base(exe), "python") || filepath.Base(filepath.Dir(exe)) != "bin" {
		return ""
	}
	return installPrefix(filepath.Dir(filepath.Dir(exe)))
}

// installPrefix returns prefix when it holds a Python standard library
// (lib/python3*/os.py) and is not under the system paths already allowed.
func installPrefix(prefix string) string {
	if prefix == "/" {
		return ""
	}
	for _, sp := range systemPaths {
		if prefix == sp || within(sp, prefix) {
			return ""
		}
	}
	if libs, _ := filepath.Glob(filepath.Join(prefix, "lib", "python3*", "os.py")); len(libs) == 0 {
		return ""
	}
	return prefix
}

// handledOr masks granted rights by what the kernel handles (all of them
// when it handles nothing, for display).
func handledOr(handled, mask uint64) uint64 {
	if handled == 0 {
		return mask
	}
	return handled
}

// within reports whether p is beneath folder dir.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

// interpreter returns the program a script's #! line names ("" if none);
// "#!/usr/bin/env NAME" is looked up in path.
func interpreter(exe, path string) string {
	f, err := os.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return ""
	}
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return ""
	}
	if filepath.Base(fields[0]) == "env" && len(fields) > 1 && !strings.HasPrefix(fields[1], "-") {
		p, err := lookPath(fields[1], path)
		if err != nil {
			return ""
		}
		return p
	}
	return fields[0]
}

// venvRoot returns the Python virtual environment a program is in (the
// folder above its bin/ when that holds pyvenv.cfg), or "".
func venvRoot(prog string) string {
	if prog == "" {
		return ""
	}
	bin := filepath.Dir(prog)
	if filepath.Base(bin) != "bin" {
		return ""
	}
	root := filepath.Dir(bin)
	if root == "/" {
		return ""
	}
	if st, err := os.Stat(filepath.Join(root, "pyvenv.cfg")); err == nil && st.Mode().IsRegular() {
		return root
	}
	return ""
}
