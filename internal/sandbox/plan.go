package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrUnsupported says that this system cannot run a sandboxed command.
var ErrUnsupported = errors.New("the sandbox needs Linux on amd64 or arm64")

// ErrSpec is wrapped by errors in what the caller asked for (a missing path,
// an unknown user, a command that cannot be found).
var ErrSpec = errors.New("bad sandbox request")

// ModelPlaceholder is replaced by the model folder in the command's arguments.
const ModelPlaceholder = "{model}"

// ScratchPlaceholder in the command's arguments and environment stands for
// the scratch folder, which exists only once Run made it.
const ScratchPlaceholder = "<scratch>"

// EnvModel is the environment variable that holds the model folder.
const EnvModel = "TTSGUARD_MODEL"

// VocoderPlaceholder is replaced by the vocoder's model folder in the
// command's arguments, and EnvVocoder holds it.
const (
	VocoderPlaceholder = "{vocoder}"
	EnvVocoder         = "TTSGUARD_VOCODER"
)

// OutputPlaceholder is replaced by the output folder in the command's
// arguments, and EnvOutput holds it.
const (
	OutputPlaceholder = "{output}"
	EnvOutput         = "TTSGUARD_OUTPUT"
)

// Spec is what to run and what it may touch. Model, Command and the identity
// fields are security choices: there is no default that widens them.
type Spec struct {
	// Model is the verified, read-only model folder: readable (not
	// executable) by the command, in $TTSGUARD_MODEL, and replacing
	// ModelPlaceholder in Command. "" = none (a training run from scratch):
	// then no $TTSGUARD_MODEL, and ModelPlaceholder is refused.
	Model string
	// Command is the program and its arguments. A program without a slash is
	// looked up in the PATH the command gets.
	Command []string
	// AllowRead are more files or folders the command may read and execute.
	// Each must exist.
	AllowRead []string
	// ReadOnly are more folders or files the command may read, not
	// execute. Each must exist.
	ReadOnly []string
	// Inputs are read-only files or folders (among ReadOnly, or the
	// model) that the serving user must be able to read: the sandbox
	// checks each as that user before the command starts and names the
	// folder that blocks, as it does for the model.
	Inputs []string
	// Vocoder is a verified vocoder model folder: read-only like Model, in
	// $TTSGUARD_VOCODER and replacing VocoderPlaceholder ("" = none).
	Vocoder string
	// Output is a folder the command may write (not execute) and that
	// outlives it: created (0700) when missing, else it must be a folder of
	// the caller; in $TTSGUARD_OUTPUT and replacing OutputPlaceholder. After
	// the run, what the serving user wrote there is given to the caller
	// ("" = none).
	Output string
	// GPU allows the NVIDIA device files (and nothing else of /dev), and
	// lifts the memory limit unless Limits sets one (CUDA reserves
	// terabytes of address space).
	GPU bool
	// Files are written into the scratch folder before the command starts
	// (0444, by name; a name is one path component); the command finds them
	// as ScratchPlaceholder + "/" + name.
	Files map[string][]byte
	// HFCache are Hugging Face repositories given read-only through a
	// cache layout built in the scratch folder, offline (hfcache.go).
	HFCache []HFRepo
	// Port is the one TCP port the command may bind (0: none).
	Port int
	// User and Group are the serving user and group when ttsguard runs as
	// root: names or numeric ids; "" = nobody, and the group of GroupFrom
	// (nogroup when that is root's group). Never root.
	User, Group string
	// GroupFrom is a folder whose group is the default group (the store's
	// root, so that the serving user can traverse its 0750 folders).
	GroupFrom string
	// Env names environment variables passed through besides PATH, LANG and
	// LC_*.
	Env []string
	// Environ is the environment to take passed variables from (nil: the
	// process's own).
	Environ []string
	// ScratchParent is the folder the private scratch folder is created in
	// ("" = os.TempDir()); it must be reachable by the serving user.
	ScratchParent string
	// Limits caps the command's resources (nil: DefaultLimits).
	Limits *Limits
	// Overlays are folders (the model's, the vocoder's) whose content the
	// command sees replaced by a tree held in memory: a model encrypted at
	// rest, decrypted by the caller (overlay.go). They need ttsguard to
	// run as root (a mount namespace of the command's own).
	Overlays []Overlay
	// View gives a command started without root the decrypted models as
	// sealed memfds behind a folder of symbolic links (Spec.InMemory sets
	// it; Model and Vocoder are then the view's folders). The caller
	// closes it after Run.
	View *MemfdView
}

