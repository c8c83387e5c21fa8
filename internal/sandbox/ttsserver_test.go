package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func folder(t *testing.T, files map[string]string) string {
	t.Helper()
	d := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(d, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestTTSServerArgs(t *testing.T) {
	vits := folder(t, map[string]string{"config.json": `{"max_audio_len": Infinity, "x": -Infinity, "y": [NaN], "s": "NaN \" Infinity", "model": "vits"}`, "model_file.pth": "x"})
	vctk := folder(t, map[string]string{"config.json": `{"model": "vits"}`, "model_file.pth": "x", "speaker_ids.json": "{}"})
	glow := folder(t, map[string]string{"config.json": `{"model": "glow_tts"}`, "model_file.pth": "x", "scale_stats.npy": "x"})
	taco := folder(t, map[string]string{"config.json": `{"model": "Tacotron2"}`, "model_file.pth": "x", "scale_stats.npy": "x"})
	hifigan := folder(t, map[string]string{"config.json": `{"model": "hifigan_generator"}`, "model_file.pth": "x"})
	xtts := folder(t, map[string]string{"config.json": `{"model": "xtts"}`, "model.pth": "x", "vocab.json": "{}", "speakers_xtts.pth": "x"})
	trained := folder(t, map[string]string{"config.json": `{"model": "vits"}`, "checkpoint_900.pth": "x", "checkpoint_10000.pth": "x", "checkpoint_x.pth": "x"})
	both := folder(t, map[string]string{"config.json": `{"model": "vits"}`, "model.pth": "x", "best_model.pth": "x", "speakers.pth": "x", "speakers.json": "x"})
	tests := []struct {
		name, model, vocoder string
		family               string
		want                 []string
	}{
		{"vits", vits, "", "vits", []string{"--model_path", vits + "/model_file.pth", "--config_path", vits + "/config.json", "--port", "5002"}},
		{"vits multi-speaker", vctk, "", "vits", []string{"--model_path", vctk + "/model_file.pth", "--config_path", vctk + "/config.json", "--speakers_file_path", vctk + "/speaker_ids.json", "--port", "5002"}},
		{"glow-tts", glow, "", "glow_tts", []string{"--model_path", glow + "/model_file.pth", "--config_path", glow + "/config.json", "--port", "5002"}},
		{"tacotron2 + vocoder", taco, hifigan, "tacotron2", []string{"--model_path", taco + "/model_file.pth", "--config_path", taco + "/config.json",
			"--vocoder_path", hifigan + "/model_file.pth", "--vocoder_config_path", hifigan + "/config.json", "--port", "5002"}},
		{"xtts", xtts, "", "xtts", []string{"--model_path", xtts, "--config_path", xtts + "/config.json", "--port", "5002"}},
		{"training checkpoints", trained, "", "vits", []string{"--model_path", trained + "/checkpoint_10000.pth", "--config_path", trained + "/config.json", "--port", "5002"}},
		{"preferred names", both, "", "vits", []string{"--model_path", both + "/model.pth", "--config_path", both + "/config.json", "--speakers_file_path", both + "/speakers.pth", "--port", "5002"}},
	}
	for _, tt := range tests {
		got, err := TTSServerArgs(tt.model, tt.vocoder, 5002)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.Family != tt.family || !reflect.DeepEqual(got.Args, tt.want) {
			t.Errorf("%s:\n got %s %q\nwant %s %q", tt.name, got.Family, got.Args, tt.family, tt.want)
		}
	}
	for name, dir := range map[string]string{
		"no config":     folder(t, map[string]string{"model.pth": "x"}),
		"no family":     folder(t, map[string]string{"config.json": `{"model": {"inter_channels": 192}}`, "G_100000.pth": "x"}),
		"bad json":      folder(t, map[string]string{"config.json": `{`, "model.pth": "x"}),
		"no checkpoint": folder(t, map[string]string{"config.json": `{"model": "vits"}`}),
	} {
		if _, err := TTSServerArgs(dir, "", 5002); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := TTSServerArgs(xtts, hifigan, 5002); !errors.Is(err, ErrSpec) {
		t.Errorf("xtts with a vocoder: %v", err)
	}
}

func TestPythonJSON(t *testing.T) {
	for in, want := range map[string]string{
		`{"a": Infinity, "b": -Infinity, "c": NaN}`: `{"a": null, "b": null, "c": null}`,
		`{"s": "NaN Infinity \" -Infinity"}`:        `{"s": "NaN Infinity \" -Infinity"}`,
		`["\\", NaN]`:                               `["\\", null]`,
		`Infinit`:                                   `Infinit`,
	} {
		if got := string(pythonJSON([]byte(in))); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

func TestTTSServerCommand(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "tts-server")
	os.WriteFile(script, []byte("#!/opt/venv/bin/python3.11\nimport sys\n"), 0o755)
	got, err := TTSServerCommand(script, "", []string{"--port", "1"})
	if err != nil || !reflect.DeepEqual(got, []string{script, "--port", "1"}) {
		t.Errorf("%q %v", got, err)
	}
	got, err = TTSServerCommand(script, "127.0.0.1", []string{"--port", "1"})
	if err != nil || len(got) != 7 || got[0] != "/opt/venv/bin/python3.11" || got[1] != "-I" || got[2] != "-c" || got[4] != "127.0.0.1" || got[5] != "--port" {
		t.Errorf("%q %v", got, err)
	}
	if !strings.Contains(got[3], "sys.argv.pop(1)") || strings.Contains(got[3], "127.0.0.1") {
		t.Error("the host must be an argument, not code")
	}
	if _, err := TTSServerCommand(script, "'; import os #", nil); !errors.Is(err, ErrSpec) {
		t.Errorf("bad host: %v", err)
	}
	bin := filepath.Join(dir, "bin")
	os.WriteFile(bin, []byte("\x7fELF"), 0o755)
	if _, err := TTSServerCommand(bin, "::1", nil); !errors.Is(err, ErrSpec) {
		t.Errorf("binary: %v", err)
	}
}

// TestHostWrapper runs the --host wrapper with stand-ins for flask and
// TTS.server.server: tts-server's main calls Flask.run(host="::"), and the
// wrapper makes it listen on the requested host instead.
// TestHostWrapper runs the --host wrapper with a Python virtual
// environment holding fake TTS and flask packages. A flask.py planted in
// the working folder (the scratch folder, HOME) and in the user site must
// not be imported (issue 9, item 6: the wrapper runs Python isolated).
func TestHostWrapper(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: the wrapper test needs it")
	}
	venv := t.TempDir()
	if out, err := exec.Command(py, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Skipf("python3 -m venv: %v: %s", err, out)
	}
	sites, _ := filepath.Glob(filepath.Join(venv, "lib", "python3*", "site-packages"))
	if len(sites) != 1 {
		t.Fatalf("site-packages of the venv: %q", sites)
	}
	lib := sites[0]
	os.MkdirAll(filepath.Join(lib, "TTS", "server"), 0o755)
	os.WriteFile(filepath.Join(lib, "flask.py"), []byte("class Flask:\n    def run(self, debug=False, host=None, port=None):\n        print('host=%s port=%s' % (host, port))\n"), 0o644)
	os.WriteFile(filepath.Join(lib, "TTS", "__init__.py"), nil, 0o644)
	os.WriteFile(filepath.Join(lib, "TTS", "server", "__init__.py"), nil, 0o644)
	os.WriteFile(filepath.Join(lib, "TTS", "server", "server.py"), []byte(`import argparse, sys
from flask import Flask
p = argparse.ArgumentParser()
p.add_argument("--port", type=int)
args = p.parse_args()
app = Flask()
def main():
    print("argv0=" + sys.argv[0])
    app.run(debug=False, host="::", port=args.port)
`), 0o644)
	script := filepath.Join(venv, "bin", "tts-server")
	os.WriteFile(script, []byte("#!"+filepath.Join(venv, "bin", "python3")+"\n"), 0o755)
	argv, err := TTSServerCommand(script, "127.0.0.1", []string{"--port", "5009"})
	if err != nil {
		t.Fatal(err)
	}
	// What another process of the serving user planted.
	home := t.TempDir()
	planted := "raise SystemExit('planted code ran')\n"
	os.WriteFile(filepath.Join(home, "flask.py"), []byte(planted), 0o644)
	userSite, _ := exec.Command(py, "-c", "import site, sys; sys.stdout.write(site.getusersitepackages())").Output()
	if rel, err := filepath.Rel(os.Getenv("HOME"), string(userSite)); err == nil && !strings.HasPrefix(rel, "..") {
		us := filepath.Join(home, rel)
		os.MkdirAll(us, 0o755)
		os.WriteFile(filepath.Join(us, "usercustomize.py"), []byte(planted), 0o644)
		os.WriteFile(filepath.Join(us, "flask.py"), []byte(planted), 0o644)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "PYTHONPATH=" + home, "PYTHONSTARTUP=" + filepath.Join(home, "flask.py")}
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "argv0=tts-server\nhost=127.0.0.1 port=5009\n" {
		t.Errorf("%v: %s", err, out)
	}
}

// TestTTSServerOptions (issue 15, item 4): the options coqui users set pass
// through; the ones that would download, debug or replace the verified
// model are refused with the reason.
func TestTTSServerOptions(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
		gpu  bool
		err  string
	}{
		{in: nil, want: nil},
		{in: []string{"--speaker_idx", "p225", "--language_idx=de", "--show_details"}, want: []string{"--speaker_idx", "p225", "--language_idx", "de", "--show_details"}},
		{in: []string{"--device", "cuda:1"}, want: []string{"--device", "cuda:1"}, gpu: true},
		{in: []string{"--device=cpu", "--no-use_cuda"}, want: []string{"--device", "cpu", "--no-use_cuda"}},
		{in: []string{"--use_cuda"}, want: []string{"--use_cuda"}, gpu: true},
		{in: []string{"--debug"}, err: "Flask's debugger"},
		{in: []string{"--model_name", "tts_models/en/ljspeech/vits"}, err: "would download"},
		{in: []string{"--model_path=/tmp/evil.pth"}, err: "verified model"},
		{in: []string{"--port", "80"}, err: "ttsguard's --port"},
		{in: []string{"--speaker_idx"}, err: "needs a value"},
		{in: []string{"--speaker_idx", "a\x1bb"}, err: "bad value"},
		{in: []string{"--device", "cuda; rm -rf /"}, err: "want cpu, cuda or cuda:N"},
		{in: []string{"--show_details=yes"}, err: "takes no value"},
		{in: []string{"--frobnicate"}, err: "not one ttsguard passes"},
	}
	for _, tt := range tests {
		got, gpu, err := TTSServerOptions(tt.in)
		if tt.err != "" {
			if !errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: got %v, want an error with %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) || gpu != tt.gpu {
			t.Errorf("%q: got %q gpu %v %v, want %q gpu %v", tt.in, got, gpu, err, tt.want, tt.gpu)
		}
	}
}

// TestTTSServerArgsDecrypted: folders encrypted at rest (their config.json
// on disk is ciphertext) are read for their layout, their family comes from
// the decrypted config, and the arguments name the folders the command is
// given in their place; RewriteConfigDecrypted points the copy there too.
func TestTTSServerArgsDecrypted(t *testing.T) {
	taco := folder(t, map[string]string{"config.json": "age-encryption.org/v1 ...", "model_file.pth": "x", "speakers.pth": "x", "scale_stats.npy": "x"})
	hifigan := folder(t, map[string]string{"config.json": "age-encryption.org/v1 ...", "model_file.pth": "x"})
	d := &Decrypted{
		configs: map[string][]byte{taco: []byte(`{"model": "tacotron2", "audio": {"stats_path": "/home/trainer/scale_stats.npy"}}`), hifigan: []byte(`{"model": "hifigan_generator"}`)},
		dirs:    map[string]string{taco: "/tmp/view/0-taco", hifigan: "/tmp/view/1-hifigan"},
	}
	got, err := TTSServerArgsDecrypted(taco, hifigan, 5002, d)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--model_path", "/tmp/view/0-taco/model_file.pth", "--config_path", "/tmp/view/0-taco/config.json",
		"--speakers_file_path", "/tmp/view/0-taco/speakers.pth", "--vocoder_path", "/tmp/view/1-hifigan/model_file.pth",
		"--vocoder_config_path", "/tmp/view/1-hifigan/config.json", "--port", "5002"}
	if got.Family != "tacotron2" || got.Vocoder != "hifigan_generator" || !reflect.DeepEqual(got.Args, want) {
		t.Errorf("got %s %s %q\nwant %q", got.Family, got.Vocoder, got.Args, want)
	}
	copyData, fields, err := RewriteConfigDecrypted(taco, d)
	if err != nil || !strings.Contains(string(copyData), `"stats_path": "/tmp/view/0-taco/scale_stats.npy"`) || len(fields) == 0 {
		t.Errorf("config copy %s %v %v", copyData, fields, err)
	}
	// Without a Decrypted the same folder is ciphertext: not a model folder.
	if _, err := TTSServerArgs(taco, "", 5002); !errors.Is(err, ErrSpec) {
		t.Errorf("ciphertext config: %v", err)
	}
}
