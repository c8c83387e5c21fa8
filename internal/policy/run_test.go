package policy

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseRun(t *testing.T) {
	p, err := Parse("p.yaml", []byte("version: 1\nrun:\n  user: \"65534\"\n  group: svc.tts\n  allow_read:\n    - /opt/venv\n    - ~/models/extra\n  env: [CUDA_VISIBLE_DEVICES, HF_HUB_OFFLINE, _X1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Run{User: "65534", Group: "svc.tts", AllowRead: []string{"/opt/venv", "~/models/extra"}, Env: []string{"CUDA_VISIBLE_DEVICES", "HF_HUB_OFFLINE", "_X1"}}
	if !reflect.DeepEqual(p.Run, want) {
		t.Errorf("run = %#v", p.Run)
	}
	for _, in := range []string{"version: 1\n", "version: 1\nrun:\n", "version: 1\nrun: {}\n", "version: 1\nrun:\n  user:\n  allow_read: []\n  env:\n"} {
		p, err := Parse("p.yaml", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if p.Run.User != "" || p.Run.Group != "" || len(p.Run.AllowRead) != 0 || len(p.Run.Env) != 0 {
			t.Errorf("%q: run = %#v", in, p.Run)
		}
		if strings.Contains(p.String(), "run:") {
			t.Errorf("%q: an empty run section is printed:\n%s", in, p)
		}
	}
}

func TestParseRunErrors(t *testing.T) {
	const v = "version: 1\n"
	tests := []struct{ name, in, want string }{
		{"run list", v + "run: [a]\n", `policy "p.yaml": line 2: run: want a mapping, got a list`},
		{"run unknown", v + "run:\n  users: x\n", `policy "p.yaml": line 3: run: unknown key "users"`},
		{"user int", v + "run:\n  user: 1000\n", `policy "p.yaml": line 3: run.user: want a string, got an integer`},
		{"user root", v + "run:\n  user: root\n", `policy "p.yaml": line 3: run.user: the command must not run as root (user "root")`},
		{"user 0", v + "run:\n  user: \"0\"\n", `policy "p.yaml": line 3: run.user: the command must not run as root (user 0)`},
		{"user 00", v + "run:\n  user: \"00\"\n", `policy "p.yaml": line 3: run.user: the command must not run as root (user 0)`},
		{"user big", v + "run:\n  user: \"4294967295\"\n", `policy "p.yaml": line 3: run.user: user id 4294967295 is out of range`},
		{"user bad", v + "run:\n  user: \"a b\"\n", `policy "p.yaml": line 3: run.user: invalid user "a b": want a name (letters, digits, '.', '_', '-', at most 32) or a numeric id`},
		{"user dash", v + "run:\n  user: -x\n", `policy "p.yaml": line 3: run.user: invalid user "-x": want a name (letters, digits, '.', '_', '-', at most 32) or a numeric id`},
		{"group root", v + "run:\n  group: root\n", `policy "p.yaml": line 3: run.group: the command must not run as root (group "root")`},
		{"group 0", v + "run:\n  group: \"0\"\n", `policy "p.yaml": line 3: run.group: the command must not run as root (group 0)`},
		{"allow_read string", v + "run:\n  allow_read: /opt\n", `policy "p.yaml": line 3: run.allow_read: want a list of strings, got a string`},
		{"allow_read empty", v + "run:\n  allow_read: [\"\"]\n", `policy "p.yaml": line 3: run.allow_read[0]: empty path`},
		{"allow_read root", v + "run:\n  allow_read: [/]\n", `policy "p.yaml": line 3: run.allow_read[0]: "/" would allow reading every file`},
		{"allow_read slashes", v + "run:\n  allow_read: [//]\n", `policy "p.yaml": line 3: run.allow_read[0]: "//" would allow reading every file`},
		{"allow_read home", v + "run:\n  allow_read: [\"~\"]\n", `policy "p.yaml": line 3: run.allow_read[0]: "~" would allow reading every file`},
		{"allow_read twice", v + "run:\n  allow_read:\n    - /a\n    - /a\n", `policy "p.yaml": line 5: run.allow_read[1]: "/a" is listed twice (first on line 4)`},
		{"allow_read control", v + "run:\n  allow_read: [\"/a\\nb\"]\n", `policy "p.yaml": line 3: run.allow_read[0]: path "/a\nb" has a control character`},
		{"env map", v + "run:\n  env: {a: b}\n", `policy "p.yaml": line 3: run.env: want a list of strings, got a mapping`},
		{"env bad", v + "run:\n  env: [A=B]\n", `policy "p.yaml": line 3: run.env[0]: "A=B" is not an environment variable name`},
		{"env digit", v + "run:\n  env: [1A]\n", `policy "p.yaml": line 3: run.env[0]: "1A" is not an environment variable name`},
		{"env home", v + "run:\n  env: [HOME]\n", `policy "p.yaml": line 3: run.env[0]: ttsguard sets HOME itself`},
		{"env model", v + "run:\n  env: [TTSGUARD_MODEL]\n", `policy "p.yaml": line 3: run.env[0]: ttsguard sets TTSGUARD_MODEL itself`},
		{"env path", v + "run:\n  env: [PATH]\n", `policy "p.yaml": line 3: run.env[0]: PATH is always passed`},
		{"env lc", v + "run:\n  env: [LC_ALL]\n", `policy "p.yaml": line 3: run.env[0]: LC_ALL is always passed`},
		{"env twice", v + "run:\n  env: [A, A]\n", `policy "p.yaml": line 3: run.env[1]: "A" is listed twice`},
		{"verify other", v + "run:\n  verify: quick\n", `policy "p.yaml": line 3: run.verify: "quick": want fast or full`},
		{"verify empty", v + "run:\n  verify: \"\"\n", `policy "p.yaml": line 3: run.verify: "": want fast or full`},
		{"verify bool", v + "run:\n  verify: true\n", `policy "p.yaml": line 3: run.verify: want a string, got a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("no error; got %#v", p.Run)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Errorf("error %T does not wrap *Error and ErrInvalid", err)
			}
		})
	}
}

func TestLoadResolvesRunPaths(t *testing.T) {
	_, home := isolate(t)
	dir := t.TempDir()
	path := write(t, filepath.Join(dir, "ttsguard.yaml"), "version: 1\nrun:\n  allow_read: [venv, ~/extra, /opt/x/../y]\n")
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "venv"), filepath.Join(home, "extra"), "/opt/y"}
	if !reflect.DeepEqual(p.Run.AllowRead, want) {
		t.Errorf("allow_read = %q, want %q", p.Run.AllowRead, want)
	}
}

func TestRunRoundTrip(t *testing.T) {
	in := "version: 1\nrun:\n  user: tts\n  allow_read: [/opt/venv]\n  env: [TZ]\n"
	p, err := Parse("p.yaml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out := p.String()
	if !strings.Contains(out, "run:\n  user: tts\n  allow_read:\n    - /opt/venv\n  env:\n    - TZ\n") {
		t.Errorf("String:\n%s", out)
	}
	q, err := Parse("out.yaml", []byte(out))
	if err != nil || !reflect.DeepEqual(p, q) {
		t.Errorf("round trip: %v\n%#v\n%#v", err, p, q)
	}
}

func TestParseRunLimits(t *testing.T) {
	p, err := Parse("p.yaml", []byte("version: 1\nrun:\n  limits:\n    memory: 8GiB\n    processes: 512\n    file_size: unlimited\n    open_files: \"1024\"\n    scratch: 256MiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := RunLimits{Memory: 8 << 30, Processes: 512, FileSize: Unlimited, OpenFiles: 1024, Scratch: 256 << 20}
	if p.Run.Limits != want {
		t.Errorf("limits = %#v", p.Run.Limits)
	}
	// The effective policy prints them as it reads them, and reads them back.
	out := p.String()
	if !strings.Contains(out, "memory: 8GiB") || !strings.Contains(out, "file_size: unlimited") || !strings.Contains(out, "scratch: 256MiB") {
		t.Errorf("printed:\n%s", out)
	}
	again, err := Parse("p.yaml", []byte(out))
	if err != nil || again.Run.Limits != want {
		t.Errorf("round trip: %v %#v", err, again.Run.Limits)
	}
	p, err = Parse("p.yaml", []byte("version: 1\nrun:\n  limits: {memory: 12345}\n"))
	if err != nil || p.Run.Limits != (RunLimits{Memory: 12345}) {
		t.Errorf("bytes without a unit: %v %#v", err, p.Run.Limits)
	}
	const v = "version: 1\nrun:\n  limits:\n"
	for in, msg := range map[string]string{
		v + "    memory: 0\n":           `run.limits.memory: 0 would forbid everything; write unlimited to lift the limit`,
		v + "    memory: -1GiB\n":       `run.limits.memory: "-1GiB": want a positive number of bytes`,
		v + "    memory: 8GB\n":         `run.limits.memory: "8GB": want a positive number of bytes`,
		v + "    processes: 1GiB\n":     `run.limits.processes: "1GiB": want a positive number or unlimited`,
		v + "    memory: 99999999TiB\n": `run.limits.memory: "99999999TiB" is too large`,
		v + "    cpu: 2\n":              `run.limits: unknown key "cpu"`,
		v + "    memory: [1]\n":         `run.limits.memory: want a number, a size or unlimited`,
	} {
		if _, err := Parse("p.yaml", []byte(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: got %v, want %s", in, err, msg)
		}
	}
}

func TestParseRunVerify(t *testing.T) {
	for in, want := range map[string]struct {
		verify string
		fast   bool
	}{
		"version: 1\n":                       {"", true},
		"version: 1\nrun:\n  verify: fast\n": {VerifyFast, true},
		"version: 1\nrun:\n  verify: full\n": {VerifyFull, false},
	} {
		p, err := Parse("p.yaml", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if p.Run.Verify != want.verify || p.Run.FastVerify() != want.fast {
			t.Errorf("%q: verify %q, fast %v", in, p.Run.Verify, p.Run.FastVerify())
		}
		q, err := Parse("out.yaml", []byte(p.String()))
		if err != nil || !reflect.DeepEqual(p.Run, q.Run) {
			t.Errorf("%q: round trip: %v\n%s", in, err, p)
		}
	}
}