// Limits are the resource limits of the command and every process it
// starts; 0 leaves a limit as ttsguard's own.
type Limits struct {
	// Memory caps each process's address space (RLIMIT_AS), in bytes.
	Memory int64 `json:"memory"`
	// Processes caps the serving user's processes and threads
	// (RLIMIT_NPROC); with a per-run user they are the command's own.
	Processes int64 `json:"processes"`
	// FileSize caps each file the command writes (RLIMIT_FSIZE), in bytes.
	FileSize int64 `json:"file_size"`
	// OpenFiles caps each process's open descriptors (RLIMIT_NOFILE).
	OpenFiles int64 `json:"open_files"`
	// Scratch caps the private scratch folder, in bytes (the size of its
	// tmpfs when ttsguard starts as root).
	Scratch int64 `json:"scratch"`
}

// DefaultLimits are the limits when neither the caller nor the policy sets
// them: enough for coqui's models on the CPU (XTTS included), small enough
// that a runaway or hostile command cannot take the host down.
var DefaultLimits = Limits{Memory: 32 << 30, Processes: 4096, FileSize: 1 << 30, OpenFiles: 4096, Scratch: 1 << 30}

// Plan is the sandbox a Spec resolves to: what Explain prints and what Run
// applies. Paths are absolute; the scratch folder is "" until Run makes it.
type Plan struct {
	Command     []string `json:"command"` // argv; Path is what is executed
	Path        string   `json:"path"`
	Model       string   `json:"model"`
	Scratch     string   `json:"scratch,omitempty"`
	Identity    Identity `json:"identity"`
	NoNewPrivs  bool     `json:"no_new_privs"`
	Landlock    Landlock `json:"landlock"`
	Seccomp     Seccomp  `json:"seccomp"`
	Vocoder     string   `json:"vocoder,omitempty"`
	Files       []string `json:"scratch_files,omitempty"` // written into the scratch folder first
	HFCache     []HFRepo `json:"hf_cache,omitempty"`      // built in the scratch folder first (hfcache.go)
	Output      string   `json:"output,omitempty"`
	GPU         []string `json:"gpu_devices,omitempty"` // device files allowed for the GPU
	Env         []string `json:"env"`                   // NAME=value; <scratch> until Run
	Signals     []string `json:"forwarded_signals"`
	ParentDeath string   `json:"parent_death_signal"`
	Process     Process  `json:"process"`
	Limits      Limits   `json:"limits"`
	Notes       []string `json:"notes,omitempty"`
	// Inputs are Spec.Inputs, absolute: checked readable as the serving
	// user before the command starts.
	Inputs []string `json:"inputs,omitempty"`
	// Python is the Python installation the command runs on, when it is a
	// Python interpreter or a script whose #! names one (nil otherwise).
	Python *Python `json:"python,omitempty"`
	// Overlays are the folders the command sees as a private in-memory
	// copy (Spec.Overlays): their paths.
	Overlays []string `json:"overlays,omitempty"`

	scratchParent string
	overlays      []Overlay
	view          *MemfdView
	reach         []string          // what the serving user must reach to start the command
	files         map[string][]byte // Spec.Files
	tree          []TreeEntry       // Spec.HFCache's layout
}

// Python is the Python installation a command runs on, as the sandbox
// allows it: its interpreter, the virtual environment it is in, and the
// installation (prefix) under both.
type Python struct {
	Interpreter string `json:"interpreter"`    // as the command names it (a venv's bin/python)
	Executable  string `json:"executable"`     // with links resolved
	Venv        string `json:"venv,omitempty"` // the virtual environment (pyvenv.cfg's folder)
	Prefix      string `json:"prefix"`         // the installation: the venv's base, conda's prefix, /usr
}

// Process is how the command's processes are kept apart from the caller
// and from what outlives them.
type Process struct {
	// Session: the command's session and terminal.
	Session string `json:"session"`
	// Output: how the command's standard streams reach the caller.
	Output string `json:"output"`
	// Descriptors: what the command inherits.
	Descriptors string `json:"descriptors"`
	// Namespaces are the kernel namespaces the command runs in.
	Namespaces []string `json:"namespaces"`
	// Descendants: what ends every process the command starts.
	Descendants string `json:"descendants"`
	// Scratch: where the scratch folder lives.
	Scratch string `json:"scratch"`
	// Cgroup: whether the command gets a control group of its own.
	Cgroup string `json:"cgroup"`

	namespaces bool
}

