package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
)

// TestRunOutputAndVocoder (issue 15, item 5): a command writes its result
// into --output, which outlives the sandbox and belongs to the caller
// afterwards; --vocoder gives a checked vocoder to any command.
func TestRunOutputAndVocoder(t *testing.T) {
	e := newRunEnv(t)
	out := filepath.Join(e.dir, "out")
	var stdout bytes.Buffer
	err := execRun(&stdout, io.Discard, "--policy", e.policy, "--output", out, "--vocoder", "tiny", "tiny", "--",
		"/bin/sh", "-c", `test -r "$TTSGUARD_VOCODER/config.json" && echo "{vocoder}" && echo synthesized > {output}/speech.wav && mkdir "$TTSGUARD_OUTPUT/sub"`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(stdout.String()); got != e.model {
		t.Errorf("{vocoder} = %q, want %q", got, e.model)
	}
	data, err := os.ReadFile(filepath.Join(out, "speech.wav"))
	if err != nil || string(data) != "synthesized\n" {
		t.Fatalf("output: %q %v", data, err)
	}
	for _, p := range []string{out, filepath.Join(out, "speech.wav"), filepath.Join(out, "sub")} {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if uid := int(st.Sys().(*syscall.Stat_t).Uid); uid != os.Geteuid() {
			t.Errorf("%s is owned by uid %d, not the caller %d", p, uid, os.Geteuid())
		}
	}
	// The output folder is the caller's or refused; links are not followed.
	link := filepath.Join(e.dir, "link")
	os.Symlink(out, link)
	if err := execRun(io.Discard, io.Discard, "--policy", e.policy, "--output", link, "tiny", "--", "/bin/true"); exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("output through a link: %v", err)
	}
	if os.Geteuid() == 0 {
		other := filepath.Join(e.dir, "other")
		os.Mkdir(other, 0o777)
		os.Chown(other, 4242, 4242)
		if err := execRun(io.Discard, io.Discard, "--policy", e.policy, "--output", other, "tiny", "--", "/bin/true"); exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "owned by uid 4242") {
			t.Errorf("output of another user: %v", err)
		}
	}
	// Without --output, writing next to the model fails: the sandbox holds.
	if err := execRun(io.Discard, io.Discard, "--policy", e.policy, "tiny", "--", "/bin/sh", "-c", "echo x > "+filepath.Join(e.dir, "escaped")); err == nil {
		t.Error("the command wrote outside without --output")
	}
}

// TestRunTTSServerOptions (issue 15, item 4): tts-server options after --
// pass through; unsafe ones are refused before anything starts; CUDA needs
// --gpu.
func TestRunTTSServerOptions(t *testing.T) {
	e := newRunEnv(t)
	t.Setenv("PATH", filepath.Dir(e.script)+":/usr/bin:/bin")
	var out bytes.Buffer
	if err := execRun(&out, io.Discard, "--policy", e.policy, "--explain", "tiny", "--tts-server", "--", "--speaker_idx", "p225", "--language_idx=en"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "--port 5002 --speaker_idx p225 --language_idx en") {
		t.Errorf("explain:\n%s", out.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--debug"}, "Flask's debugger"},
		{[]string{"--model_name", "tts_models/en/ljspeech/vits"}, "would download"},
		{[]string{"--device", "cuda"}, "needs --gpu"},
	} {
		err := execRun(io.Discard, io.Discard, append([]string{"--policy", e.policy, "tiny", "--tts-server", "--"}, c.args...)...)
		if exitCode(err) != ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v", c.args, err)
		}
	}
	if err := execRun(io.Discard, io.Discard, "--policy", e.policy, "--gpu", "tiny", "--tts-server"); exitCode(err) != ExitUsage || !strings.Contains(err.Error(), "no NVIDIA device files") {
		if _, statErr := os.Stat("/dev/nvidiactl"); statErr != nil {
			t.Errorf("--gpu without a GPU: %v", err)
		}
	}
}