// Identity is who the command runs as.
type Identity struct {
	Change       bool   `json:"change"` // ttsguard runs as root and switches
	User         string `json:"user"`
	UID          int    `json:"uid"`
	Group        string `json:"group"`
	GID          int    `json:"gid"`
	GroupFrom    string `json:"group_from,omitempty"` // why this group
	Supplemental string `json:"supplementary_groups"`
	Capabilities string `json:"capabilities"`
	// Dynamic: a fresh user id for each run, from DynamicUIDs, in no
	// account database and shared with no other process (UID is 0 until
	// Run picks it).
	Dynamic bool   `json:"dynamic"`
	Problem string `json:"problem,omitempty"` // why Run refuses
}

// Landlock is the filesystem, network and IPC part of the plan.
type Landlock struct {
	ABI         int      `json:"abi"` // the kernel's; 0 = none
	Enforced    bool     `json:"enforced"`
	Rules       []Rule   `json:"rules"`
	BindTCP     []int    `json:"bind_tcp"`    // ports the command may bind
	ConnectTCP  []int    `json:"connect_tcp"` // ports it may connect to (none)
	Network     bool     `json:"network_enforced"`
	Scoped      []string `json:"scoped,omitempty"`
	Handled     []string `json:"handled_fs"`
	NotEnforced []string `json:"not_enforced,omitempty"`

	abi int // the ABI level used (at most maxKnownABI)
}

// Rule grants rights beneath a path.
type Rule struct {
	Path   string   `json:"path"`
	Access []string `json:"access"`
	Why    string   `json:"why"`

	mask uint64
}

// Seccomp is the system call filter of the plan.
type Seccomp struct {
	Enforced    bool     `json:"enforced"`
	Arch        string   `json:"arch"`
	OtherArch   string   `json:"other_architectures"`
	DenyEPERM   []string `json:"deny_eperm"`
	DenyENOSYS  []string `json:"deny_enosys"`
	Conditional []string `json:"conditional"`
}

// forwarded lists the signals ttsguard passes on to the command.
var forwarded = []string{"SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"}

// Prepare resolves a Spec into a Plan without starting or creating anything.
// A Spec without a command gives a plan to explain, not to run.
// Errors wrap ErrSpec (or fs errors) when the request cannot be honoured.
func Prepare(s Spec) (*Plan, error) {
	if len(s.Command) > 0 && s.Command[0] == "" {
		return nil, fmt.Errorf("%w: empty command", ErrSpec)
	}
	if s.Port < 0 || s.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d out of range", ErrSpec, s.Port)
	}
	model, vocoder, output := "", "", ""
	var err error
	if s.Model != "" {
		if model, err = existingAbs(s.Model, true); err != nil {
			return nil, fmt.Errorf("%w: model folder: %w", ErrSpec, err)
		}
	}
	if s.Vocoder != "" {
		if vocoder, err = existingAbs(s.Vocoder, true); err != nil {
			return nil, fmt.Errorf("%w: vocoder folder: %w", ErrSpec, err)
		}
	}
	if s.Output != "" {
		if output, err = outputFolder(s.Output); err != nil {
			return nil, err
		}
	}
	environ := s.Environ
	if environ == nil {
		environ = os.Environ()
	}
	p := &Plan{Model: model, NoNewPrivs: true, Signals: forwarded, ParentDeath: "SIGKILL", scratchParent: s.ScratchParent}
	if p.scratchParent == "" {
		p.scratchParent = os.TempDir()
	}
	p.Vocoder, p.Output = vocoder, output
	for name, data := range s.Files {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return nil, fmt.Errorf("%w: scratch file name %q", ErrSpec, name)
		}
		if p.files == nil {
			p.files = map[string][]byte{}
		}
		p.files[name] = data
		p.Files = append(p.Files, name)
	}
	sort.Strings(p.Files)
	p.Env = buildEnv(environ, s.Env, model, "<scratch>")
	for k, v := range map[string]string{EnvVocoder: vocoder, EnvOutput: output} {
		if v != "" {
			p.Env = append(p.Env, k+"="+v)
		}
	}
	sort.Strings(p.Env)
	if err := p.planHFCache(&s); err != nil {
		return nil, err
	}
	repl := strings.NewReplacer(ModelPlaceholder, model, VocoderPlaceholder, vocoder, OutputPlaceholder, output)
	for _, a := range s.Command {
		if (vocoder == "" && strings.Contains(a, VocoderPlaceholder)) || (output == "" && strings.Contains(a, OutputPlaceholder)) ||
			(model == "" && strings.Contains(a, ModelPlaceholder)) {
			return nil, fmt.Errorf("%w: %q uses a placeholder without its option (--vocoder for {vocoder}, --output for {output}, a model for {model})", ErrSpec, a)
		}
		p.Command = append(p.Command, repl.Replace(a))
	}
	if len(p.Command) > 0 {
		if p.Path, err = lookPath(p.Command[0], envValue(p.Env, "PATH")); err != nil {
			return nil, err
		}
	}
	if p.Identity, err = resolveIdentity(s); err != nil {
		return nil, err
	}
	for _, in := range s.Inputs {
		abs, err := existingAbs(in, false)
		if err != nil {
			return nil, fmt.Errorf("%w: input: %w", ErrSpec, err)
		}
		p.Inputs = append(p.Inputs, abs)
	}
	if err := p.planLandlock(s, model); err != nil {
		return nil, err
	}
	p.Seccomp = seccompPlan()
	p.Limits = DefaultLimits
	if s.Limits != nil {
		p.Limits = *s.Limits
	} else if s.GPU {
		p.Limits.Memory = 0
	}
	if s.GPU && p.Limits.Memory == 0 {
		p.Notes = append(p.Notes, "GPU: no address-space limit (CUDA reserves terabytes of address space)")
	}
	p.Process = processPlan(p.Identity.Change)
	if err := p.planOverlays(s.Overlays); err != nil {
		return nil, err
	}
	if err := p.planView(s.View); err != nil {
		return nil, err
	}
	return p, nil
}

// existingAbs returns p absolute and cleaned, after checking it exists (and
// is a folder when dir).
func existingAbs(p string, dir bool) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if dir && !st.IsDir() {
		return "", fmt.Errorf("%s: not a folder", abs)
	}
	return abs, nil
}

// buildEnv returns the command's environment: PATH (or a default), LANG and
// LC_* when set, the passed names when set, and HOME, TMPDIR and
// TTSGUARD_MODEL. Sorted by name.
func buildEnv(environ, pass []string, model, scratch string) []string {
	get := map[string]string{}
	var names []string
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if _, dup := get[k]; !dup {
			names = append(names, k)
		}
		get[k] = v
	}
	out := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin"}
	if v, ok := get["PATH"]; ok && v != "" {
		out["PATH"] = v
	}
	for _, k := range names {
		if k == "LANG" || strings.HasPrefix(k, "LC_") {
			out[k] = get[k]
		}
	}
	for _, k := range pass {
		if v, ok := get[k]; ok {
			out[k] = v
		}
	}
	out["HOME"], out["TMPDIR"] = scratch, scratch
	if model != "" {
		out[EnvModel] = model
	}
	// Python started by the command never loads code from the serving
	// user's site folder or from the working folder.
	out["PYTHONNOUSERSITE"], out["PYTHONSAFEPATH"] = "1", "1"
	env := make([]string, 0, len(out))
	for k, v := range out {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// lookPath finds a program like a shell would in path; a name with a slash
// is taken as it is. The result is absolute.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		abs, err := existingAbs(name, false)
		if err != nil {
			return "", fmt.Errorf("%w: command: %w", ErrSpec, err)
		}
		if err := isExecutable(abs); err != nil {
			return "", fmt.Errorf("%w: command %q: %w", ErrSpec, name, err)
		}
		return abs, nil
	}
	for _, dir := range filepath.SplitList(path) {
		if !filepath.IsAbs(dir) {
			continue // relative PATH entries would depend on the scratch folder
		}
		p := filepath.Join(dir, name)
		if isExecutable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: command %q not found in PATH %q", ErrSpec, name, path)
}

func isExecutable(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s: not an executable file: %w", p, fs.ErrPermission)
	}
	return nil
}