// TestRunStopIsClean (issue 15, item 8): a SIGTERM that ttsguard forwards
// (systemd stopping the service) ends the command: ttsguard exits 0 and logs
// a clean stop, not "run-exit FAILED exit status 143".
func TestRunStopIsClean(t *testing.T) {
	e := newRunEnv(t)
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- execRun(w, io.Discard, "--policy", e.policy, "tiny", "--", "/bin/sh", "-c", "echo READY; exec sleep 60")
		w.Close()
	}()
	line := make([]byte, 6)
	if _, err := io.ReadFull(r, line); err != nil || string(line) != "READY\n" {
		t.Fatalf("command: %q %v", line, err)
	}
	go io.Copy(io.Discard, r)
	// ttsguard holds SIGTERM (signal.Notify) while the command runs.
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	if err := <-done; err != nil {
		t.Fatalf("a forwarded SIGTERM: %v (exit %d), want exit 0", err, exitCode(err))
	}
	l, err := audit.OpenLog(filepath.Join(e.dir, "store"), false)
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := l.Records()
	if err != nil || len(recs) != 2 || recs[1].Command != "run-exit" || !recs[1].OK || !strings.HasPrefix(recs[1].Detail, "stopped by SIGTERM") {
		t.Errorf("audit log: %+v %v", recs, err)
	}
}

// TestRunConfigCopy (issue 15, item 3): a model saved by coqui's trainer
// names its files by absolute paths of the training machine, and relative
// ones resolve against the working folder; the command gets a copy of
// config.json that points into the verified model folder, while the stored
// model stays byte for byte as it was.
func TestRunConfigCopy(t *testing.T) {
	e := newRunEnv(t)
	src := filepath.Join(e.dir, "trainer-run")
	os.Mkdir(src, 0o755)
	weights, err := os.ReadFile("../../examples/tiny-vits/model_file.pth")
	if err != nil {
		t.Fatal(err)
	}
	cfg := `{"model": "vits", "speakers_file": "/home/trainer/run-May/speakers.json",
 "model_args": {"speakers_file": "speakers.json", "num_speakers": 2}, "output_path": "/home/trainer/run-May"}`
	for n, d := range map[string][]byte{"config.json": []byte(cfg), "model_file.pth": weights, "speakers.json": []byte(`{"a": 0, "b": 1}`)} {
		if err := os.WriteFile(filepath.Join(src, n), d, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pol, err := policy.Load(e.policy)
	if err != nil {
		t.Fatal(err)
	}
	r, err := pull.Pull(context.Background(), pull.Options{Policy: pol, Name: "trainer"}, []string{src})
	if err != nil {
		t.Fatalf("pull of a trainer's folder: %v", err)
	}
	var out bytes.Buffer
	if err := execRun(&out, io.Discard, "--policy", e.policy, "trainer", "--", "/bin/sh", "-c", "cat {config}"); err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(strings.ReplaceAll(cfg, `"/home/trainer/run-May/speakers.json"`, `"`+r.Dir+`/speakers.json"`),
		`"speakers_file": "speakers.json"`, `"speakers_file": "`+r.Dir+`/speakers.json"`)
	if out.String() != want {
		t.Errorf("config copy:\n%s\nwant:\n%s", out.String(), want)
	}
	if stored, _ := os.ReadFile(filepath.Join(r.Dir, "config.json")); string(stored) != cfg {
		t.Errorf("the stored config changed: %s", stored)
	}
	// tts-server gets the copy as --config_path.
	t.Setenv("PATH", filepath.Dir(e.script)+":/usr/bin:/bin")
	out.Reset()
	if err := execRun(&out, io.Discard, "--policy", e.policy, "--explain", "trainer", "--tts-server"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "--config_path <scratch>/ttsguard-config.json") || !strings.Contains(out.String(), "speakers_file -> "+r.Dir) {
		t.Errorf("explain:\n%s", out.String())
	}
}
